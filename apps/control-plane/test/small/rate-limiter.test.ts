import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/common/rate-limiter.js';
import { ManualClock } from '../helpers/harness.js';

describe('RateLimiter', () => {
  it('allows a burst of perMinute, then refills continuously', () => {
    const clock = new ManualClock();
    const rl = new RateLimiter(3, clock);
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([0, 0, 0]);
    expect(rl.take('a')).toBe(20);
    expect(rl.take('b')).toBe(0);
    clock.advance(20_000);
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBeGreaterThan(0);
  });

  it('is off at 0 and checks its argument', () => {
    const rl = new RateLimiter(0, new ManualClock());
    for (let i = 0; i < 100; i++) expect(rl.take('x')).toBe(0);
    expect(() => new RateLimiter(-1, new ManualClock())).toThrow(RangeError);
  });
});
