import { uuidv7 } from '@diad/protocol';
import { Inject, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../common/request-context.js';
import { Database } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';
import { type EvaluationReport, evidenceVerdict, shadowEvidenceVerdict } from './evidence.js';
import { ShadowEvidenceService } from './shadow-evidence.service.js';

const rate = z.number().min(0).max(1);
export const CreateEvaluation = z
  .object({
    datasetId: z.string().uuid('expected a UUID'),
    report: z
      .object({
        auroc: rate,
        falseAlarmRate: rate,
        missedDefects: z.number().int().min(0),
        normals: z.number().int().min(0),
        defects: z.number().int().min(0),
        threshold: z.number().finite().optional(),
        msPerFrame: z.number().min(0).optional(),
        perStation: z.record(z.string().max(64), z.record(z.string().max(64), z.number())).optional(),
      })
      .strict(),
  })
  .strict();
export type CreateEvaluation = z.infer<typeof CreateEvaluation>;

type Db = Prisma.TransactionClient;

/**
 * What a rollout's evidence rests on: the candidate's evaluation on a dataset's validation split, or its shadow
 * results beside the models it would replace on the line's live parts (docs/lifecycle.md).
 */
export const RolloutEvidence = z
  .object({
    datasetId: z.string().uuid('expected a UUID').optional(),
    shadowRolloutId: z.string().uuid('expected a UUID').optional(),
    /** Shadow evidence: fewest labelled parts (OK + NOK) per replaced model. */
    minLabelled: z.number().int().min(0).max(1_000_000).default(1),
    /** Shadow evidence: optional floor on the share of parts where both models agree. */
    minAgreement: rate.optional(),
  })
  .strict()
  .refine(
    (e) => !e.datasetId !== !e.shadowRolloutId,
    'expected exactly one of datasetId and shadowRolloutId',
  );
export type RolloutEvidence = z.infer<typeof RolloutEvidence>;

/** Evaluations of model versions on datasets, and the evidence rule a rollout may require. */
@Injectable()
export class EvaluationsService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(ShadowEvidenceService) private readonly shadow: ShadowEvidenceService,
  ) {}

  async create(ctx: RequestContext, modelVersionId: string, input: CreateEvaluation) {
    const mv = await this.db.prisma.modelVersion.findUnique({ where: { id: modelVersionId } });
    if (!mv) throw new NotFoundException(`model version ${modelVersionId} not found`);
    const ds = await this.db.prisma.dataset.findUnique({ where: { id: input.datasetId } });
    if (!ds) throw new NotFoundException(`dataset ${input.datasetId} not found`);
    return this.db.prisma.$transaction(async (tx) => {
      const row = await tx.modelEvaluation.create({
        data: {
          id: uuidv7(),
          modelVersionId,
          datasetId: input.datasetId,
          report: input.report as Prisma.InputJsonValue,
          createdBy: ctx.principal.name,
        },
      });
      await this.audit.record(tx, ctx, {
        action: 'model.evaluate',
        entityType: 'model_version',
        entityId: modelVersionId,
        after: row,
      });
      return row;
    });
  }

  list(modelVersionId: string) {
    return this.db.prisma.modelEvaluation.findMany({
      where: { modelVersionId },
      orderBy: { createdAt: 'desc' },
    });
  }

  private async latest(db: Db, modelVersionId: string, datasetId: string): Promise<EvaluationReport | null> {
    const row = await db.modelEvaluation.findFirst({
      where: { modelVersionId, datasetId },
      orderBy: { createdAt: 'desc' },
    });
    return (row?.report as unknown as EvaluationReport) ?? null;
  }

  /**
   * Refuses (422, naming the numbers) a candidate that is not at least as good as each model it would replace,
   * on the dataset's validation set. Devices with no model yet have nothing to compare against.
   */
  async requireEvidence(
    db: Db,
    candidateId: string,
    replacedIds: string[],
    evidence: RolloutEvidence,
  ): Promise<void> {
    if (evidence.shadowRolloutId)
      return this.requireShadowEvidence(db, candidateId, replacedIds, evidence.shadowRolloutId, evidence);
    const datasetId = evidence.datasetId!;
    const cand = await this.latest(db, candidateId, datasetId);
    if (!cand)
      throw new UnprocessableEntityException(
        `evidence.datasetId: the candidate has no evaluation on dataset ${datasetId}; evaluate it first`,
      );
    for (const id of [...new Set(replacedIds)].filter((x) => x !== candidateId)) {
      const cur = await this.latest(db, id, datasetId);
      if (!cur)
        throw new UnprocessableEntityException(
          `evidence.datasetId: the model it would replace (${id}) has no evaluation on dataset ${datasetId}`,
        );
      const v = evidenceVerdict(cand, cur);
      if (!v.ok)
        throw new UnprocessableEntityException(
          `evidence: the candidate is worse on the line's evidence: ${v.reasons.join('; ')}`,
        );
    }
  }

  /**
   * Summarises the shadow rollout's live parts now (recorded as evaluations of both sides) and refuses (422, with
   * the numbers) unless, beside every model it would replace, the candidate has enough labelled parts, no higher
   * false-alarm rate on labelled-OK parts and no more missed defects on labelled-NOK parts.
   */
  private async requireShadowEvidence(
    db: Db,
    candidateId: string,
    replacedIds: string[],
    rolloutId: string,
    rule: RolloutEvidence,
  ): Promise<void> {
    const m = await this.shadow.measure(db, rolloutId);
    const rollout = await db.rollout.findUniqueOrThrow({ where: { id: rolloutId } });
    if (rollout.modelVersionId !== candidateId)
      throw new UnprocessableEntityException(
        `evidence.shadowRolloutId: rollout ${rolloutId} ran ${m.candidate} in shadow, not this candidate`,
      );
    const ids = [...new Set(replacedIds)].filter((x) => x !== candidateId);
    const replaced = await db.modelVersion.findMany({ where: { id: { in: ids } } });
    for (const r of replaced) {
      const ref = `${r.name}@${r.version}`;
      const c = m.comparisons.find((x) => x.activeModel === ref);
      if (!c)
        throw new UnprocessableEntityException(
          `evidence.shadowRolloutId: no shadow results of the candidate beside ${ref} in rollout ${rolloutId}`,
        );
      const v = shadowEvidenceVerdict(c, { minLabelled: rule.minLabelled, minAgreement: rule.minAgreement });
      if (!v.ok)
        throw new UnprocessableEntityException(
          `evidence: the candidate is worse on the line's shadow evidence: ${v.reasons.join('; ')}`,
        );
    }
  }
}
