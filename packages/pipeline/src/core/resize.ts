/**
 * Pillow's bilinear resize (`Image.resize(size, Image.BILINEAR)`, Pillow's Resample.c), reproduced exactly: the
 * training tools, the calibration and the official DiAD data loader resize with it, so serving must too.
 *
 * Separable convolution with the triangle filter; when shrinking, the filter is widened by the scale factor
 * (antialiasing: every source pixel contributes). Horizontal pass first (only the source rows the vertical pass
 * needs), then vertical. 8-bit images use Pillow's fixed-point weights (22 fractional bits, rounding, clipping to
 * 0…255) and an 8-bit intermediate image; float images (Pillow mode "F") accumulate in doubles and store float32.
 */

const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

interface Coefficients {
  /** Per output pixel: first source index and number of taps. */
  bounds: Int32Array;
  /** outSize × ksize normalised weights (unused taps are 0). */
  weights: Float64Array;
  ksize: number;
}

function triangle(x: number): number {
  const a = x < 0 ? -x : x;
  return a < 1 ? 1 - a : 0;
}

/** Pillow's precompute_coeffs for the bilinear filter (support 1) over the whole input (box 0…inSize). */
function precompute(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const base = xx * ksize;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = triangle((x + xmin - center + 0.5) * ss);
      weights[base + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) weights[base + x] /= ww;
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, weights, ksize };
}

/** Pillow's normalize_coeffs_8bpc: weights to 22-bit fixed point, rounded half away from zero. */
function fixedPoint(c: Coefficients): Int32Array {
  const out = new Int32Array(c.weights.length);
  for (let i = 0; i < out.length; i++) {
    const w = c.weights[i];
    out[i] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
  }
  return out;
}

function clip8(v: number): number {
  if (v <= 0) return 0;
  const q = Math.floor(v / ONE);
  return Math.min(q, 255);
}

type Pixels = Uint8Array | Float32Array;

function horizontal(
  src: Pixels,
  srcW: number,
  rowFirst: number,
  rows: number,
  ch: number,
  outW: number,
  c: Coefficients,
  kInt: Int32Array | undefined,
  dst: Pixels,
): void {
  const { bounds, weights, ksize } = c;
  if (kInt && ch === 3) {
    // The common case (8-bit RGB), with the three bands in one pass over the taps.
    for (let y = 0; y < rows; y++) {
      const rowIn = (y + rowFirst) * srcW * 3;
      let o = y * outW * 3;
      for (let xx = 0; xx < outW; xx++) {
        const n = bounds[xx * 2 + 1];
        const kb = xx * ksize;
        let at = rowIn + bounds[xx * 2] * 3;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0; x < n; x++, at += 3) {
          const k = kInt[kb + x];
          s0 += src[at] * k;
          s1 += src[at + 1] * k;
          s2 += src[at + 2] * k;
        }
        dst[o++] = clip8(s0);
        dst[o++] = clip8(s1);
        dst[o++] = clip8(s2);
      }
    }
    return;
  }
  for (let y = 0; y < rows; y++) {
    const rowIn = (y + rowFirst) * srcW * ch;
    const rowOut = y * outW * ch;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2];
      const n = bounds[xx * 2 + 1];
      const kb = xx * ksize;
      for (let b = 0; b < ch; b++) {
        let at = rowIn + xmin * ch + b;
        if (kInt) {
          let ss = HALF;
          for (let x = 0; x < n; x++, at += ch) ss += src[at] * kInt[kb + x];
          dst[rowOut + xx * ch + b] = clip8(ss);
        } else {
          let ss = 0;
          for (let x = 0; x < n; x++, at += ch) ss += src[at] * weights[kb + x];
          dst[rowOut + xx * ch + b] = ss;
        }
      }
    }
  }
}

function vertical(
  src: Pixels,
  w: number,
  rowShift: number,
  ch: number,
  outH: number,
  c: Coefficients,
  kInt: Int32Array | undefined,
  dst: Pixels,
): void {
  const { bounds, weights, ksize } = c;
  const stride = w * ch;
  if (kInt) {
    // Row by row over the taps (sequential memory); the sums are exact integers below 2^31, as in Pillow.
    const acc = new Float64Array(stride);
    for (let yy = 0; yy < outH; yy++) {
      const base = (bounds[yy * 2] - rowShift) * stride;
      const n = bounds[yy * 2 + 1];
      const kb = yy * ksize;
      const rowOut = yy * stride;
      acc.fill(HALF);
      for (let y = 0; y < n; y++) {
        const k = kInt[kb + y];
        const row = base + y * stride;
        for (let i = 0; i < stride; i++) acc[i] += src[row + i] * k;
      }
      for (let i = 0; i < stride; i++) dst[rowOut + i] = clip8(acc[i]);
    }
    return;
  }
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2] - rowShift;
    const n = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    const rowOut = yy * stride;
    for (let i = 0; i < stride; i++) {
      let at = ymin * stride + i;
      if (kInt) {
        let ss = HALF;
        for (let y = 0; y < n; y++, at += stride) ss += src[at] * kInt[kb + y];
        dst[rowOut + i] = clip8(ss);
      } else {
        let ss = 0;
        for (let y = 0; y < n; y++, at += stride) ss += src[at] * weights[kb + y];
        dst[rowOut + i] = ss;
      }
    }
  }
}

/**
 * Resizes an interleaved image (height × width × channels, top row first) to outWidth × outHeight exactly as
 * Pillow's `Image.resize((outWidth, outHeight), Image.BILINEAR)` does: per band for 8-bit images (modes L, RGB),
 * or for float images (mode F, one band; several bands are resized independently the same way). Returns `out`
 * (allocated when absent) of the input's type.
 */
export function resizeLikePil<T extends Pixels>(
  src: T,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  out?: T,
): T {
  for (const [k, v] of Object.entries({ width, height, channels, outWidth, outHeight })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k}: expected a positive integer, got ${v}`);
  }
  if (src.length !== width * height * channels) {
    throw new RangeError(
      `src: expected ${width * height * channels} values (width × height × channels), got ${src.length}`,
    );
  }
  const isByte = src instanceof Uint8Array;
  const make = (n: number): T => (isByte ? new Uint8Array(n) : new Float32Array(n)) as T;
  const dst = out ?? make(outWidth * outHeight * channels);
  if (dst.length !== outWidth * outHeight * channels || dst instanceof Uint8Array !== isByte) {
    throw new RangeError(
      `out: expected a ${src.constructor.name} of ${outWidth * outHeight * channels} values`,
    );
  }
  const needH = outWidth !== width;
  const needV = outHeight !== height;
  if (!needH && !needV) {
    dst.set(src);
    return dst;
  }
  const ch = precompute(width, outWidth);
  const cv = precompute(height, outHeight);
  const kh = isByte ? fixedPoint(ch) : undefined;
  const kv = isByte ? fixedPoint(cv) : undefined;
  if (!needV) {
    horizontal(src, width, 0, height, channels, outWidth, ch, kh, dst);
    return dst;
  }
  if (!needH) {
    vertical(src, width, 0, channels, outHeight, cv, kv, dst);
    return dst;
  }
  // Only the rows the vertical pass reads are resized horizontally (Pillow's ybox_first … ybox_last).
  const first = cv.bounds[0];
  const last = cv.bounds[outHeight * 2 - 2] + cv.bounds[outHeight * 2 - 1];
  const tmp = make(outWidth * (last - first) * channels);
  horizontal(src, width, first, last - first, channels, outWidth, ch, kh, tmp);
  vertical(tmp, outWidth, first, channels, outHeight, cv, kv, dst);
  return dst;
}
