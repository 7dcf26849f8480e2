/**
 * Interleaved RGB (H×W×3, uint8) to planar normalised float32 (3×H×W): v = (pixel/255 − mean[c]) / std[c],
 * channels in `order` (RGB keeps them, BGR swaps the first and last). Writes into `out` at `offset`.
 */
export function normalizeToNchw(
  rgb: Uint8Array,
  width: number,
  height: number,
  mean: readonly number[],
  std: readonly number[],
  order: 'RGB' | 'BGR',
  out: Float32Array,
  offset = 0,
): Float32Array {
  const hw = width * height;
  if (rgb.length !== hw * 3) throw new RangeError(`rgb: expected ${hw * 3} bytes (H×W×3), got ${rgb.length}`);
  if (out.length < offset + 3 * hw)
    throw new RangeError(`out: expected room for ${3 * hw} values at ${offset}`);
  for (let c = 0; c < 3; c++) {
    const src = order === 'RGB' ? c : 2 - c;
    const m = mean[c];
    const inv = 1 / (255 * std[c]);
    const sub = m / std[c];
    const base = offset + c * hw;
    for (let p = 0; p < hw; p++) out[base + p] = rgb[p * 3 + src] * inv - sub;
  }
  return out;
}
