import { crack, displacedPatch, hole, localBlur, scratch, stain } from '../defects.js';
import { rotate, smoothstep } from '../geometry.js';
import { fbm, valueNoise } from '../noise.js';
import type { CategorySpec, Scene } from '../types.js';
import { jitterColor, pointInImage, type Rgb } from './common.js';

interface WoodParams {
  theta: number;
  ox: number;
  oy: number;
  ringPeriod: number;
  light: Rgb;
  dark: Rgb;
  seed: number;
  scale: number;
}

/** Flat-sawn board: growth rings as wavy bands along the board, with fine pores. */
function woodScene(size: number, p: WoodParams): Scene {
  const c = size / 2;
  const s = p.scale;
  return {
    size,
    shade(x, y, out, o) {
      const r = rotate(x - c, y - c, p.theta);
      const u = (r.x + p.ox) / s;
      const v = (r.y + p.oy) / s;
      const warp = fbm(u * 0.006, v * 0.025, p.seed, 3);
      const g = v / p.ringPeriod + 5 * warp;
      const band = (0.5 + 0.5 * Math.sin(2 * Math.PI * g)) ** 3;
      const streak = valueNoise(u * 0.03, v * 0.9, p.seed + 5);
      const pores = smoothstep(0.8, 0.95, valueNoise(u * 0.25, v * 2.2, p.seed + 9));
      const t = Math.min(1, 0.65 * band + 0.25 * streak + 0.3 * pores);
      for (let ch = 0; ch < 3; ch++) out[o + ch] = p.light[ch] + (p.dark[ch] - p.light[ch]) * t;
    },
    backdrop(x, y, out, o) {
      const n = 0.5 + 0.5 * valueNoise(x * 0.4, y * 0.4, p.seed + 3);
      out[o] = 0.16 * n + 0.06;
      out[o + 1] = 0.09 * n + 0.04;
      out[o + 2] = 0.05 * n + 0.02;
    },
    coverage: () => 1,
    samplePoint: (rng, margin) => pointInImage(rng, size, margin),
    edgePoint: (rng) => pointInImage(rng, size, size * 0.15),
    variant(kind, rng, tier) {
      if (kind !== 'placement') return null;
      // a grain break: the rings of the patch do not continue those around it
      const turn = tier === 'hard' ? rng.range(0.15, 0.3) : rng.range(0.4, 0.8);
      return woodScene(size, { ...p, theta: p.theta + rng.sign() * turn, oy: p.oy + p.ringPeriod * s * 0.5 });
    },
  };
}

export const wood: CategorySpec = {
  name: 'wood',
  kind: 'texture',
  description: 'flat-sawn wooden board with growth rings, texture',
  createScene(rng, size) {
    const light = jitterColor(rng, [0.78, 0.58, 0.38], 0.03);
    return woodScene(size, {
      theta: rng.range(-0.06, 0.06),
      ox: rng.range(0, 5000),
      oy: rng.range(0, 5000),
      ringPeriod: rng.range(11, 15),
      light,
      dark: [light[0] * 0.66, light[1] * 0.58, light[2] * 0.5],
      seed: rng.nextUint32(),
      scale: size / 256,
    });
  },
  defects: {
    easy: [
      scratch('scratch', { width: [2.5, 4], contrast: [0.25, 0.4], length: [0.25, 0.45], tone: 1 }),
      crack('crack', { width: [2, 3.5], darkness: [0.6, 0.8], steps: [10, 18] }),
      hole('hole', { radius: [0.03, 0.055] }),
      stain('stain', {
        radius: [0.06, 0.1],
        strength: [0.55, 0.75],
        colors: [
          [0.12, 0.1, 0.08],
          [0.25, 0.3, 0.45],
        ],
      }),
    ],
    hard: [
      scratch('faint_scratch', { width: [1, 1.8], contrast: [0.07, 0.12], length: [0.2, 0.35] }),
      stain('faint_stain', {
        radius: [0.06, 0.1],
        strength: [0.12, 0.2],
        colors: [[0.25, 0.18, 0.12]],
      }),
      displacedPatch('grain_break', { size: [0.16, 0.24] }),
      localBlur('blur', { radius: [0.05, 0.08], kernel: [2, 3] }),
    ],
  },
};
