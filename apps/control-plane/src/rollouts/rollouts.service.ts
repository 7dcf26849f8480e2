import type { Heartbeat } from '@diad/protocol';
import {
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import type { Logger } from '../common/logger.js';
import { Metrics } from '../common/metrics.js';
import { type RequestContext, SYSTEM_CONTEXT } from '../common/request-context.js';
import { CLOCK, type Clock, LOGGER } from '../common/tokens.js';
import { Database } from '../db/database.js';
import type { Prisma, Rollout, RolloutDevice } from '../generated/prisma/client.js';
import type { RolloutDeviceState } from '../generated/prisma/enums.js';
import { EvaluationsService, RolloutEvidence } from '../lifecycle/evaluations.service.js';
import { decide, type GroupStats, RolloutPolicy, Stage, stageSizes } from './policy.js';

type Tx = Prisma.TransactionClient;

export const RolloutTarget = z
  .object({
    lines: z.array(z.string().uuid()).default([]),
    stations: z.array(z.string().uuid()).default([]),
    devices: z.array(z.string().uuid()).default([]),
  })
  .strict()
  .refine(
    (t) => t.lines.length + t.stations.length + t.devices.length > 0,
    'expected at least one line, station or device',
  );

export const CreateRollout = z
  .object({
    model: z.object({ name: z.string().min(1), version: z.string().min(1) }).strict(),
    mode: z.enum(['normal', 'shadow']).default('normal'),
    target: RolloutTarget,
    stages: z
      .array(Stage)
      .min(1)
      .max(20)
      .default([{ percent: 100 }]),
    policy: RolloutPolicy.default(RolloutPolicy.parse({})),
    /** Allow a deprecated model. */
    force: z.boolean().default(false),
    /**
     * Require the candidate to be at least as good as every model it would replace on this dataset's
     * validation set (AUROC and false-alarm rate), or beside them on a shadow rollout's live parts (docs/lifecycle.md).
     */
    evidence: RolloutEvidence.optional(),
    /**
     * Roll out only a bundle that carries an accelerator variant for this provider (and GPU compute capability),
     * e.g. TensorRT engines built ahead of time for the fleet's GPUs (docs/bundle.md, "Variants").
     */
    requireVariant: z
      .object({
        provider: z.enum(['tensorrt', 'cuda', 'webgpu']),
        computeCapability: z
          .string()
          .regex(/^\d+\.\d+$/, 'expected a compute capability like 8.9')
          .optional(),
      })
      .strict()
      .optional(),
    reason: z.string().max(1000).optional(),
  })
  .strict();
export type CreateRollout = z.infer<typeof CreateRollout>;
export const RolloutAction = z
  .object({ reason: z.string().max(1000).optional(), force: z.boolean().default(false) })
  .strict();
export const RolloutQuery = z.object({
  status: z.enum(['running', 'paused', 'completed', 'aborted', 'rolled_back']).optional(),
});

const LIVE: Array<Rollout['status']> = ['running', 'paused'];

/** Staged rollouts of a model version across devices, driven by agent reports and result metrics. */
@Injectable()
export class RolloutsService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(EvaluationsService) private readonly evaluations: EvaluationsService,
  ) {}

  async create(ctx: RequestContext, input: CreateRollout) {
    const now = this.clock.now();
    const id = await this.db.prisma.$transaction(async (tx) => {
      const model = await tx.modelVersion.findUnique({
        where: { name_version: { name: input.model.name, version: input.model.version } },
      });
      if (!model) throw new NotFoundException(`model ${input.model.name}@${input.model.version} not found`);
      if (model.status === 'retired')
        throw new UnprocessableEntityException('model: retired versions cannot be rolled out');
      if (input.requireVariant) {
        const want = input.requireVariant;
        const variants = (
          (model.manifest as { variants?: Array<Record<string, unknown>> }).variants ?? []
        ).filter(
          (v) =>
            v.provider === want.provider &&
            (want.computeCapability === undefined || v.computeCapability === want.computeCapability),
        );
        if (variants.length === 0)
          throw new UnprocessableEntityException(
            `requireVariant: ${model.name}@${model.version} has no ${want.provider} variant${want.computeCapability ? ` for compute capability ${want.computeCapability}` : ''}`,
          );
      }
      if (model.status === 'deprecated' && !input.force) {
        throw new UnprocessableEntityException('model: deprecated; pass force: true to roll it out anyway');
      }
      const devices = await tx.device.findMany({
        where: {
          disabled: false,
          OR: [
            { id: { in: input.target.devices } },
            { stationId: { in: input.target.stations } },
            { station: { lineId: { in: input.target.lines } } },
          ],
        },
        orderBy: { id: 'asc' },
      });
      if (devices.length === 0) throw new UnprocessableEntityException('target: matches no enabled device');
      if (input.evidence) {
        const replaced = devices.map((d) => d.desiredModelVersionId).filter((x): x is string => !!x);
        await this.evaluations.requireEvidence(tx, model.id, replaced, input.evidence);
      }
      const busy = await tx.rolloutDevice.findMany({
        where: { deviceId: { in: devices.map((d) => d.id) }, rollout: { status: { in: LIVE } } },
        select: { deviceId: true, rolloutId: true },
      });
      if (busy.length > 0) {
        throw new ConflictException(
          `${busy.length} target device(s) are in live rollout ${busy[0].rolloutId}; finish, abort or roll it back first`,
        );
      }
      const sizes = stageSizes(devices.length, input.stages);
      const rollout = await tx.rollout.create({
        data: {
          modelVersionId: model.id,
          mode: input.mode,
          target: input.target,
          stages: input.stages,
          policy: input.policy,
          reason: input.reason ?? null,
          createdBy: ctx.principal.name,
          stageStartedAt: now,
        },
      });
      await tx.rolloutDevice.createMany({
        data: devices.map((d, i) => ({
          rolloutId: rollout.id,
          deviceId: d.id,
          stage: sizes.findIndex((s) => i < s),
        })),
      });
      await this.assignStage(tx, rollout, 0, now);
      await this.audit.record(tx, ctx, {
        action: 'rollout.create',
        entityType: 'rollout',
        entityId: rollout.id,
        after: {
          ...rollout,
          devices: devices.length,
          stageSizes: sizes,
          model: `${model.name}@${model.version}`,
        },
      });
      return rollout.id;
    });
    this.metrics.rolloutActions.inc({ action: 'create' });
    return this.get(id);
  }

  /** Points the desired state of the stage's devices at the candidate and remembers what they had before. */
  /**
   * Assigns every device of `stage`: remembers what each ran before and points its desired state at the rollout's
   * model. Two set-based statements whatever the stage size (a per-device loop of 2 round trips each outran the
   * interactive transaction's time limit at a few hundred devices).
   */
  private async assignStage(tx: Tx, rollout: Rollout, stage: number, now: Date): Promise<void> {
    await tx.$executeRawUnsafe(
      `UPDATE "rollout_devices" rd
          SET "state" = 'pending'::"RolloutDeviceState",
              "previous_model_version_id" = d."desired_model_version_id",
              "previous_shadow_version_id" = d."shadow_model_version_id",
              "assigned_at" = $3::timestamptz,
              "updated_at" = $3::timestamptz
         FROM "devices" d
        WHERE rd."rollout_id" = $1::uuid AND rd."stage" = $2 AND d."id" = rd."device_id"`,
      rollout.id,
      stage,
      now.toISOString(),
    );
    const column = rollout.mode === 'shadow' ? 'shadow_model_version_id' : 'desired_model_version_id';
    await tx.$executeRawUnsafe(
      `UPDATE "devices"
          SET "${column}" = $3::uuid,
              "desired_rollout_id" = $1::uuid,
              "desired_revision" = "desired_revision" + 1
        WHERE "id" IN (SELECT "device_id" FROM "rollout_devices" WHERE "rollout_id" = $1::uuid AND "stage" = $2)`,
      rollout.id,
      stage,
      rollout.modelVersionId,
    );
  }

  async list(q: z.infer<typeof RolloutQuery>) {
    const rows = await this.db.prisma.rollout.findMany({
      where: { status: q.status },
      orderBy: { createdAt: 'desc' },
      include: { modelVersion: true, devices: { select: { state: true, stage: true } } },
      take: 200,
    });
    return rows.map((r) => ({ ...this.summary(r), counts: countStates(r.devices) }));
  }

  async get(id: string) {
    const r = await this.db.prisma.rollout.findUnique({
      where: { id },
      include: { modelVersion: true, devices: { orderBy: [{ stage: 'asc' }, { deviceId: 'asc' }] } },
    });
    if (!r) throw new NotFoundException(`rollout ${id} not found`);
    const metrics = await this.metricsOf(r, r.devices);
    const decision = decide(this.decideInput(r, r.devices, metrics));
    return {
      ...this.summary(r),
      counts: countStates(r.devices),
      devices: r.devices.map((d) => ({
        deviceId: d.deviceId,
        stage: d.stage,
        state: d.state,
        error: d.error,
        assignedAt: d.assignedAt,
        activatedAt: d.activatedAt,
        updatedAt: d.updatedAt,
      })),
      metrics,
      next: decision,
    };
  }

  private summary(r: Rollout & { modelVersion: { name: string; version: string; sha256: string } }) {
    return {
      id: r.id,
      model: { name: r.modelVersion.name, version: r.modelVersion.version, sha256: r.modelVersion.sha256 },
      mode: r.mode,
      status: r.status,
      target: r.target,
      stages: r.stages,
      policy: r.policy,
      currentStage: r.currentStage,
      stageStartedAt: r.stageStartedAt,
      reason: r.reason,
      createdBy: r.createdBy,
      createdAt: r.createdAt,
      finishedAt: r.finishedAt,
    };
  }

  async promote(ctx: RequestContext, id: string, force = false) {
    await this.transition(ctx, id, 'promote', async (tx, r, devices, now) => {
      if (r.status !== 'running')
        throw new ConflictException(`rollout is ${r.status}; only a running rollout is promoted`);
      const stages = r.stages as Stage[];
      if (r.currentStage >= stages.length - 1)
        throw new ConflictException('rollout is already at its last stage');
      const target = r.mode === 'shadow' ? 'shadow' : 'active';
      const notReady = devices.filter((d) => d.stage <= r.currentStage && d.state !== target).length;
      if (notReady > 0 && !force) {
        throw new ConflictException(
          `${notReady} device(s) of stage ${r.currentStage} are not ${target}; pass force: true`,
        );
      }
      await this.assignStage(tx, r, r.currentStage + 1, now);
      return { currentStage: r.currentStage + 1, stageStartedAt: now };
    });
    return this.get(id);
  }

  async pause(ctx: RequestContext, id: string) {
    await this.transition(ctx, id, 'pause', async (_tx, r) => {
      if (r.status !== 'running')
        throw new ConflictException(`rollout is ${r.status}; only a running rollout pauses`);
      return { status: 'paused' };
    });
    return this.get(id);
  }

  async resume(ctx: RequestContext, id: string) {
    await this.transition(ctx, id, 'resume', async (_tx, r) => {
      if (r.status !== 'paused')
        throw new ConflictException(`rollout is ${r.status}; only a paused rollout resumes`);
      return { status: 'running' };
    });
    return this.get(id);
  }

  /** Stops the rollout: devices that have not activated the candidate go back; activated ones keep it. */
  async abort(ctx: RequestContext, id: string, reason?: string) {
    await this.transition(ctx, id, 'abort', async (tx, r, devices, now) => {
      if (!LIVE.includes(r.status))
        throw new ConflictException(`rollout is ${r.status}; it cannot be aborted`);
      const revert = devices.filter(
        (d) => d.assignedAt && ['pending', 'downloading', 'failed'].includes(d.state),
      );
      await this.revert(tx, r, revert, now);
      return { status: 'aborted', finishedAt: now, reason: reason ?? r.reason };
    });
    return this.get(id);
  }

  /** Every device the rollout changed goes back to the model it had before (if nothing else changed it since). */
  async rollback(ctx: RequestContext, id: string, reason?: string) {
    await this.transition(ctx, id, 'rollback', async (tx, r, devices, now) => {
      if (r.status === 'rolled_back' || r.status === 'aborted') {
        throw new ConflictException(`rollout is ${r.status}; nothing to roll back`);
      }
      await this.revert(
        tx,
        r,
        devices.filter((d) => d.assignedAt && d.state !== 'rolled_back'),
        now,
      );
      return { status: 'rolled_back', finishedAt: now, reason: reason ?? r.reason };
    });
    return this.get(id);
  }

  /** Set-based, like assignStage: a fleet-wide rollback is three statements, not three per device. */
  private async revert(tx: Tx, r: Rollout, rds: RolloutDevice[], now: Date): Promise<void> {
    if (rds.length === 0) return;
    const ids = rds.map((rd) => rd.deviceId);
    const [column, previous] =
      r.mode === 'shadow'
        ? ['shadow_model_version_id', 'previous_shadow_version_id']
        : ['desired_model_version_id', 'previous_model_version_id'];
    // Only devices still pointing at this rollout's model go back (nothing else changed them since).
    await tx.$executeRawUnsafe(
      `UPDATE "devices" d
          SET "${column}" = rd."${previous}",
              "desired_rollout_id" = $1::uuid,
              "desired_revision" = d."desired_revision" + 1
         FROM "rollout_devices" rd
        WHERE rd."rollout_id" = $1::uuid AND rd."device_id" = d."id" AND d."id" = ANY($2::uuid[])
          AND d."${column}" = $3::uuid`,
      r.id,
      ids,
      r.modelVersionId,
    );
    await tx.$executeRawUnsafe(
      `UPDATE "rollout_devices" SET "state" = 'rolled_back'::"RolloutDeviceState", "updated_at" = $3::timestamptz
        WHERE "rollout_id" = $1::uuid AND "device_id" = ANY($2::uuid[])`,
      r.id,
      ids,
      now.toISOString(),
    );
  }

  private async transition(
    ctx: RequestContext,
    id: string,
    action: string,
    fn: (tx: Tx, r: Rollout, devices: RolloutDevice[], now: Date) => Promise<Prisma.RolloutUpdateInput>,
  ): Promise<void> {
    const now = this.clock.now();
    await this.db.prisma.$transaction(async (tx) => {
      const r = await tx.rollout.findUnique({ where: { id } });
      if (!r) throw new NotFoundException(`rollout ${id} not found`);
      const devices = await tx.rolloutDevice.findMany({ where: { rolloutId: id } });
      const data = await fn(tx, r, devices, now);
      const after = await tx.rollout.update({ where: { id }, data });
      await this.audit.record(tx, ctx, {
        action: `rollout.${action}`,
        entityType: 'rollout',
        entityId: id,
        before: { status: r.status, currentStage: r.currentStage },
        after: { status: after.status, currentStage: after.currentStage, reason: after.reason },
      });
    });
    this.metrics.rolloutActions.inc({ action });
    this.log.info({ rolloutId: id, action, by: ctx.principal.name }, 'rollout transition');
  }

  /** Applies a device's model reports (from its heartbeat) to the rollouts they belong to. */
  async onReports(
    deviceId: string,
    reports: Heartbeat['modelReports'],
    fallbackRolloutId: string | null,
  ): Promise<void> {
    const touched = new Set<string>();
    const now = this.clock.now();
    for (const rep of reports) {
      const rolloutId = rep.rolloutId ?? fallbackRolloutId;
      if (!rolloutId) continue;
      const rd = await this.db.prisma.rolloutDevice.findUnique({
        where: { rolloutId_deviceId: { rolloutId, deviceId } },
        include: { rollout: { include: { modelVersion: true } } },
      });
      if (!rd?.assignedAt || !LIVE.includes(rd.rollout.status) || rd.state === 'rolled_back') continue;
      if (rd.rollout.modelVersion.sha256 !== rep.model.sha256) continue;
      const state = mapReport(rd.rollout.mode, rep.state);
      if (!state || state === rd.state) continue;
      const reached = state === 'active' || state === 'shadow';
      await this.db.prisma.$transaction(async (tx) => {
        await tx.rolloutDevice.update({
          where: { rolloutId_deviceId: { rolloutId, deviceId } },
          data: { state, error: rep.error, updatedAt: now, activatedAt: reached ? now : rd.activatedAt },
        });
        await this.audit.record(
          tx,
          {
            principal: { kind: 'device', id: deviceId, name: deviceId, role: 'device', deviceId },
            requestId: null,
            ip: null,
          },
          {
            action: 'rollout.device-state',
            entityType: 'rollout',
            entityId: rolloutId,
            before: { deviceId, state: rd.state },
            after: { deviceId, state, error: rep.error },
          },
        );
      });
      touched.add(rolloutId);
    }
    for (const id of touched) await this.evaluate(id);
  }

  /** Runs the policy for one rollout and carries out its decision (as the system actor). */
  async evaluate(id: string): Promise<string> {
    const r = await this.db.prisma.rollout.findUnique({
      where: { id },
      include: { modelVersion: true, devices: true },
    });
    if (r?.status !== 'running') return 'none';
    const metrics = await this.metricsOf(r, r.devices);
    const d = decide(this.decideInput(r, r.devices, metrics));
    const ctx = SYSTEM_CONTEXT;
    try {
      if (d.action === 'rollback') await this.rollback(ctx, id, `automatic: ${d.reason}`);
      else if (d.action === 'promote') await this.promote(ctx, id);
      else if (d.action === 'complete') {
        await this.transition(ctx, id, 'complete', async () => ({
          status: 'completed',
          finishedAt: this.clock.now(),
        }));
      }
    } catch (e) {
      // Another replica or a user acted first; the next evaluation sees the new state.
      if (!(e instanceof ConflictException)) throw e;
    }
    return d.action;
  }

  /** Evaluates every running rollout (timer-driven: bake times pass without any report arriving). */
  async tick(): Promise<void> {
    const running = await this.db.prisma.rollout.findMany({
      where: { status: 'running' },
      select: { id: true },
    });
    for (const r of running) {
      try {
        await this.evaluate(r.id);
      } catch (e) {
        this.log.error({ err: e, rolloutId: r.id }, 'rollout evaluation failed');
      }
    }
  }

  private decideInput(
    r: Rollout,
    devices: RolloutDevice[],
    metrics: { candidate: GroupStats; baseline: GroupStats } | null,
  ) {
    return {
      mode: r.mode,
      status: r.status,
      currentStage: r.currentStage,
      stageCount: (r.stages as Stage[]).length,
      policy: RolloutPolicy.parse(r.policy),
      devices: devices.map((d) => ({ stage: d.stage, state: d.state, activatedAt: d.activatedAt })),
      metrics,
      now: this.clock.now(),
    };
  }

  /** Candidate vs baseline from stored results (normal: previous model on the target; shadow: same frames). */
  private async metricsOf(
    r: Rollout & { modelVersion: { version: string; sha256: string; name: string } },
    devices: RolloutDevice[],
  ): Promise<{ candidate: GroupStats; baseline: GroupStats } | null> {
    const policy = RolloutPolicy.parse(r.policy);
    const assigned = JSON.stringify(devices.filter((d) => d.assignedAt).map((d) => d.deviceId));
    const all = JSON.stringify(devices.map((d) => d.deviceId));
    if (assigned === '[]') return null;
    const q = async (sql: string, ...params: unknown[]) => {
      const rows = await this.db.prisma.$queryRawUnsafe<
        Array<{ n: number; nok: number; mean: number | null; std: number | null }>
      >(sql, ...params);
      const x = rows[0];
      return {
        count: Number(x.n),
        nok: Number(x.nok),
        meanScore: x.mean === null ? null : Number(x.mean),
        stdScore: x.std === null ? null : Number(x.std),
      };
    };
    const inList = (p: string) => `device_id IN (SELECT jsonb_array_elements_text(${p}::jsonb))`;
    if (r.mode === 'shadow') {
      const where = `${inList('$1')} AND shadow_model_version = $2 AND inspected_at >= $3 AND shadow_score IS NOT NULL`;
      const candidate = await q(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE shadow_verdict = 'NOK')::int AS nok,
                avg(shadow_score) AS mean, stddev_samp(shadow_score) AS std FROM results WHERE ${where}`,
        assigned,
        `${r.modelVersion.name}@${r.modelVersion.version}`,
        r.createdAt,
      );
      const baseline = await q(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE verdict = 'NOK')::int AS nok,
                avg(score) AS mean, stddev_samp(score) AS std FROM results WHERE ${where}`,
        assigned,
        `${r.modelVersion.name}@${r.modelVersion.version}`,
        r.createdAt,
      );
      return { candidate, baseline };
    }
    const candidate = await q(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE verdict = 'NOK')::int AS nok,
              avg(score) AS mean, stddev_samp(score) AS std
         FROM results WHERE ${inList('$1')} AND model_sha256 = $2 AND inspected_at >= $3 AND state IN ('ok', 'nok')`,
      assigned,
      r.modelVersion.sha256,
      r.createdAt,
    );
    const baseline = await q(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE verdict = 'NOK')::int AS nok,
              avg(score) AS mean, stddev_samp(score) AS std
         FROM results WHERE ${inList('$1')} AND model_sha256 IS NOT NULL AND model_sha256 <> $2
          AND inspected_at >= $3 AND state IN ('ok', 'nok')`,
      all,
      r.modelVersion.sha256,
      new Date(r.createdAt.getTime() - policy.baselineHours * 3600_000),
    );
    return { candidate, baseline };
  }
}

function mapReport(mode: Rollout['mode'], reported: string): RolloutDeviceState | null {
  if (reported === 'failed') return 'failed';
  if (reported === 'downloading' || reported === 'pending') return reported;
  if (mode === 'shadow') return reported === 'shadow' || reported === 'active' ? 'shadow' : null;
  return reported === 'active' ? 'active' : null;
}

function countStates(devices: Array<{ state: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of devices) out[d.state] = (out[d.state] ?? 0) + 1;
  return out;
}
