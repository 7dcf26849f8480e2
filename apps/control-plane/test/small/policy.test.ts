import { describe, expect, it } from 'vitest';
import { type DecideInput, decide, drift, RolloutPolicy, stageSizes } from '../../src/rollouts/policy.js';

const now = new Date('2026-11-28T12:00:00Z');
const policy = (p: Partial<RolloutPolicy> = {}) => RolloutPolicy.parse(p);
const input = (over: Partial<DecideInput>): DecideInput => ({
  mode: 'normal',
  status: 'running',
  currentStage: 0,
  stageCount: 3,
  policy: policy(),
  devices: [],
  metrics: null,
  now,
  ...over,
});
const dev = (stage: number, state: DecideInput['devices'][number]['state'], activatedAgoS = 0) => ({
  stage,
  state,
  activatedAt:
    state === 'active' || state === 'shadow' ? new Date(now.getTime() - activatedAgoS * 1000) : null,
});

describe('stageSizes', () => {
  it('turns percentages and counts into cumulative sizes that end at every device', () => {
    expect(stageSizes(10, [{ count: 1 }, { percent: 10 }, { percent: 50 }, { percent: 100 }])).toEqual([
      1, 1, 5, 10,
    ]);
    expect(stageSizes(3, [{ percent: 1 }, { percent: 50 }])).toEqual([1, 3]);
    expect(stageSizes(4, [{ count: 10 }, { count: 2 }])).toEqual([4, 4]);
  });
  it('checks its inputs', () => {
    expect(() => stageSizes(0, [{ percent: 100 }])).toThrow(RangeError);
    expect(() => stageSizes(3, [])).toThrow(/at least one stage/);
  });
});

describe('decide', () => {
  it('waits while devices of the stage are not active', () => {
    const d = decide(input({ devices: [dev(0, 'active'), dev(0, 'downloading'), dev(1, 'waiting')] }));
    expect(d).toEqual({ action: 'none', why: '1 device(s) of stage 0 not yet active' });
  });

  it('promotes automatically only after the bake time', () => {
    const p = policy({ promotion: 'auto', bakeSeconds: 60 });
    expect(decide(input({ policy: p, devices: [dev(0, 'active', 30)] })).action).toBe('none');
    expect(decide(input({ policy: p, devices: [dev(0, 'active', 61)] }))).toEqual({ action: 'promote' });
    expect(decide(input({ policy: policy(), devices: [dev(0, 'active', 61)] })).action).toBe('none');
  });

  it('completes at the last stage; shadow rollouts wait for shadow state', () => {
    expect(decide(input({ currentStage: 2, devices: [dev(2, 'active')] }))).toEqual({ action: 'complete' });
    expect(decide(input({ mode: 'shadow', stageCount: 1, devices: [dev(0, 'active')] })).action).toBe('none');
    expect(decide(input({ mode: 'shadow', stageCount: 1, devices: [dev(0, 'shadow')] })).action).toBe(
      'complete',
    );
  });

  it('rolls back when more devices failed than allowed', () => {
    const devices = [dev(0, 'failed'), dev(0, 'active'), dev(0, 'active'), dev(0, 'active')];
    expect(decide(input({ devices }))).toEqual({
      action: 'rollback',
      reason: 'activation failed on 1 of 4 device(s)',
    });
    expect(decide(input({ devices, policy: policy({ maxFailureRatio: 0.25 }) })).action).toBe('none');
    expect(decide(input({ devices, policy: policy({ autoRollback: false }) })).action).toBe('none');
  });

  it('rolls back on NOK-rate or score drift once both sides have enough results', () => {
    const base = { count: 1000, nok: 20, meanScore: 0.1, stdScore: 0.02 };
    const p = policy({ maxNokRateDelta: 0.05, maxScoreShift: 3, minResults: 100 });
    const devices = [dev(0, 'active')];
    const few = { candidate: { count: 50, nok: 40, meanScore: 0.5, stdScore: 0.1 }, baseline: base };
    expect(decide(input({ policy: p, devices, metrics: few })).action).not.toBe('rollback');
    const nok = { candidate: { count: 200, nok: 20, meanScore: 0.1, stdScore: 0.02 }, baseline: base };
    expect(decide(input({ policy: p, devices, metrics: nok }))).toEqual({
      action: 'rollback',
      reason: 'NOK rate rose by 8.00 points (bound 5.00)',
    });
    const shift = { candidate: { count: 200, nok: 4, meanScore: 0.17, stdScore: 0.02 }, baseline: base };
    expect(decide(input({ policy: p, devices, metrics: shift }))).toMatchObject({ action: 'rollback' });
    expect(drift(shift, p)).toEqual({ nokDelta: 0, scoreShift: expect.closeTo(3.5, 6) });
  });

  it('does nothing unless running', () => {
    expect(decide(input({ status: 'paused', devices: [dev(0, 'failed')] }))).toEqual({
      action: 'none',
      why: 'rollout is paused',
    });
  });
});
