/**
 * Normalised score in [0, 1]: a logistic curve centred on the image threshold,
 *   normalized = 1 / (1 + exp(−(score − threshold) / width)),
 * so normalized = 0.5 exactly at the threshold, rises with the score, and is monotonic.
 * `width` is the spread of normal scores from calibration (normalScores.std) when it is positive; otherwise
 * 10% of |threshold| (or 1e-6 for a zero threshold). With width = std, a score 3 std above the threshold maps to
 * 0.95, 3 std below to 0.05.
 */
export function normalizedScore(score: number, threshold: number, width: number): number {
  if (!Number.isFinite(threshold))
    throw new RangeError(`threshold: expected a finite number, got ${threshold}`);
  if (Number.isNaN(score)) return Number.NaN;
  const w = width > 0 && Number.isFinite(width) ? width : Math.abs(threshold) * 0.1 || 1e-6;
  const v = 1 / (1 + Math.exp(-(score - threshold) / w));
  return Math.min(1, Math.max(0, v));
}

/** Defect mask (1 where map >= threshold) and the number of defect pixels. */
export function thresholdMask(map: Float32Array, threshold: number, out: Uint8Array): number {
  if (out.length < map.length)
    throw new RangeError(`out: expected at least ${map.length} values, got ${out.length}`);
  let area = 0;
  for (let i = 0; i < map.length; i++) {
    const on = map[i] >= threshold ? 1 : 0;
    out[i] = on;
    area += on;
  }
  return area;
}

/** Verdict rule of docs/bundle.md: score >= image threshold is NOK. */
export function verdictOf(score: number, imageThreshold: number): 'OK' | 'NOK' {
  return score >= imageThreshold ? 'NOK' : 'OK';
}
