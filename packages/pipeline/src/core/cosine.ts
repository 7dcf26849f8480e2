/**
 * 1 − cosine similarity over channels of two C×H×W feature maps (one batch item), per pixel.
 * Denominator max(‖a‖·‖b‖, eps) with eps = 1e-8, as docs/bundle.md step 5 defines it.
 */
export function cosineDistanceMap(
  a: Float32Array,
  b: Float32Array,
  channels: number,
  height: number,
  width: number,
  out: Float32Array,
  eps = 1e-8,
): Float32Array {
  const hw = height * width;
  const n = channels * hw;
  if (!Number.isInteger(channels) || channels < 1)
    throw new RangeError(`channels: expected >= 1, got ${channels}`);
  if (a.length < n) throw new RangeError(`a: expected at least ${n} values (C×H×W), got ${a.length}`);
  if (b.length < n) throw new RangeError(`b: expected at least ${n} values (C×H×W), got ${b.length}`);
  if (out.length < hw) throw new RangeError(`out: expected at least ${hw} values (H×W), got ${out.length}`);
  for (let p = 0; p < hw; p++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let c = 0, i = p; c < channels; c++, i += hw) {
      const x = a[i];
      const y = b[i];
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    out[p] = 1 - dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), eps);
  }
  return out;
}
