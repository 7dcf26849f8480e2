/**
 * Gaussian blur with scipy.ndimage.gaussian_filter semantics: mode "reflect" (half-sample symmetric,
 * d c b a | a b c d | d c b a), kernel radius floor(truncate·σ + 0.5), weights exp(−x²/2σ²) normalised to sum 1,
 * separable: axis 0 (rows) first, then axis 1, each pass accumulated in float64 and stored as float32 as scipy
 * does for a float32 array.
 */

export function gaussianKernel(sigma: number, truncate = 4): Float64Array {
  if (!(sigma >= 0) || !Number.isFinite(sigma))
    throw new RangeError(`sigma: expected a finite number >= 0, got ${sigma}`);
  if (!(truncate > 0)) throw new RangeError(`truncate: expected > 0, got ${truncate}`);
  const radius = Math.floor(truncate * sigma + 0.5);
  const k = new Float64Array(2 * radius + 1);
  if (radius === 0) {
    k[0] = 1;
    return k;
  }
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp((-0.5 * i * i) / (sigma * sigma));
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** Maps an out-of-range index into [0, n) with scipy's "reflect" rule, for any distance from the edge. */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

export interface BlurPlan {
  height: number;
  width: number;
  kernel: Float64Array;
  radius: number;
  /** Reflected source row for each output row and tap (axis 0). */
  rowIdx: Int32Array;
  /** Reflected source column for each padded position −radius … width+radius−1 (axis 1). */
  padIdx: Int32Array;
  tmp: Float32Array;
  line: Float64Array;
  padded: Float64Array;
}

/** Precomputes the kernel, reflect tables and scratch buffers for H×W planes. */
export function planGaussianBlur(height: number, width: number, sigma: number, truncate = 4): BlurPlan {
  if (!Number.isInteger(height) || height < 1)
    throw new RangeError(`height: expected a positive integer, got ${height}`);
  if (!Number.isInteger(width) || width < 1)
    throw new RangeError(`width: expected a positive integer, got ${width}`);
  const kernel = gaussianKernel(sigma, truncate);
  const radius = (kernel.length - 1) / 2;
  const taps = kernel.length;
  const rowIdx = new Int32Array(height * taps);
  for (let o = 0; o < height; o++)
    for (let k = 0; k < taps; k++) rowIdx[o * taps + k] = reflectIndex(o + k - radius, height);
  const padIdx = new Int32Array(width + 2 * radius);
  for (let i = 0; i < padIdx.length; i++) padIdx[i] = reflectIndex(i - radius, width);
  return {
    height,
    width,
    kernel,
    radius,
    rowIdx,
    padIdx,
    tmp: new Float32Array(height * width),
    line: new Float64Array(width),
    padded: new Float64Array(width + 2 * radius),
  };
}

/**
 * Blurs `src` (H×W) into `out`; `out` may alias `src`. The kernel is symmetric, so mirrored taps are summed
 * before multiplying (as scipy's correlate1d does for symmetric weights).
 */
export function gaussianBlur(src: Float32Array, plan: BlurPlan, out: Float32Array): Float32Array {
  const { height: H, width: W, kernel, radius: R, rowIdx, padIdx, tmp, line, padded } = plan;
  const n = H * W;
  if (src.length < n) throw new RangeError(`src: expected at least ${n} values (H×W), got ${src.length}`);
  if (out.length < n) throw new RangeError(`out: expected at least ${n} values (H×W), got ${out.length}`);
  const taps = kernel.length;
  const centre = kernel[R];
  // Axis 0: a row of outputs at a time, reading whole source rows (contiguous).
  for (let y = 0; y < H; y++) {
    const base = y * taps;
    const rc = rowIdx[base + R] * W;
    for (let x = 0; x < W; x++) line[x] = centre * src[rc + x];
    for (let k = 0; k < R; k++) {
      const w = kernel[k];
      const ra = rowIdx[base + k] * W;
      const rb = rowIdx[base + taps - 1 - k] * W;
      for (let x = 0; x < W; x++) line[x] += w * (src[ra + x] + src[rb + x]);
    }
    const row = y * W;
    for (let x = 0; x < W; x++) tmp[row + x] = line[x];
  }
  // Axis 1: each row copied into a reflect-padded line, then a direct symmetric convolution.
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let i = 0; i < padded.length; i++) padded[i] = tmp[row + padIdx[i]];
    for (let x = 0; x < W; x++) {
      let acc = centre * padded[x + R];
      for (let k = 0; k < R; k++) acc += kernel[k] * (padded[x + k] + padded[x + 2 * R - k]);
      out[row + x] = acc;
    }
  }
  return out;
}
