import {
  aupro,
  auroc,
  averagePrecision,
  f1Max,
  pixelMetrics,
  prCurve,
  proCurve,
  rocCurve,
} from '@diad/metrics';
import { describe, expect, it } from 'vitest';

// The 4x4 example of anomalib's AUPRO tests: regions A = {(0,0), (0,1)} and B = {(2,3)} (row, column).
const scoreRows = [
  [0.9, 0.5, 0.8, 0.1],
  [0.2, 0.3, 0.4, 0.05],
  [0.15, 0.25, 0.35, 0.7],
  [0.45, 0.55, 0.6, 0.65],
];
const fourByFour = [{ width: 4, height: 4, data: scoreRows.flat() }];
const fourByFourMask = (() => {
  const data = new Uint8Array(16);
  data[0] = 1;
  data[1] = 1;
  data[2 * 4 + 3] = 1;
  return [{ width: 4, height: 4, data }];
})();

describe('anomalib known values', () => {
  it('f1Max([.1,.5,.9,.1], [0,1,1,1]) is 6/7 at threshold 0.1', () => {
    const result = f1Max([0.1, 0.5, 0.9, 0.1], [0, 1, 1, 1]);
    expect(result.f1).toBeCloseTo(0.8571, 4);
    expect(result.f1).toBeCloseTo(6 / 7, 12);
    expect(result.threshold).toBe(0.1);
  });

  it('the F1-optimal threshold of [2.3,1.6,2.6,7.9,3.3] / [0,0,0,1,1] is 3.3', () => {
    expect(f1Max([2.3, 1.6, 2.6, 7.9, 3.3], [0, 0, 0, 1, 1])).toEqual({ f1: 1, threshold: 3.3 });
  });

  it('a single anomalous column under a ramp gives AUPRO 1/6 at fprLimit 1/3', () => {
    const width = 7;
    const height = 400;
    const data = new Float32Array(width * height);
    const mask = new Uint8Array(width * height);
    for (let i = 0; i < data.length; i++) data[i] = i / 2800;
    for (let row = 0; row < height; row++) mask[row * width + 3] = 1;
    const value = aupro([{ width, height, data }], [{ width, height, data: mask }], { fprLimit: 1 / 3 });
    expect(Math.abs(value - 1 / 6)).toBeLessThan(1e-3);
  });

  it('the 4x4 two-region map gives 0.621795 at 0.3, 0.884615 at 1.0 and 0.25 at 0.05', () => {
    expect(aupro(fourByFour, fourByFourMask)).toBeCloseTo(0.621795, 6);
    expect(aupro(fourByFour, fourByFourMask, { fprLimit: 0.3 })).toBeCloseTo(0.621795, 6);
    expect(aupro(fourByFour, fourByFourMask, { fprLimit: 1 })).toBeCloseTo(0.884615, 6);
    expect(aupro(fourByFour, fourByFourMask, { fprLimit: 0.05 })).toBeCloseTo(0.25, 12);
  });
});

describe('hand-computed vectors', () => {
  it('AUROC and AP of a four-sample example (scikit-learn documentation)', () => {
    expect(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    expect(averagePrecision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(5 / 6, 12);
  });

  it('a tie across classes counts as half a correct pair and as one threshold', () => {
    // pairs: 0.9 beats both negatives (2), 0.5 ties both (2 x 0.5) -> 3/4
    const scores = [0.5, 0.5, 0.5, 0.9];
    const labels = [false, true, false, true];
    expect(auroc(scores, labels)).toBeCloseTo(0.75, 12);
    // recall 1/2 at precision 1, then recall 1 at precision 2/4
    expect(averagePrecision(scores, labels)).toBeCloseTo(0.75, 12);
    // F1 is 2/3 at both thresholds: the higher threshold is reported
    expect(f1Max(scores, labels)).toEqual({ f1: 2 / 3, threshold: 0.9 });
  });

  it('rocCurve starts at (0, 0) with an infinite threshold and has one point per distinct score', () => {
    const curve = rocCurve([0.5, 0.5, 0.5, 0.9], [0, 1, 0, 1]);
    expect(Array.from(curve.thresholds)).toEqual([Number.POSITIVE_INFINITY, 0.9, 0.5]);
    expect(Array.from(curve.fpr)).toEqual([0, 0, 1]);
    expect(Array.from(curve.tpr)).toEqual([0, 0.5, 1]);
  });

  it('prCurve gives precision and recall per distinct threshold, decreasing', () => {
    const curve = prCurve([0.5, 0.5, 0.5, 0.9], [0, 1, 0, 1]);
    expect(Array.from(curve.thresholds)).toEqual([0.9, 0.5]);
    expect(Array.from(curve.precision)).toEqual([1, 0.5]);
    expect(Array.from(curve.recall)).toEqual([0.5, 1]);
  });

  it('proCurve of the 4x4 example: (0,0), then a point per distinct score, cut at the limit', () => {
    // Descending: 0.9 hits A (PRO 1/4), 0.8 is normal (FPR 1/13), 0.7 hits B (PRO 3/4), 0.65 normal (2/13),
    // 0.6 normal (3/13), 0.55 normal (4/13 > 0.3: cut, PRO stays 3/4).
    const curve = proCurve(fourByFour, fourByFourMask, { fprLimit: 0.3 });
    expect(Array.from(curve.fpr)).toEqual([0, 0, 1 / 13, 1 / 13, 2 / 13, 3 / 13, 0.3]);
    expect(Array.from(curve.pro)).toEqual([0, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75]);
    expect(curve.thresholds[0]).toBe(Number.POSITIVE_INFINITY);
    expect(curve.thresholds[1]).toBe(Math.fround(0.9));
    // area = 1/13 * 1/4 + (0.3 - 1/13) * 3/4, divided by 0.3
    expect(aupro(fourByFour, fourByFourMask)).toBeCloseTo((0.25 / 13 + (0.3 - 1 / 13) * 0.75) / 0.3, 12);
  });

  it('pixelMetrics of the 4x4 example matches the vector metrics of its flattened pixels', () => {
    const flatScores = Float32Array.from(scoreRows.flat());
    const flatLabels = fourByFourMask[0].data;
    const result = pixelMetrics(fourByFour, fourByFourMask);
    expect(result.auroc).toBe(auroc(flatScores, flatLabels));
    expect(result.averagePrecision).toBe(averagePrecision(flatScores, flatLabels));
    expect(result.f1Max).toEqual(f1Max(flatScores, flatLabels));
    expect(result.aupro).toBe(aupro(fourByFour, fourByFourMask));
  });
});
