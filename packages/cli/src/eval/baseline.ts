/** The "plain pixel distance" baseline: how far the reconstruction is from the input, pixel by pixel. */

/** Per-pixel Euclidean distance over channels between two 1xCxHxW tensors, as an HxW map. */
export function pixelDistanceMap(
  input: Float32Array,
  reconstruction: Float32Array,
  channels: number,
  height: number,
  width: number,
): Float32Array {
  const plane = height * width;
  const n = channels * plane;
  if (input.length < n)
    throw new RangeError(`input must hold ${channels}x${height}x${width} values, got ${input.length}`);
  if (reconstruction.length < n) {
    throw new RangeError(
      `reconstruction must hold ${channels}x${height}x${width} values, got ${reconstruction.length}`,
    );
  }
  const out = new Float32Array(plane);
  for (let c = 0; c < channels; c++) {
    const o = c * plane;
    for (let i = 0; i < plane; i++) {
      const d = input[o + i] - reconstruction[o + i];
      out[i] += d * d;
    }
  }
  for (let i = 0; i < plane; i++) out[i] = Math.sqrt(out[i]);
  return out;
}
