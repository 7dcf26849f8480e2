import { uuidv7 } from '@diad/protocol';
import { Inject, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../common/request-context.js';
import { Database } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';
import { type EvaluationReport, evidenceVerdict } from './evidence.js';

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

/** Evaluations of model versions on datasets, and the evidence rule a rollout may require. */
@Injectable()
export class EvaluationsService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
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
    datasetId: string,
  ): Promise<void> {
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
}
