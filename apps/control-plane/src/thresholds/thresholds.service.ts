import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../common/request-context.js';
import { CLOCK, type Clock } from '../common/tokens.js';
import { Database } from '../db/database.js';
import type { Prisma, ThresholdSet } from '../generated/prisma/client.js';
import type { ThresholdSetLike } from './resolve.js';

const finite = z.number().finite();
const code = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected a station code');
export const CreateThresholds = z
  .object({
    image: finite.nullable().default(null),
    pixel: finite.nullable().default(null),
    /** When the set takes effect; default now. Agents receive it once this time has passed. */
    effectiveFrom: z.string().datetime({ offset: true }).optional(),
    stationOverrides: z
      .record(
        code,
        z
          .object({
            image: finite.optional(),
            pixel: finite.optional(),
            categories: z.record(z.string().min(1).max(64), finite).optional(),
          })
          .strict(),
      )
      .default({}),
    categoryOverrides: z.record(z.string().min(1).max(64), finite).default({}),
    note: z.string().max(1000).optional(),
  })
  .strict();
export type CreateThresholds = z.infer<typeof CreateThresholds>;

/** Threshold sets per line: versioned, never edited, each with the time it takes effect. */
@Injectable()
export class ThresholdsService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(ctx: RequestContext, lineId: string, input: CreateThresholds) {
    return this.db.prisma.$transaction(async (tx) => {
      const line = await tx.line.findUnique({ where: { id: lineId } });
      if (!line) throw new NotFoundException(`line ${lineId} not found`);
      const before = await this.effectiveIn(tx, lineId, this.clock.now());
      const last = await tx.thresholdSet.findFirst({ where: { lineId }, orderBy: { version: 'desc' } });
      const row = await tx.thresholdSet.create({
        data: {
          lineId,
          version: (last?.version ?? 0) + 1,
          effectiveFrom: input.effectiveFrom ? new Date(input.effectiveFrom) : this.clock.now(),
          image: input.image,
          pixel: input.pixel,
          stationOverrides: input.stationOverrides as Prisma.InputJsonValue,
          categoryOverrides: input.categoryOverrides as Prisma.InputJsonValue,
          note: input.note ?? null,
          createdBy: ctx.principal.name,
        },
      });
      await this.audit.record(tx, ctx, {
        action: 'thresholds.create',
        entityType: 'line',
        entityId: lineId,
        before,
        after: row,
      });
      return row;
    });
  }

  list(lineId: string) {
    return this.db.prisma.thresholdSet.findMany({ where: { lineId }, orderBy: { version: 'desc' } });
  }

  effective(lineId: string, at: Date = this.clock.now()) {
    return this.effectiveIn(this.db.prisma, lineId, at);
  }

  private effectiveIn(client: Prisma.TransactionClient, lineId: string, at: Date) {
    return client.thresholdSet.findFirst({
      where: { lineId, effectiveFrom: { lte: at } },
      orderBy: [{ effectiveFrom: 'desc' }, { version: 'desc' }],
    });
  }
}

export function asThresholdSetLike(row: ThresholdSet | null): ThresholdSetLike | null {
  if (!row) return null;
  return {
    version: row.version,
    image: row.image,
    pixel: row.pixel,
    stationOverrides: row.stationOverrides as ThresholdSetLike['stationOverrides'],
    categoryOverrides: row.categoryOverrides as ThresholdSetLike['categoryOverrides'],
  };
}
