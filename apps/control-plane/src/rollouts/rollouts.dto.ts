import { z } from 'zod';
import { zodDto } from '../common/dto.js';
import { isoTime } from '../common/schemas.js';
import { RolloutPolicy, Stage } from './policy.js';
import { CreateRollout, RolloutAction, RolloutQuery } from './rollouts.service.js';

export class CreateRolloutDto extends zodDto(CreateRollout) {}
/** The body is optional: no body is `{ force: false }`. */
export class RolloutActionDto extends zodDto(RolloutAction.default({ force: false })) {}
export class RolloutQueryDto extends zodDto(RolloutQuery) {}

const RolloutStatus = z.enum(['running', 'paused', 'completed', 'aborted', 'rolled_back']);
const DeviceState = z.enum([
  'waiting',
  'pending',
  'downloading',
  'active',
  'shadow',
  'failed',
  'rolled_back',
]);
const GroupStats = z.object({
  count: z.number(),
  nok: z.number(),
  meanScore: z.number().nullable(),
  stdScore: z.number().nullable(),
});

const RolloutSummary = z.object({
  id: z.string(),
  model: z.object({ name: z.string(), version: z.string(), sha256: z.string() }),
  mode: z.enum(['normal', 'shadow']),
  status: RolloutStatus,
  target: z.object({
    lines: z.array(z.string()),
    stations: z.array(z.string()),
    devices: z.array(z.string()),
  }),
  stages: z.array(Stage),
  /** As stored at creation: a rollout created before a policy setting existed lacks that setting. */
  policy: RolloutPolicy.partial(),
  currentStage: z.number().int(),
  stageStartedAt: isoTime,
  reason: z.string().nullable(),
  createdBy: z.string(),
  createdAt: isoTime,
  finishedAt: isoTime.nullable(),
  /** Devices per state. */
  counts: z.record(z.string(), z.number().int()),
});

const RolloutDetail = RolloutSummary.extend({
  devices: z.array(
    z.object({
      deviceId: z.string(),
      stage: z.number().int(),
      state: DeviceState,
      error: z.string().nullable(),
      assignedAt: isoTime.nullable(),
      activatedAt: isoTime.nullable(),
      updatedAt: isoTime,
    }),
  ),
  /** Candidate vs baseline (the models it replaces) on the assigned devices; null before any is assigned. */
  metrics: z.object({ candidate: GroupStats, baseline: GroupStats }).nullable(),
  /** What the policy would do now. */
  next: z.discriminatedUnion('action', [
    z.object({ action: z.literal('none'), why: z.string() }),
    z.object({ action: z.literal('promote') }),
    z.object({ action: z.literal('complete') }),
    z.object({ action: z.literal('rollback'), reason: z.string() }),
  ]),
});

export class RolloutDto extends zodDto(RolloutSummary) {}
export class RolloutDetailDto extends zodDto(RolloutDetail) {}
