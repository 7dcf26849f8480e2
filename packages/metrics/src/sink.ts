/** Class counts of a whole input, known before the sweep starts. */
export interface SweepTotals {
  readonly negatives: number;
  readonly positives: number;
  /** Number of ground-truth regions (0 when the input has no region structure). */
  readonly regions: number;
  readonly min: number;
  readonly max: number;
}

/**
 * Receives the input grouped by distinct score, in decreasing score order. Every metric here is a fold over
 * this stream, which is what makes them exact (one threshold per distinct score, ties kept together).
 */
export interface GroupSink {
  begin(totals: SweepTotals): void;
  /**
   * @param threshold the distinct score
   * @param negatives normal entries with exactly this score
   * @param positives anomalous entries with exactly this score
   * @param regionWeight sum of 1 / area(region) over those anomalous entries (0 without regions)
   */
  group(threshold: number, negatives: number, positives: number, regionWeight: number): void;
}

/** Append-only float64 list that grows by doubling (curves can have millions of points). */
export class Float64List {
  private data: Float64Array;
  length = 0;

  constructor(capacity = 1024) {
    this.data = new Float64Array(capacity);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  toArray(): Float64Array {
    return this.data.slice(0, this.length);
  }
}
