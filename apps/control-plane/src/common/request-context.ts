import type { Request } from 'express';
import type { Role } from '../generated/prisma/enums.js';

export interface Principal {
  kind: 'user' | 'apikey' | 'device' | 'system';
  id: string;
  name: string;
  role: Role | 'system';
  /** Set for devices: the device's own id (a device reaches only its own resources). */
  deviceId?: string;
}

/** Who is asking, and for which request; passed explicitly to every service that mutates. */
export interface RequestContext {
  principal: Principal;
  requestId: string | null;
  ip: string | null;
}

export const SYSTEM_CONTEXT: RequestContext = {
  principal: { kind: 'system', id: 'system', name: 'control-plane', role: 'system' },
  requestId: null,
  ip: null,
};

export type AppRequest = Request & { principal?: Principal; requestId?: string };

export function contextOf(req: AppRequest): RequestContext {
  if (!req.principal) throw new Error('contextOf: request has no principal (route is missing a role guard)');
  return { principal: req.principal, requestId: req.requestId ?? null, ip: req.ip ?? null };
}
