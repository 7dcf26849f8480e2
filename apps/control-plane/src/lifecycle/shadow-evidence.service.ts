import { uuidv7 } from '@diad/protocol';
import { Inject, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { type RequestContext, SYSTEM_CONTEXT } from '../common/request-context.js';
import { Database } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';
import { type ShadowComparison, type ShadowCounts, summariseShadow } from './evidence.js';

type Db = Prisma.TransactionClient;

/**
 * The shadow rollout's parts, counted in PostgreSQL: results of the rollout's devices since it started that carry
 * both the active verdict and the candidate's shadow verdict, by active model and by the part's current label.
 */
const COUNTS_SQL = `
SELECT r.model_name || '@' || r.model_version AS "activeModel",
       CASE WHEN l.label IN ('confirmed_ok', 'false_alarm') THEN 'normal'
            WHEN l.label IN ('confirmed_defect', 'missed_defect') THEN 'defect' END AS truth,
       count(*)::int AS parts,
       count(*) FILTER (WHERE r.verdict = r.shadow_verdict)::int AS agree,
       count(*) FILTER (WHERE r.verdict = 'NOK')::int AS "activeNok",
       count(*) FILTER (WHERE r.shadow_verdict = 'NOK')::int AS "candidateNok"
  FROM results r
  LEFT JOIN LATERAL (
    SELECT label FROM result_labels x WHERE x.result_id = r.result_id ORDER BY version DESC LIMIT 1
  ) l ON true
 WHERE r.shadow_model_version = $1
   AND r.inspected_at >= $2::timestamptz
   AND r.device_id IN (SELECT rd.device_id::text FROM rollout_devices rd WHERE rd.rollout_id = $3::uuid)
   AND r.verdict IS NOT NULL AND r.shadow_verdict IS NOT NULL AND r.model_name IS NOT NULL
 GROUP BY 1, 2`;

export interface ShadowEvaluation {
  rolloutId: string;
  candidate: string;
  comparisons: ShadowComparison[];
}

/** Shadow results summarised into evaluations of the candidate and of each model it ran beside. */
@Injectable()
export class ShadowEvidenceService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  /**
   * Summarises the shadow rollout's live parts and records them as evaluations (source "shadow"): one of the
   * candidate and one of each active model, on the same parts, so both sides of the evidence are kept.
   */
  async measure(db: Db, rolloutId: string, ctx: RequestContext = SYSTEM_CONTEXT): Promise<ShadowEvaluation> {
    const rollout = await db.rollout.findUnique({
      where: { id: rolloutId },
      include: { modelVersion: true },
    });
    if (!rollout) throw new NotFoundException(`rollout ${rolloutId} not found`);
    if (rollout.mode !== 'shadow')
      throw new UnprocessableEntityException(
        `rollout ${rolloutId} is a ${rollout.mode} rollout; shadow evidence comes from a shadow rollout`,
      );
    const cand = rollout.modelVersion;
    const candidate = `${cand.name}@${cand.version}`;
    const rows = await db.$queryRawUnsafe<ShadowCounts[]>(
      COUNTS_SQL,
      candidate,
      rollout.createdAt,
      rolloutId,
    );
    const comparisons = summariseShadow(rows);
    const actives = await db.modelVersion.findMany({
      where: {
        OR: comparisons.map((c) => {
          const at = c.activeModel.lastIndexOf('@');
          return { name: c.activeModel.slice(0, at), version: c.activeModel.slice(at + 1) };
        }),
      },
    });
    const byRef = new Map(actives.map((m) => [`${m.name}@${m.version}`, m.id]));
    const base = (c: ShadowComparison, against: string) => ({
      source: 'shadow',
      against,
      parts: c.parts,
      agreementRate: c.agreementRate,
      normals: c.normals,
      defects: c.defects,
    });
    for (const c of comparisons) {
      const records: Array<[string, Record<string, unknown>]> = [
        [cand.id, { ...base(c, c.activeModel), ...c.candidate }],
      ];
      const activeId = byRef.get(c.activeModel);
      if (activeId) records.push([activeId, { ...base(c, candidate), ...c.active }]);
      for (const [modelVersionId, report] of records) {
        const row = await db.modelEvaluation.create({
          data: {
            id: uuidv7(),
            modelVersionId,
            shadowRolloutId: rolloutId,
            report: report as Prisma.InputJsonValue,
            createdBy: ctx.principal.name,
          },
        });
        await this.audit.record(db, ctx, {
          action: 'model.evaluate',
          entityType: 'model_version',
          entityId: modelVersionId,
          after: row,
        });
      }
    }
    return { rolloutId, candidate, comparisons };
  }

  /** `measure` in its own transaction (the API's "summarise now"). */
  measureNow(ctx: RequestContext, rolloutId: string): Promise<ShadowEvaluation> {
    return this.db.prisma.$transaction((tx) => this.measure(tx, rolloutId, ctx));
  }
}
