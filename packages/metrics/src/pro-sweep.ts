import { Float64List, type GroupSink, type SweepTotals } from './sink.js';

/**
 * Exact per-region-overlap curve: PRO(t) = mean over regions of the fraction of the region at or above t,
 * FPR(t) = normal pixels at or above t / all normal pixels. One point per distinct threshold starting at
 * (0, 0); the area is integrated with trapezoids up to fprLimit, where the last segment is interpolated,
 * and divided by fprLimit.
 */
export class ProSweep implements GroupSink {
  private negatives = 0;
  private regions = 0;
  private fp = 0;
  private proSum = 0;
  private area = 0;
  private done = false;
  private readonly curve: { fpr: Float64List; pro: Float64List; thresholds: Float64List } | null;

  constructor(
    private readonly fprLimit: number,
    recordCurve = false,
  ) {
    this.curve = recordCurve
      ? { fpr: new Float64List(), pro: new Float64List(), thresholds: new Float64List() }
      : null;
  }

  begin(totals: SweepTotals): void {
    this.negatives = totals.negatives;
    this.regions = totals.regions;
    if (this.curve) {
      this.curve.fpr.push(0);
      this.curve.pro.push(0);
      this.curve.thresholds.push(Number.POSITIVE_INFINITY);
    }
  }

  group(threshold: number, negatives: number, _positives: number, regionWeight: number): void {
    if (this.done) return;
    const fpr0 = this.fp / this.negatives;
    const pro0 = this.proSum / this.regions;
    this.fp += negatives;
    this.proSum += regionWeight;
    const fpr1 = this.fp / this.negatives;
    let pro1 = this.proSum / this.regions;
    let fpr = fpr1;
    if (fpr1 > this.fprLimit) {
      // Cut the segment at the limit: linear interpolation of PRO along the segment.
      pro1 = pro0 + ((this.fprLimit - fpr0) / (fpr1 - fpr0)) * (pro1 - pro0);
      fpr = this.fprLimit;
      this.done = true;
    }
    this.area += (fpr - fpr0) * (pro0 + pro1) * 0.5;
    if (this.curve) {
      this.curve.fpr.push(fpr);
      this.curve.pro.push(pro1);
      this.curve.thresholds.push(threshold);
    }
  }

  get aupro(): number {
    return this.area / this.fprLimit;
  }

  points(): { fpr: Float64Array; pro: Float64Array; thresholds: Float64Array } {
    if (!this.curve) throw new Error('ProSweep was created without recordCurve');
    return {
      fpr: this.curve.fpr.toArray(),
      pro: this.curve.pro.toArray(),
      thresholds: this.curve.thresholds.toArray(),
    };
  }
}
