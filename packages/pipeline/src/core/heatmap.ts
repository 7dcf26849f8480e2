/**
 * Heatmap colouring: the classic "jet" colormap (matplotlib's piecewise-linear jet, blue → cyan → yellow → red)
 * over map values scaled by `maxValue` (values >= maxValue are red), blended onto an RGB image with `alpha`.
 * The pipeline uses maxValue = 2 × pixel threshold, so the defect threshold sits at the cyan/yellow midpoint.
 */
export function jet(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, Number.isNaN(v) ? 0 : v));
  const ch = (x: number) => Math.round(255 * Math.min(1, Math.max(0, x)));
  return [ch(1.5 - Math.abs(4 * t - 3)), ch(1.5 - Math.abs(4 * t - 2)), ch(1.5 - Math.abs(4 * t - 1))];
}

/** Blends the jet colouring of `map` (H×W) onto `rgb` (H×W×3, uint8) in place-free fashion into a new buffer. */
export function overlayHeatmap(
  rgb: Uint8Array,
  map: Float32Array,
  width: number,
  height: number,
  maxValue: number,
  alpha = 0.5,
): Uint8Array {
  const n = width * height;
  if (rgb.length !== n * 3) throw new RangeError(`rgb: expected ${n * 3} bytes (H×W×3), got ${rgb.length}`);
  if (map.length < n) throw new RangeError(`map: expected at least ${n} values, got ${map.length}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha: expected in [0,1], got ${alpha}`);
  const scale = maxValue > 0 ? 1 / maxValue : 1;
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    const [r, g, b] = jet(map[p] * scale);
    const o = p * 3;
    out[o] = Math.round((1 - alpha) * rgb[o] + alpha * r);
    out[o + 1] = Math.round((1 - alpha) * rgb[o + 1] + alpha * g);
    out[o + 2] = Math.round((1 - alpha) * rgb[o + 2] + alpha * b);
  }
  return out;
}
