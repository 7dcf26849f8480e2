import { misprint, scratch, stain } from '../defects.js';
import { clamp, insidePolygon, type Point, smoothstep } from '../geometry.js';
import { fbm } from '../noise.js';
import type { CategorySpec, Scene } from '../types.js';
import { jitterColor, type Rgb } from './common.js';

interface CapParams {
  cx: number;
  cy: number;
  radius: number;
  color: Rgb;
  /** Print placement relative to the cap centre. */
  printAngle: number;
  printDx: number;
  printDy: number;
  /** Fraction of the star drawn (1 = whole print; a misprint may lose part of it). */
  printCut: number;
  seed: number;
  scale: number;
}

function star(radius: number, inner: number): Point[] {
  const pts: Point[] = [];
  for (let k = 0; k < 10; k++) {
    const a = -Math.PI / 2 + (k * Math.PI) / 5;
    const r = k % 2 === 0 ? radius : inner;
    pts.push({ x: r * Math.cos(a), y: r * Math.sin(a) });
  }
  return pts;
}

const SUBSAMPLES = [
  [-0.25, -0.25],
  [0.25, -0.25],
  [-0.25, 0.25],
  [0.25, 0.25],
] as const;

/** A red crown-style bottle cap with a knurled skirt and a printed star logo, seen from above. */
function capScene(size: number, p: CapParams): Scene {
  const s = p.scale;
  const logo = star(p.radius * 0.42, p.radius * 0.18);
  const ink: Rgb = [0.95, 0.92, 0.84];
  const cos = Math.cos(-p.printAngle);
  const sin = Math.sin(-p.printAngle);
  const printed = (x: number, y: number): boolean => {
    const dx = x - p.cx - p.printDx;
    const dy = y - p.cy - p.printDy;
    const r = Math.sqrt(dx * dx + dy * dy);
    if (r > p.radius * 0.61 && r < p.radius * 0.67) return true;
    const u = dx * cos - dy * sin;
    const v = dx * sin + dy * cos;
    if (v > p.radius * 0.42 * (2 * p.printCut - 1)) return false;
    return insidePolygon(u, v, logo);
  };
  const conveyor = (x: number, y: number, out: Float32Array, o: number) => {
    const n = 0.93 + 0.1 * fbm(x * 0.04, y * 0.04, p.seed + 3, 2);
    const dx = x - p.cx - 5 * s;
    const dy = y - p.cy - 5 * s;
    const shadow = 1 - 0.35 * smoothstep(p.radius + 6 * s, p.radius - 2 * s, Math.sqrt(dx * dx + dy * dy));
    out[o] = 0.78 * n * shadow;
    out[o + 1] = 0.78 * n * shadow;
    out[o + 2] = 0.76 * n * shadow;
  };
  const coverage = (x: number, y: number) => {
    const dx = x - p.cx;
    const dy = y - p.cy;
    return clamp(p.radius - Math.sqrt(dx * dx + dy * dy) + 0.5, 0, 1);
  };
  const scene: Scene = {
    size,
    shade(x, y, out, o) {
      conveyor(x, y, out, o);
      const cover = coverage(x, y);
      if (cover <= 0) return;
      const dx = x - p.cx;
      const dy = y - p.cy;
      const r = Math.sqrt(dx * dx + dy * dy);
      const a = Math.atan2(dy, dx);
      let k: number;
      let ink01 = 0;
      if (r > p.radius * 0.86) {
        // knurled skirt, curving away from the light
        const ridge = 0.7 + 0.3 * Math.cos(a * 48);
        k = ridge * (1 - 0.9 * ((r - p.radius * 0.86) / (p.radius * 0.14)) ** 2) * 0.9;
      } else {
        const hx = dx + p.radius * 0.3;
        const hy = dy + p.radius * 0.3;
        k = 0.88 + 0.3 * Math.exp(-(hx * hx + hy * hy) / (p.radius * p.radius * 0.18));
        for (const [sx, sy] of SUBSAMPLES) if (printed(x + sx, y + sy)) ink01 += 0.25;
      }
      for (let ch = 0; ch < 3; ch++) {
        const paint = p.color[ch] * (1 - ink01) + ink[ch] * ink01;
        out[o + ch] = out[o + ch] * (1 - cover) + paint * k * cover;
      }
    },
    backdrop: conveyor,
    coverage,
    samplePoint(rng) {
      const r = p.radius * 0.8 * Math.sqrt(rng.next());
      const a = rng.range(0, 2 * Math.PI);
      return { x: p.cx + r * Math.cos(a), y: p.cy + r * Math.sin(a) };
    },
    edgePoint(rng) {
      const a = rng.range(0, 2 * Math.PI);
      return { x: p.cx + p.radius * Math.cos(a), y: p.cy + p.radius * Math.sin(a) };
    },
    variant(kind, rng, tier) {
      if (kind !== 'print') return null;
      if (tier === 'hard') {
        // slightly misplaced print: a few pixels off, or turned a little
        if (rng.next() < 0.6) {
          const d = rng.range(3, 5) * s;
          const a = rng.range(0, 2 * Math.PI);
          return capScene(size, {
            ...p,
            printDx: p.printDx + d * Math.cos(a),
            printDy: p.printDy + d * Math.sin(a),
          });
        }
        return capScene(size, { ...p, printAngle: p.printAngle + rng.sign() * rng.range(0.12, 0.2) });
      }
      const mode = rng.int(0, 3);
      if (mode === 0) {
        const d = rng.range(10, 16) * s;
        const a = rng.range(0, 2 * Math.PI);
        return capScene(size, {
          ...p,
          printDx: p.printDx + d * Math.cos(a),
          printDy: p.printDy + d * Math.sin(a),
        });
      }
      if (mode === 1)
        return capScene(size, { ...p, printAngle: p.printAngle + rng.sign() * rng.range(0.45, 0.8) });
      return capScene(size, { ...p, printCut: rng.range(0.3, 0.6) });
    },
  };
  return scene;
}

export const bottleCap: CategorySpec = {
  name: 'bottle_cap',
  kind: 'object',
  description: 'red bottle cap with a knurled skirt and a printed star, seen from above, object',
  createScene(rng, size) {
    const s = size / 256;
    return capScene(size, {
      cx: size / 2 + rng.range(-8, 8) * s,
      cy: size / 2 + rng.range(-8, 8) * s,
      radius: 92 * s * rng.range(0.98, 1.02),
      color: jitterColor(rng, [0.72, 0.1, 0.09], 0.02),
      printAngle: rng.range(-0.08, 0.08),
      printDx: rng.range(-0.8, 0.8) * s,
      printDy: rng.range(-0.8, 0.8) * s,
      printCut: 1,
      seed: rng.nextUint32(),
      scale: s,
    });
  },
  defects: {
    easy: [
      scratch('scratch', { width: [2.5, 4], contrast: [0.3, 0.45], length: [0.15, 0.3], tone: 1 }),
      misprint('misprint'),
      stain('contamination', {
        radius: [0.04, 0.07],
        strength: [0.6, 0.8],
        colors: [
          [0.12, 0.1, 0.08],
          [0.3, 0.45, 0.2],
        ],
      }),
    ],
    hard: [
      scratch('thin_scratch', { width: [1, 1.6], contrast: [0.08, 0.14], length: [0.12, 0.22], tone: 1 }),
      misprint('misplaced_print'),
      stain('faint_stain', {
        radius: [0.04, 0.07],
        strength: [0.12, 0.2],
        colors: [[0.3, 0.15, 0.1]],
      }),
    ],
  },
};
