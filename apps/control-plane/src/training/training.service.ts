import { uuidv7 } from '@diad/protocol';
import {
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
  NotImplementedException,
  type OnModuleDestroy,
} from '@nestjs/common';
import type PgBoss from 'pg-boss';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../common/request-context.js';
import { CONFIG } from '../common/tokens.js';
import type { ControlPlaneConfig } from '../config.js';
import { Database } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';
import { bossSchema, openBoss, TRAINING_QUEUE, type TrainingQueueMessage } from './queue.js';

export const CreateTrainingJob = z
  .object({
    datasetId: z.string().uuid('expected a UUID'),
    /** The registered model's name; the version is chosen by the worker (next patch of the newest). */
    modelName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected lowercase letters, digits, ".", "_" or "-"'),
    config: z.enum(['micro', 'tiny', 'paper']).default('tiny'),
    /** Wall-clock budget for the three training stages. */
    maxMinutes: z
      .number()
      .min(0.1)
      .max(7 * 24 * 60)
      .default(60),
    imageSize: z.number().int().min(32).max(1024).optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(0),
  })
  .strict();
export type CreateTrainingJob = z.infer<typeof CreateTrainingJob>;

export const TrainingJobQuery = z.object({ lineId: z.string().uuid('expected a UUID') }).strict();

/** Training jobs: requested here, queued on PostgreSQL, executed by trainer workers (training/worker.ts). */
@Injectable()
export class TrainingService implements OnModuleDestroy {
  private boss: Promise<PgBoss> | null = null;

  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  private queue(): Promise<PgBoss> {
    if (this.db.kind !== 'postgres' || !this.config.databaseUrl)
      throw new NotImplementedException(
        'training jobs need PostgreSQL (DATABASE_URL): trainer workers take them from a queue in that database',
      );
    this.boss ??= openBoss(this.config.databaseUrl, bossSchema(this.config.databaseSchema));
    return this.boss;
  }

  async onModuleDestroy() {
    if (this.boss) await (await this.boss).stop({ graceful: false, wait: false }).catch(() => {});
  }

  async create(ctx: RequestContext, input: CreateTrainingJob) {
    const boss = await this.queue();
    const ds = await this.db.prisma.dataset.findUnique({ where: { id: input.datasetId } });
    if (!ds) throw new NotFoundException(`dataset ${input.datasetId} not found`);
    const id = uuidv7();
    const job = await this.db.prisma.$transaction(async (tx) => {
      const row = await tx.trainingJob.create({
        data: {
          id,
          lineId: ds.lineId,
          datasetId: ds.id,
          config: input as Prisma.InputJsonValue,
          status: 'queued',
          createdBy: ctx.principal.name,
        },
      });
      await this.audit.record(tx, ctx, {
        action: 'training.create',
        entityType: 'training_job',
        entityId: id,
        after: row,
      });
      return row;
    });
    return this.enqueue(boss, job.id);
  }

  private async enqueue(boss: PgBoss, id: string) {
    // No automatic retry: a failed run is resumed by a person (its checkpoint is kept by the worker).
    const queueJobId = await boss.send(TRAINING_QUEUE, { trainingJobId: id } satisfies TrainingQueueMessage, {
      retryLimit: 0,
      expireInSeconds: 60 * 60 * 23,
    });
    return this.db.prisma.trainingJob.update({ where: { id }, data: { queueJobId, status: 'queued' } });
  }

  list(lineId: string) {
    return this.db.prisma.trainingJob.findMany({
      where: { lineId },
      orderBy: { createdAt: 'desc' },
      take: 100,
    });
  }

  async get(id: string) {
    const j = await this.db.prisma.trainingJob.findUnique({ where: { id } });
    if (!j) throw new NotFoundException(`training job ${id} not found`);
    return j;
  }

  /** Cancels a queued or running job; a running worker notices within seconds and stops its tools. */
  async cancel(ctx: RequestContext, id: string) {
    const boss = await this.queue();
    const j = await this.get(id);
    if (!['queued', 'running'].includes(j.status))
      throw new ConflictException(
        `training job ${id} is ${j.status}; only queued or running jobs can be cancelled`,
      );
    if (j.queueJobId) await boss.cancel(TRAINING_QUEUE, j.queueJobId).catch(() => {});
    const row = await this.db.prisma.trainingJob.update({ where: { id }, data: { status: 'cancelled' } });
    await this.audit.record(undefined, ctx, {
      action: 'training.cancel',
      entityType: 'training_job',
      entityId: id,
      before: j,
      after: row,
    });
    return row;
  }

  /** Queues a failed or cancelled job again; the worker continues from the run's last checkpoint. */
  async resume(ctx: RequestContext, id: string) {
    const boss = await this.queue();
    const j = await this.get(id);
    if (!['failed', 'cancelled'].includes(j.status))
      throw new ConflictException(
        `training job ${id} is ${j.status}; only failed or cancelled jobs can be resumed`,
      );
    const row = await this.enqueue(boss, id);
    await this.audit.record(undefined, ctx, {
      action: 'training.resume',
      entityType: 'training_job',
      entityId: id,
      before: j,
      after: row,
    });
    return row;
  }
}
