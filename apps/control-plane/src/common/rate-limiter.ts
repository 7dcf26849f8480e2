import type { Clock } from './tokens.js';

/** Token bucket per key: `perMinute` requests, refilled continuously; a burst of up to `perMinute` is allowed. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
    private readonly maxKeys = 100_000,
  ) {
    if (!Number.isInteger(perMinute) || perMinute < 0) {
      throw new RangeError(`RateLimiter: perMinute: expected a non-negative integer, got ${perMinute}`);
    }
  }

  /** Returns 0 when allowed, otherwise the seconds to wait. */
  take(key: string): number {
    if (this.perMinute === 0) return 0;
    const now = this.clock.now().getTime();
    const rate = this.perMinute / 60_000;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.buckets.clear();
      b = { tokens: this.perMinute, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * rate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / rate / 1000);
  }
}
