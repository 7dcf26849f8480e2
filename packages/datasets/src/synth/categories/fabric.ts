import { displacedPatch, hole, localBlur, scratch, stain } from '../defects.js';
import { rotate } from '../geometry.js';
import { valueNoise } from '../noise.js';
import type { Rng } from '../rng.js';
import type { CategorySpec, Scene, Tier } from '../types.js';
import { jitterColor, pointInImage, type Rgb } from './common.js';

interface FabricParams {
  theta: number;
  ox: number;
  oy: number;
  period: number;
  warp: Rgb;
  weft: Rgb;
  seed: number;
}

/** Plain weave: warp threads (vertical) and weft threads (horizontal) alternate over and under. */
function fabricScene(size: number, p: FabricParams): Scene {
  const c = size / 2;
  const thread = (across: number, along: number, color: Rgb, fiber: number) => {
    const profile = Math.sin(Math.PI * across) ** 0.7;
    const dip = 0.78 + 0.22 * Math.sin(Math.PI * along);
    return (ch: number) => color[ch] * (0.5 + 0.5 * profile) * dip * fiber;
  };
  const scene: Scene = {
    size,
    shade(x, y, out, o) {
      const r = rotate(x - c, y - c, p.theta);
      const u = (r.x + p.ox) / p.period;
      const v = (r.y + p.oy) / p.period;
      const i = Math.floor(u);
      const j = Math.floor(v);
      const fu = u - i;
      const fv = v - j;
      const warpOnTop = ((i + j) & 1) === 0;
      const fiber = warpOnTop
        ? 0.9 + 0.2 * valueNoise(u * 6, v * 0.8, p.seed)
        : 0.9 + 0.2 * valueNoise(u * 0.8, v * 6, p.seed + 1);
      const f = warpOnTop ? thread(fu, fv, p.warp, fiber) : thread(fv, fu, p.weft, fiber);
      out[o] = f(0);
      out[o + 1] = f(1);
      out[o + 2] = f(2);
    },
    backdrop(x, y, out, o) {
      const n = 0.06 + 0.04 * valueNoise(x * 0.3, y * 0.3, p.seed + 2);
      out[o] = n;
      out[o + 1] = n * 0.95;
      out[o + 2] = n * 0.9;
    },
    coverage: () => 1,
    samplePoint: (rng, margin) => pointInImage(rng, size, margin),
    edgePoint: (rng) => pointInImage(rng, size, size * 0.15),
    variant(kind, rng: Rng, tier: Tier) {
      if (kind !== 'placement') return null;
      // a weaving fault: threads running at an angle, or the pattern out of step
      const turn = tier === 'hard' ? rng.range(0.12, 0.3) : rng.range(0.3, 0.6);
      return fabricScene(size, { ...p, theta: p.theta + rng.sign() * turn, ox: p.ox + p.period * 0.5 });
    },
  };
  return scene;
}

export const fabric: CategorySpec = {
  name: 'fabric',
  kind: 'texture',
  description: 'woven linen fabric (plain weave), texture',
  createScene(rng, size) {
    const s = size / 256;
    const warp = jitterColor(rng, [0.8, 0.72, 0.58], 0.025);
    return fabricScene(size, {
      theta: rng.range(-0.05, 0.05),
      ox: rng.range(0, 100),
      oy: rng.range(0, 100),
      period: 9 * s * rng.range(0.97, 1.03),
      warp,
      weft: [warp[0] * 0.92, warp[1] * 0.92, warp[2] * 0.9],
      seed: rng.nextUint32(),
    });
  },
  defects: {
    easy: [
      hole('hole', { radius: [0.03, 0.06] }),
      stain('color_stain', {
        radius: [0.05, 0.1],
        strength: [0.55, 0.8],
        colors: [
          [0.2, 0.25, 0.6],
          [0.55, 0.12, 0.1],
          [0.15, 0.12, 0.08],
        ],
      }),
      scratch('cut', { width: [2.5, 4], contrast: [0.3, 0.45], length: [0.2, 0.4], tone: -1 }),
    ],
    hard: [
      stain('faint_stain', {
        radius: [0.05, 0.09],
        strength: [0.16, 0.26],
        colors: [
          [0.45, 0.38, 0.3],
          [0.3, 0.32, 0.5],
        ],
      }),
      scratch('pulled_thread', { width: [1, 1.8], contrast: [0.08, 0.14], length: [0.15, 0.3] }),
      displacedPatch('weave_fault', { size: [0.14, 0.22] }),
      localBlur('blur', { radius: [0.05, 0.08], kernel: [2, 3] }),
    ],
  },
};
