/** Source coordinate table for one axis of an align-corners bilinear resize. */
function axisTable(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; w: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w = new Float64Array(outSize);
  const ratio = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  for (let o = 0; o < outSize; o++) {
    const src = o * ratio;
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[o] = lo;
    i1[o] = Math.min(lo + 1, inSize - 1);
    w[o] = src - lo;
  }
  return { i0, i1, w };
}

export interface UpsamplePlan {
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  rows: ReturnType<typeof axisTable>;
  cols: ReturnType<typeof axisTable>;
}

/** Precomputes index/weight tables (allocate once per session, reuse per frame). */
export function planUpsample(inH: number, inW: number, outH: number, outW: number): UpsamplePlan {
  for (const [name, v] of [
    ['inH', inH],
    ['inW', inW],
    ['outH', outH],
    ['outW', outW],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name}: expected a positive integer, got ${v}`);
  }
  return { inH, inW, outH, outW, rows: axisTable(inH, outH), cols: axisTable(inW, outW) };
}

/**
 * Bilinear resize with align_corners=True (torch F.interpolate semantics) of one H×W plane.
 * `accumulate` adds into `out` instead of overwriting (the anomaly map sums layers).
 */
export function upsampleBilinearAlignCorners(
  src: Float32Array,
  plan: UpsamplePlan,
  out: Float32Array,
  accumulate = false,
): Float32Array {
  const { inW, outH, outW, rows, cols } = plan;
  if (src.length < plan.inH * inW) throw new RangeError(`src: expected at least ${plan.inH * inW} values`);
  if (out.length < outH * outW) throw new RangeError(`out: expected at least ${outH * outW} values`);
  for (let y = 0; y < outH; y++) {
    const r0 = rows.i0[y] * inW;
    const r1 = rows.i1[y] * inW;
    const wy = rows.w[y];
    const o = y * outW;
    for (let x = 0; x < outW; x++) {
      const c0 = cols.i0[x];
      const c1 = cols.i1[x];
      const wx = cols.w[x];
      const top = src[r0 + c0] * (1 - wx) + src[r0 + c1] * wx;
      const bot = src[r1 + c0] * (1 - wx) + src[r1 + c1] * wx;
      const v = top * (1 - wy) + bot * wy;
      out[o + x] = accumulate ? out[o + x] + v : v;
    }
  }
  return out;
}
