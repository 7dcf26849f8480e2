import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { toPlain } from '../common/json.js';
import type { RequestContext } from '../common/request-context.js';
import { Database } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';

export interface AuditEntry {
  action: string;
  entityType: string;
  entityId?: string | null;
  before?: unknown;
  after?: unknown;
}

type Tx = Prisma.TransactionClient;

export const AuditQuery = z.object({
  entityType: z.string().max(64).optional(),
  entityId: z.string().max(128).optional(),
  actorId: z.string().max(128).optional(),
  action: z.string().max(64).optional(),
  from: z.string().datetime({ offset: true }).optional(),
  to: z.string().datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** The id of the last row of the previous page. */
  cursor: z
    .string()
    .regex(/^\d{1,19}$/, 'expected a row id')
    // zod runs the refinement even after the regex failed: test the digits again before BigInt.
    .refine(
      (c) => /^\d{1,19}$/.test(c) && BigInt(c) <= 9223372036854775807n,
      'expected a row id (beyond int8)',
    )
    .optional(),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

/** The append-only audit log: every mutation, who made it, before and after, and the request that did it. */
@Injectable()
export class AuditService {
  constructor(@Inject(Database) private readonly db: Database) {}

  /** Writes one entry; pass the transaction client so the entry commits or rolls back with the change. */
  async record(tx: Tx | undefined, ctx: RequestContext, e: AuditEntry): Promise<void> {
    const client = tx ?? this.db.prisma;
    await client.auditLog.create({
      data: {
        actorType: ctx.principal.kind,
        actorId: ctx.principal.id,
        actorName: ctx.principal.name,
        role: ctx.principal.role,
        action: e.action,
        entityType: e.entityType,
        entityId: e.entityId ?? null,
        before:
          e.before === undefined || e.before === null
            ? undefined
            : (toPlain(e.before) as Prisma.InputJsonValue),
        after:
          e.after === undefined || e.after === null ? undefined : (toPlain(e.after) as Prisma.InputJsonValue),
        requestId: ctx.requestId,
        ip: ctx.ip,
      },
    });
  }

  async query(q: AuditQuery) {
    const rows = await this.db.prisma.auditLog.findMany({
      where: {
        entityType: q.entityType,
        entityId: q.entityId,
        actorId: q.actorId,
        action: q.action,
        at:
          q.from || q.to
            ? { gte: q.from ? new Date(q.from) : undefined, lt: q.to ? new Date(q.to) : undefined }
            : undefined,
        id: q.cursor ? { lt: BigInt(q.cursor) } : undefined,
      },
      orderBy: { id: 'desc' },
      take: q.limit,
    });
    const items = toPlain(rows) as Array<{ id: number }>;
    return { items, nextCursor: rows.length === q.limit ? String(rows[rows.length - 1].id) : null };
  }
}
