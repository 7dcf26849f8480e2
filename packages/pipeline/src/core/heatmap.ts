/**
 * Heatmap colouring, the one colour map of the project: Google's "Turbo" (dark blue → cyan → green → yellow →
 * red → dark red), in Anton Mikhailov's polynomial approximation. Unlike jet its lightness rises and falls
 * smoothly, so it shows no false edges. Values are scaled by `maxValue` (values >= maxValue are dark red); the
 * pipeline uses maxValue = 2 × pixel threshold, so the defect threshold sits at the green midpoint.
 */
const TURBO = {
  r: [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
  g: [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
  b: [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
};

/** Turbo colour of v in [0, 1] (clamped; NaN = 0) as RGB bytes. */
export function turbo(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : v > 0 ? 1 : 0));
  const poly = (c: number[]) => c.reduceRight((acc, k) => acc * x + k, 0);
  const ch = (c: number[]) => Math.round(255 * Math.min(1, Math.max(0, poly(c))));
  return [ch(TURBO.r), ch(TURBO.g), ch(TURBO.b)];
}

/** Blends the turbo colouring of `map` (H×W) onto `rgb` (H×W×3, uint8) in place-free fashion into a new buffer. */
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
    const [r, g, b] = turbo(map[p] * scale);
    const o = p * 3;
    out[o] = Math.round((1 - alpha) * rgb[o] + alpha * r);
    out[o + 1] = Math.round((1 - alpha) * rgb[o + 1] + alpha * g);
    out[o + 2] = Math.round((1 - alpha) * rgb[o + 2] + alpha * b);
  }
  return out;
}
