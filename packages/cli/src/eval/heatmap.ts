/** Review panels: the input, the ground truth outlined on it, and the anomaly map over it. */

import { turbo } from '@diad/pipeline';

const GAP = 4;

/**
 * Side-by-side panel (3 tiles of w x h plus gaps, RGB bytes). The map is scaled so that `scaleMax` is the top of the turbo colour map (dark red); the
 * ground-truth outline is green.
 */
export function composePanel(
  rgb: Uint8Array,
  map: Float32Array,
  mask: Uint8Array,
  width: number,
  height: number,
  scaleMax: number,
): { data: Uint8Array; width: number; height: number } {
  const n = width * height;
  if (rgb.length !== n * 3) throw new RangeError(`rgb must hold ${n * 3} bytes, got ${rgb.length}`);
  if (map.length !== n) throw new RangeError(`map must hold ${n} values, got ${map.length}`);
  if (mask.length !== n) throw new RangeError(`mask must hold ${n} values, got ${mask.length}`);
  const scale = scaleMax > 0 && Number.isFinite(scaleMax) ? scaleMax : 1;
  const W = 3 * width + 2 * GAP;
  const out = new Uint8Array(W * height * 3).fill(255);
  const put = (tile: number, x: number, y: number, r: number, g: number, b: number) => {
    const o = (y * W + tile * (width + GAP) + x) * 3;
    out[o] = r;
    out[o + 1] = g;
    out[o + 2] = b;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const [r, g, b] = [rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]];
      put(0, x, y, r, g, b);
      const edge =
        mask[i] > 0 &&
        (x === 0 ||
          y === 0 ||
          x === width - 1 ||
          y === height - 1 ||
          !mask[i - 1] ||
          !mask[i + 1] ||
          !mask[i - width] ||
          !mask[i + width]);
      if (edge) put(1, x, y, 0, 255, 0);
      else put(1, x, y, r, g, b);
      const [hr, hg, hb] = turbo(map[i] / scale);
      put(2, x, y, (r + hr) >> 1, (g + hg) >> 1, (b + hb) >> 1);
    }
  }
  return { data: out, width: W, height };
}
