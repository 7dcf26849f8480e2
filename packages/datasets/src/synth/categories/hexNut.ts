import { localBlur, missingPiece, scratch, stain } from '../defects.js';
import { clamp, hexagonSdf, smoothstep } from '../geometry.js';
import { fbm, valueNoise } from '../noise.js';
import type { CategorySpec, Scene } from '../types.js';
import { jitterColor, type Rgb } from './common.js';

interface NutParams {
  cx: number;
  cy: number;
  theta: number;
  radius: number;
  metal: Rgb;
  light: number;
  seed: number;
  scale: number;
}

/** A steel hex nut lying on a dark conveyor belt, seen from above under a ring light. */
function nutScene(size: number, p: NutParams): Scene {
  const s = p.scale;
  const inradius = p.radius * 0.866;
  const holeR = p.radius * 0.42;
  const belt = (x: number, y: number, out: Float32Array, o: number) => {
    const n = 0.85 + 0.3 * fbm(x * 0.05, y * 0.5, p.seed + 7, 2);
    const shadowSdf = hexagonSdf(x - p.cx - 4 * s, y - p.cy - 4 * s, p.radius, p.theta);
    const shadow = 1 - 0.45 * smoothstep(6 * s, -3 * s, shadowSdf);
    out[o] = 0.2 * n * shadow;
    out[o + 1] = 0.21 * n * shadow;
    out[o + 2] = 0.23 * n * shadow;
  };
  const coverage = (x: number, y: number) => {
    const dx = x - p.cx;
    const dy = y - p.cy;
    const outer = clamp(0.5 - hexagonSdf(dx, dy, p.radius, p.theta), 0, 1);
    const inner = clamp(Math.sqrt(dx * dx + dy * dy) - holeR + 0.5, 0, 1);
    return outer * inner;
  };
  const metal = new Float32Array(3);
  const under = new Float32Array(3);
  return {
    size,
    shade(x, y, out, o) {
      const dx = x - p.cx;
      const dy = y - p.cy;
      const r = Math.sqrt(dx * dx + dy * dy);
      const a = Math.atan2(dy, dx);
      // light from the upper left, concentric turning marks on the bearing face
      const lit = 1 + p.light * (-(dx + dy) / (1.41 * p.radius));
      const turning = 0.92 + 0.16 * valueNoise(r * 0.9, a * 3, p.seed);
      let k = lit * turning;
      if (r > inradius * 0.95) k *= 0.72 + 0.2 * Math.cos(a - (5 * Math.PI) / 4); // chamfered corners
      if (r < holeR * 1.25) k *= 0.8 + 0.35 * ((r - holeR) / (holeR * 0.25)); // countersink
      for (let ch = 0; ch < 3; ch++) metal[ch] = p.metal[ch] * k;
      // the bore: threads on the wall, the belt deep in shadow below
      const threads = 0.5 + 0.5 * Math.sin(r * 2.2 + a * 0.3);
      const depth = smoothstep(holeR * 0.75, holeR, r);
      belt(x, y, under, 0);
      for (let ch = 0; ch < 3; ch++) {
        under[ch] = under[ch] * 0.35 * (1 - depth) + p.metal[ch] * (0.25 + 0.2 * threads) * depth;
      }
      belt(x, y, out, o);
      const outer = clamp(0.5 - hexagonSdf(dx, dy, p.radius, p.theta), 0, 1);
      const face = clamp(r - holeR + 0.5, 0, 1);
      for (let ch = 0; ch < 3; ch++) {
        const part = metal[ch] * face + under[ch] * (1 - face);
        out[o + ch] = out[o + ch] * (1 - outer) + part * outer;
      }
    },
    backdrop: belt,
    coverage,
    samplePoint(rng) {
      const r = rng.range(holeR * 1.35, inradius * 0.88);
      const a = rng.range(0, 2 * Math.PI);
      return { x: p.cx + r * Math.cos(a), y: p.cy + r * Math.sin(a) };
    },
    edgePoint(rng) {
      const k = rng.int(0, 6);
      const a = p.theta + (k * Math.PI) / 3 + rng.range(-0.12, 0.12);
      const r = p.radius * rng.range(0.92, 1);
      return { x: p.cx + r * Math.cos(a), y: p.cy + r * Math.sin(a) };
    },
    variant: () => null,
  };
}

export const hexNut: CategorySpec = {
  name: 'hex_nut',
  kind: 'object',
  description: 'steel hex nut on a dark conveyor, seen from above, object',
  createScene(rng, size) {
    const s = size / 256;
    return nutScene(size, {
      cx: size / 2 + rng.range(-8, 8) * s,
      cy: size / 2 + rng.range(-8, 8) * s,
      theta: rng.range(-0.15, 0.15),
      radius: 82 * s * rng.range(0.98, 1.02),
      metal: jitterColor(rng, [0.66, 0.67, 0.7], 0.02),
      light: rng.range(0.12, 0.22),
      seed: rng.nextUint32(),
      scale: s,
    });
  },
  defects: {
    easy: [
      scratch('scratch', { width: [2.5, 4], contrast: [0.3, 0.45], length: [0.12, 0.22], tone: 1 }),
      missingPiece('chipped_corner', { radius: [0.05, 0.08] }),
      stain('rust', {
        radius: [0.035, 0.06],
        strength: [0.6, 0.8],
        colors: [
          [0.55, 0.25, 0.08],
          [0.45, 0.2, 0.1],
        ],
      }),
    ],
    hard: [
      scratch('thin_scratch', { width: [1, 1.6], contrast: [0.08, 0.14], length: [0.1, 0.18] }),
      stain('faint_rust', {
        radius: [0.035, 0.06],
        strength: [0.12, 0.2],
        colors: [[0.55, 0.3, 0.12]],
      }),
      localBlur('dent', { radius: [0.035, 0.05], kernel: [2, 3] }),
    ],
  },
};
