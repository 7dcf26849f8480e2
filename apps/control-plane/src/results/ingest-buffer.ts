import type { InspectionResult } from '@diad/protocol';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Collects results from many messages into one write: flushed when `maxBatch` are waiting or `flushMs` after the
 * first arrived. `add` resolves at once while there is room and otherwise waits for the flush, which pushes back
 * on the broker connection instead of growing without bound.
 */
export class IngestBuffer {
  private pending: InspectionResult[] = [];
  private timer: unknown = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (batch: InspectionResult[]) => Promise<void>,
    private readonly maxBatch: number,
    private readonly flushMs: number,
    private readonly timers: Timers = realTimers,
    private readonly onError: (e: unknown, batch: InspectionResult[]) => void = () => {},
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1)
      throw new RangeError(`IngestBuffer: maxBatch: expected ≥ 1, got ${maxBatch}`);
  }

  get size(): number {
    return this.pending.length;
  }

  add(r: InspectionResult): Promise<void> {
    this.pending.push(r);
    if (this.pending.length >= this.maxBatch) return this.flush();
    this.timer ??= this.timers.setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.flushMs);
    return Promise.resolve();
  }

  /** Writes what is waiting (after any write in progress, so batches stay in order). */
  flush(): Promise<void> {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.write(batch);
      } catch (e) {
        this.onError(e, batch);
      }
    });
    return this.flushing;
  }
}
