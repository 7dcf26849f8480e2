import type { GroupSink, SweepTotals } from './sink.js';

/**
 * The AUPRO of the DiAD / UniAD evaluation code (`compute_pro` in utils/eval_helper.py), reproduced
 * arithmetic for arithmetic so numbers can be compared with the paper's:
 * - thresholds `np.arange(min, max, (max - min) / count)` in float64, compared against the float32 maps in
 *   float32 (numpy 1.x casts the scalar to the array's type), a pixel is anomalous when score > threshold;
 * - PRO = mean over all regions of the region's fraction above the threshold, FPR over all normal pixels;
 * - only points with FPR < fprLimit are kept, FPR is divided by its own maximum, trapezoid area.
 */
export class OfficialProSweep implements GroupSink {
  private negatives = 0;
  private regions = 0;
  private fp = 0;
  private proSum = 0;
  private limits = new Float64Array(0);
  private next = -1;
  private fprs = new Float64Array(0);
  private pros = new Float64Array(0);

  constructor(
    private readonly fprLimit: number,
    private readonly count: number,
  ) {}

  begin(totals: SweepTotals): void {
    this.negatives = totals.negatives;
    this.regions = totals.regions;
    const { min, max } = totals;
    const delta = (max - min) / this.count;
    // numpy: length ceil((stop - start) / step); element i = start + i * (second - first) from i = 2.
    const length = delta > 0 ? Math.ceil((max - min) / delta) : 0;
    const step = min + delta - min;
    this.limits = new Float64Array(length);
    for (let i = 0; i < length; i++) {
      const t = i === 0 ? min : i === 1 ? min + delta : min + i * step;
      this.limits[i] = Math.fround(t);
    }
    this.fprs = new Float64Array(length);
    this.pros = new Float64Array(length);
    this.next = length - 1;
  }

  private recordDownTo(value: number): void {
    // Every threshold at or above `value` has now seen exactly the pixels strictly above it.
    while (this.next >= 0 && this.limits[this.next] >= value) {
      this.fprs[this.next] = this.fp / this.negatives;
      this.pros[this.next] = this.proSum / this.regions;
      this.next--;
    }
  }

  group(threshold: number, negatives: number, _positives: number, regionWeight: number): void {
    this.recordDownTo(threshold);
    this.fp += negatives;
    this.proSum += regionWeight;
  }

  /** The kept points, FPR already rescaled, in increasing threshold order as the official code has them. */
  points(): { fpr: Float64Array; pro: Float64Array; thresholds: Float64Array } {
    this.recordDownTo(Number.NEGATIVE_INFINITY);
    const keep: number[] = [];
    let maxFpr = 0;
    for (let i = 0; i < this.limits.length; i++) {
      if (this.fprs[i] < this.fprLimit) {
        keep.push(i);
        if (this.fprs[i] > maxFpr) maxFpr = this.fprs[i];
      }
    }
    if (keep.length < 2) {
      throw new RangeError(
        `official AUPRO needs at least 2 of its ${this.limits.length} thresholds with FPR below fprLimit ${this.fprLimit}, got ${keep.length}`,
      );
    }
    if (maxFpr === 0) {
      throw new RangeError(
        'official AUPRO is undefined: no kept threshold has a false positive (FPR rescaling divides by 0)',
      );
    }
    const fpr = new Float64Array(keep.length);
    const pro = new Float64Array(keep.length);
    const thresholds = new Float64Array(keep.length);
    keep.forEach((k, j) => {
      fpr[j] = this.fprs[k] / maxFpr;
      pro[j] = this.pros[k];
      thresholds[j] = this.limits[k];
    });
    return { fpr, pro, thresholds };
  }

  get aupro(): number {
    const { fpr, pro } = this.points();
    // sklearn.metrics.auc: FPR decreases with the threshold, so the signed trapezoid sum is negated.
    let area = 0;
    for (let i = 1; i < fpr.length; i++) area += (fpr[i - 1] - fpr[i]) * (pro[i - 1] + pro[i]) * 0.5;
    return area;
  }
}
