/**
 * Image score: `rounds` times a k×k mean filter (stride 1, no padding), then the maximum.
 * Each round shrinks the plane by k−1 per axis; a round stops early (and is documented as such) when the plane
 * is already smaller than k in either axis.
 */
export interface PoolPlan {
  height: number;
  width: number;
  kernel: number;
  rounds: number;
  a: Float32Array;
  b: Float32Array;
  rowSums: Float64Array;
}

export function planPoolScore(height: number, width: number, kernel: number, rounds: number): PoolPlan {
  if (!Number.isInteger(kernel) || kernel < 1)
    throw new RangeError(`kernel: expected a positive integer, got ${kernel}`);
  if (!Number.isInteger(rounds) || rounds < 0)
    throw new RangeError(`rounds: expected an integer >= 0, got ${rounds}`);
  if (!Number.isInteger(height) || height < 1)
    throw new RangeError(`height: expected a positive integer, got ${height}`);
  if (!Number.isInteger(width) || width < 1)
    throw new RangeError(`width: expected a positive integer, got ${width}`);
  return {
    height,
    width,
    kernel,
    rounds,
    a: new Float32Array(height * width),
    b: new Float32Array(height * width),
    rowSums: new Float64Array(height * width),
  };
}

/**
 * One k×k mean (stride 1, valid) of an h×w plane into `out` ((h−k+1)×(w−k+1)): sliding window sums in float64,
 * horizontal into `scratch` (h × ow), then vertical.
 */
export function meanFilterValid(
  src: Float32Array,
  h: number,
  w: number,
  k: number,
  out: Float32Array,
  scratch: Float64Array,
): void {
  const oh = h - k + 1;
  const ow = w - k + 1;
  for (let y = 0; y < h; y++) {
    const r = y * w;
    const o = y * ow;
    let s = 0;
    for (let j = 0; j < k; j++) s += src[r + j];
    scratch[o] = s;
    for (let x = 1; x < ow; x++) {
      s += src[r + x + k - 1] - src[r + x - 1];
      scratch[o + x] = s;
    }
  }
  const inv = 1 / (k * k);
  for (let x = 0; x < ow; x++) {
    let s = 0;
    for (let i = 0; i < k; i++) s += scratch[i * ow + x];
    out[x] = s * inv;
    for (let y = 1; y < oh; y++) {
      s += scratch[(y + k - 1) * ow + x] - scratch[(y - 1) * ow + x];
      out[y * ow + x] = s * inv;
    }
  }
}

export function poolScore(map: Float32Array, plan: PoolPlan): number {
  const { kernel: k, rounds } = plan;
  let h = plan.height;
  let w = plan.width;
  if (map.length < h * w)
    throw new RangeError(`map: expected at least ${h * w} values (H×W), got ${map.length}`);
  let src: Float32Array = map;
  let dst = plan.a;
  for (let r = 0; r < rounds && h >= k && w >= k; r++) {
    meanFilterValid(src, h, w, k, dst, plan.rowSums);
    h = h - k + 1;
    w = w - k + 1;
    src = dst;
    dst = dst === plan.a ? plan.b : plan.a;
  }
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < h * w; i++) if (src[i] > max) max = src[i];
  return max;
}
