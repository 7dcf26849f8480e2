/** Anomaly scores: larger means more anomalous. Must be finite. */
export type Scores = Float32Array | Float64Array | readonly number[];

/** Ground-truth labels: 1 / true = anomalous, 0 / false = normal. */
export type Labels = Uint8Array | readonly boolean[] | readonly number[];

/** One anomaly map, row-major, `data.length === width * height`. Evaluated at float32 precision. */
export interface ScoreMap {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array | Float64Array | readonly number[];
}

/** One ground-truth mask, row-major; any non-zero / true pixel is anomalous (MVTec masks use 255). */
export interface MaskMap {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | readonly boolean[] | readonly number[];
}

export interface F1MaxResult {
  /** Best F1 over all thresholds. */
  readonly f1: number;
  /** The highest threshold reaching that F1; a score >= threshold is called anomalous. */
  readonly threshold: number;
}

export interface AuproOptions {
  /** Upper FPR limit of the integration, in (0, 1]. Default 0.3. */
  readonly fprLimit?: number;
  /**
   * `exact` (default): every distinct score is a threshold, exact trapezoid integration, cut at fprLimit
   * with interpolation, area divided by fprLimit.
   * `official`: the DiAD/UniAD evaluation code (`compute_pro`): uniform thresholds between the min and max
   * score, points with FPR < fprLimit kept, FPR rescaled by its own maximum, trapezoid area.
   */
  readonly variant?: 'exact' | 'official';
  /** Number of uniform thresholds of the official variant. Default 200. */
  readonly thresholds?: number;
}

/** A curve as parallel arrays, in the order of decreasing threshold unless stated otherwise. */
export interface RocCurve {
  readonly fpr: Float64Array;
  readonly tpr: Float64Array;
  /** thresholds[0] is +Infinity (nothing called anomalous), like scikit-learn's roc_curve. */
  readonly thresholds: Float64Array;
}

export interface PrCurve {
  readonly precision: Float64Array;
  readonly recall: Float64Array;
  readonly thresholds: Float64Array;
}

export interface ProCurve {
  readonly fpr: Float64Array;
  readonly pro: Float64Array;
  readonly thresholds: Float64Array;
}

/** Pixel-level AUROC, AP, F1max and AUPRO computed together in one sweep. */
export interface PixelMetrics {
  readonly auroc: number;
  readonly averagePrecision: number;
  readonly f1Max: F1MaxResult;
  readonly aupro: number;
}
