import { z } from 'zod';
import { zodDto } from '../common/dto.js';
import { isoTime, jsonObject, page } from '../common/schemas.js';
import { AuditQuery } from './audit.service.js';

export class AuditQueryDto extends zodDto(AuditQuery) {}

export const AuditEntry = z.object({
  id: z.number().int(),
  at: isoTime,
  actorType: z.string(),
  actorId: z.string().nullable(),
  actorName: z.string().nullable(),
  role: z.string().nullable(),
  action: z.string(),
  entityType: z.string(),
  entityId: z.string().nullable(),
  before: jsonObject.nullable(),
  after: jsonObject.nullable(),
  requestId: z.string().nullable(),
  ip: z.string().nullable(),
});

export class AuditPageDto extends zodDto(page(AuditEntry)) {}
