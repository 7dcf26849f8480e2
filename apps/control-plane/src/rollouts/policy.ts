import { z } from 'zod';

export const RolloutPolicy = z
  .object({
    /** `auto`: promote when every device of the stage is active and `bakeSeconds` passed; `manual`: wait for a user. */
    promotion: z.enum(['manual', 'auto']).default('manual'),
    bakeSeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86400)
      .default(300),
    autoRollback: z.boolean().default(true),
    /** Roll back when more than this share of the devices assigned so far failed to activate. */
    maxFailureRatio: z.number().min(0).max(1).default(0),
    /** Roll back when the candidate's NOK rate exceeds the baseline's by more than this (absolute, 0..1). */
    maxNokRateDelta: z.number().min(0).max(1).nullable().default(null),
    /** Roll back when |mean score − baseline mean| exceeds this many baseline standard deviations. */
    maxScoreShift: z.number().positive().nullable().default(null),
    /** Results needed on both sides before the drift checks judge. */
    minResults: z.number().int().min(1).max(1_000_000).default(50),
    /** How far before the rollout started the baseline (previous model) window reaches. */
    baselineHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 90)
      .default(24),
  })
  .strict();
export type RolloutPolicy = z.infer<typeof RolloutPolicy>;

export const Stage = z.union([
  z.object({ percent: z.number().gt(0).max(100) }).strict(),
  z.object({ count: z.number().int().min(1) }).strict(),
]);
export type Stage = z.infer<typeof Stage>;

export interface GroupStats {
  count: number;
  nok: number;
  meanScore: number | null;
  stdScore: number | null;
}

export interface DeviceProgress {
  stage: number;
  state: 'waiting' | 'pending' | 'downloading' | 'active' | 'shadow' | 'failed' | 'rolled_back';
  activatedAt: Date | null;
}

export interface DecideInput {
  mode: 'normal' | 'shadow';
  status: 'running' | 'paused' | 'completed' | 'aborted' | 'rolled_back';
  currentStage: number;
  stageCount: number;
  policy: RolloutPolicy;
  devices: DeviceProgress[];
  metrics: { candidate: GroupStats; baseline: GroupStats } | null;
  now: Date;
}

export type Decision =
  | { action: 'none'; why: string }
  | { action: 'promote' }
  | { action: 'complete' }
  | { action: 'rollback'; reason: string };

/** Cumulative device counts per stage for `n` devices; the last stage always reaches every device. */
export function stageSizes(n: number, stages: Stage[]): number[] {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`stageSizes: n: expected a positive integer, got ${n}`);
  if (stages.length === 0) throw new RangeError('stageSizes: stages: expected at least one stage');
  const out: number[] = [];
  let prev = 0;
  for (const s of stages) {
    const want = 'count' in s ? s.count : Math.ceil((s.percent / 100) * n);
    const size = Math.min(n, Math.max(prev, want, 1));
    out.push(size);
    prev = size;
  }
  out[out.length - 1] = n;
  return out;
}

/** Drift of the candidate against the baseline, or null while either side has too few results. */
export function drift(
  m: { candidate: GroupStats; baseline: GroupStats },
  policy: RolloutPolicy,
): { nokDelta: number; scoreShift: number | null } | null {
  const { candidate: c, baseline: b } = m;
  if (c.count < policy.minResults || b.count < policy.minResults) return null;
  const nokDelta = c.nok / c.count - b.nok / b.count;
  let scoreShift: number | null = null;
  if (c.meanScore !== null && b.meanScore !== null) {
    const std = Math.max(b.stdScore ?? 0, 1e-9);
    scoreShift = Math.abs(c.meanScore - b.meanScore) / std;
  }
  return { nokDelta, scoreShift };
}

/** The next step of a rollout, from its devices' reports and its result metrics. Pure. */
export function decide(input: DecideInput): Decision {
  const { policy } = input;
  if (input.status !== 'running') return { action: 'none', why: `rollout is ${input.status}` };
  const assigned = input.devices.filter((d) => d.stage <= input.currentStage);
  const failed = assigned.filter((d) => d.state === 'failed').length;
  if (policy.autoRollback && assigned.length > 0 && failed / assigned.length > policy.maxFailureRatio) {
    return { action: 'rollback', reason: `activation failed on ${failed} of ${assigned.length} device(s)` };
  }
  if (policy.autoRollback && input.metrics) {
    const d = drift(input.metrics, policy);
    if (d && policy.maxNokRateDelta !== null && d.nokDelta > policy.maxNokRateDelta) {
      return {
        action: 'rollback',
        reason: `NOK rate rose by ${(d.nokDelta * 100).toFixed(2)} points (bound ${(policy.maxNokRateDelta * 100).toFixed(2)})`,
      };
    }
    if (d && policy.maxScoreShift !== null && d.scoreShift !== null && d.scoreShift > policy.maxScoreShift) {
      return {
        action: 'rollback',
        reason: `mean score moved ${d.scoreShift.toFixed(2)} baseline standard deviations (bound ${policy.maxScoreShift})`,
      };
    }
  }
  const target = input.mode === 'shadow' ? 'shadow' : 'active';
  const waiting = assigned.filter((d) => d.state !== target).length;
  if (waiting > 0)
    return { action: 'none', why: `${waiting} device(s) of stage ${input.currentStage} not yet ${target}` };
  if (input.currentStage >= input.stageCount - 1) return { action: 'complete' };
  if (policy.promotion === 'manual') return { action: 'none', why: 'waiting for a manual promotion' };
  const lastActivation = Math.max(...assigned.map((d) => d.activatedAt?.getTime() ?? 0));
  const baked = (input.now.getTime() - lastActivation) / 1000;
  if (baked < policy.bakeSeconds)
    return { action: 'none', why: `baking (${Math.floor(baked)} of ${policy.bakeSeconds} s)` };
  return { action: 'promote' };
}
