import { Float64List, type GroupSink, type SweepTotals } from './sink.js';
import type { F1MaxResult } from './types.js';

/**
 * AUROC, average precision and F1max in one pass over the distinct thresholds.
 * AUROC: trapezoids between consecutive ROC points (a tie is one diagonal step), as scikit-learn's
 * roc_auc_score. AP: sum of (recall step) x (precision at that threshold), as average_precision_score.
 * F1: 2TP / (TP + FP + P) at every threshold, anomalous when score >= threshold.
 */
export class RankingSweep implements GroupSink {
  private positives = 0;
  private negatives = 0;
  private tp = 0;
  private fp = 0;
  private rocArea = 0;
  private apSum = 0;
  private bestF1 = -1;
  private bestThreshold = Number.NaN;

  begin(totals: SweepTotals): void {
    this.positives = totals.positives;
    this.negatives = totals.negatives;
  }

  group(threshold: number, negatives: number, positives: number): void {
    const tp0 = this.tp;
    const tp = tp0 + positives;
    const fp = this.fp + negatives;
    this.tp = tp;
    this.fp = fp;
    this.rocArea += negatives * (tp0 + tp) * 0.5;
    if (positives > 0) this.apSum += (positives * tp) / (tp + fp);
    const f1 = (2 * tp) / (tp + fp + this.positives);
    if (f1 > this.bestF1) {
      this.bestF1 = f1;
      this.bestThreshold = threshold;
    }
  }

  get auroc(): number {
    return this.rocArea / (this.positives * this.negatives);
  }

  get averagePrecision(): number {
    return this.apSum / this.positives;
  }

  get f1Max(): F1MaxResult {
    return { f1: this.bestF1, threshold: this.bestThreshold };
  }
}

/** Records the ROC and precision-recall curves at every distinct threshold. */
export class CurveRecorder implements GroupSink {
  private positives = 0;
  private negatives = 0;
  private tp = 0;
  private fp = 0;
  readonly thresholds = new Float64List();
  readonly tps = new Float64List();
  readonly fps = new Float64List();

  begin(totals: SweepTotals): void {
    this.positives = totals.positives;
    this.negatives = totals.negatives;
  }

  group(threshold: number, negatives: number, positives: number): void {
    this.tp += positives;
    this.fp += negatives;
    this.thresholds.push(threshold);
    this.tps.push(this.tp);
    this.fps.push(this.fp);
  }

  roc(): { fpr: Float64Array; tpr: Float64Array; thresholds: Float64Array } {
    const n = this.thresholds.length;
    const fpr = new Float64Array(n + 1);
    const tpr = new Float64Array(n + 1);
    const thresholds = new Float64Array(n + 1);
    thresholds[0] = Number.POSITIVE_INFINITY;
    const tps = this.tps.toArray();
    const fps = this.fps.toArray();
    const ts = this.thresholds.toArray();
    for (let i = 0; i < n; i++) {
      fpr[i + 1] = fps[i] / this.negatives;
      tpr[i + 1] = tps[i] / this.positives;
      thresholds[i + 1] = ts[i];
    }
    return { fpr, tpr, thresholds };
  }

  pr(): { precision: Float64Array; recall: Float64Array; thresholds: Float64Array } {
    const tps = this.tps.toArray();
    const fps = this.fps.toArray();
    const precision = new Float64Array(tps.length);
    const recall = new Float64Array(tps.length);
    for (let i = 0; i < tps.length; i++) {
      precision[i] = tps[i] / (tps[i] + fps[i]);
      recall[i] = tps[i] / this.positives;
    }
    return { precision, recall, thresholds: this.thresholds.toArray() };
  }
}
