import { crack, displacedPatch, missingPiece, scratch, stain } from '../defects.js';
import { rotate, smoothstep } from '../geometry.js';
import { cellHash, fbm, valueNoise } from '../noise.js';
import type { CategorySpec, Scene } from '../types.js';
import { jitterColor, pointInImage, type Rgb } from './common.js';

interface TileParams {
  theta: number;
  ox: number;
  oy: number;
  pitch: number;
  grout: number;
  color: Rgb;
  groutColor: Rgb;
  seed: number;
}

/** Square glazed tiles in a grid with grout joints; light from the top left picks out the tile bevels. */
function tileScene(size: number, p: TileParams): Scene {
  const c = size / 2;
  const toUv = (x: number, y: number) => {
    const r = rotate(x - c, y - c, p.theta);
    return { u: r.x + p.ox, v: r.y + p.oy };
  };
  const scene: Scene = {
    size,
    shade(x, y, out, o) {
      const { u, v } = toUv(x, y);
      const i = Math.floor(u / p.pitch);
      const j = Math.floor(v / p.pitch);
      const lu = u - i * p.pitch;
      const lv = v - j * p.pitch;
      const g = p.grout / 2;
      const edge = Math.min(lu, lv, p.pitch - lu, p.pitch - lv);
      if (edge < g) {
        const n = 0.85 + 0.3 * valueNoise(u * 0.7, v * 0.7, p.seed + 4);
        for (let ch = 0; ch < 3; ch++) out[o + ch] = p.groutColor[ch] * n;
        return;
      }
      const tone = 0.96 + 0.08 * cellHash(i, j, p.seed);
      const mottle = 0.94 + 0.1 * fbm(u * 0.04, v * 0.04, p.seed + 1, 3);
      // bevel: lit on the top and left edges, shaded on the bottom and right
      const bevel = 2.5 * (p.pitch / 64);
      let shade = 1;
      if (lu - g < bevel) shade += 0.12 * (1 - (lu - g) / bevel);
      if (lv - g < bevel) shade += 0.12 * (1 - (lv - g) / bevel);
      if (p.pitch - lu - g < bevel) shade -= 0.18 * (1 - (p.pitch - lu - g) / bevel);
      if (p.pitch - lv - g < bevel) shade -= 0.18 * (1 - (p.pitch - lv - g) / bevel);
      const speck = smoothstep(0.9, 0.97, valueNoise(u * 0.6, v * 0.6, p.seed + 2)) * 0.15;
      for (let ch = 0; ch < 3; ch++) out[o + ch] = p.color[ch] * tone * mottle * shade - speck;
    },
    backdrop(x, y, out, o) {
      // the rough mortar bed under a broken-off corner
      const n = 0.75 + 0.5 * fbm(x * 0.3, y * 0.3, p.seed + 6, 2);
      out[o] = 0.36 * n;
      out[o + 1] = 0.34 * n;
      out[o + 2] = 0.31 * n;
    },
    coverage: () => 1,
    samplePoint: (rng, margin) => pointInImage(rng, size, margin),
    edgePoint(rng) {
      // a tile corner near the middle of the image
      const q = pointInImage(rng, size, size * 0.25);
      const { u, v } = toUv(q.x, q.y);
      const cu = Math.round(u / p.pitch) * p.pitch - p.ox;
      const cv = Math.round(v / p.pitch) * p.pitch - p.oy;
      const back = rotate(cu, cv, -p.theta);
      const inset = p.grout * 0.5;
      return { x: back.x + c + rng.sign() * inset, y: back.y + c + rng.sign() * inset };
    },
    variant(kind, rng, tier) {
      if (kind !== 'placement') return null;
      // a tile laid out of line: joints of the patch do not meet those around it
      const shift = (tier === 'hard' ? rng.range(0.12, 0.22) : rng.range(0.3, 0.45)) * p.pitch;
      return tileScene(size, { ...p, ox: p.ox + rng.sign() * shift, oy: p.oy + rng.sign() * shift * 0.5 });
    },
  };
  return scene;
}

export const tile: CategorySpec = {
  name: 'tile',
  kind: 'texture',
  description: 'glazed ceramic tiles in a grid with grout joints, texture',
  createScene(rng, size) {
    const s = size / 256;
    return tileScene(size, {
      theta: rng.range(-0.03, 0.03),
      ox: rng.range(0, 64 * s),
      oy: rng.range(0, 64 * s),
      pitch: 64 * s * rng.range(0.98, 1.02),
      grout: 5 * s,
      color: jitterColor(rng, [0.7, 0.77, 0.82], 0.02),
      groutColor: jitterColor(rng, [0.47, 0.45, 0.42], 0.02),
      seed: rng.nextUint32(),
    });
  },
  defects: {
    easy: [
      crack('crack', { width: [2, 3], darkness: [0.6, 0.8], steps: [10, 18] }),
      missingPiece('chipped_corner', { radius: [0.04, 0.07] }),
      stain('stain', {
        radius: [0.06, 0.1],
        strength: [0.55, 0.75],
        colors: [
          [0.35, 0.22, 0.08],
          [0.1, 0.1, 0.1],
        ],
      }),
    ],
    hard: [
      crack('hairline_crack', { width: [0.8, 1.3], darkness: [0.2, 0.32], steps: [8, 14] }),
      stain('faint_stain', {
        radius: [0.06, 0.1],
        strength: [0.1, 0.18],
        colors: [[0.5, 0.42, 0.3]],
      }),
      displacedPatch('misaligned', { size: [0.18, 0.26] }),
      scratch('faint_scratch', { width: [1, 1.6], contrast: [0.07, 0.12], length: [0.2, 0.35] }),
    ],
  },
};
