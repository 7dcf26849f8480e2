import { bezier, clamp, distToSegment, type Point, smoothstep } from './geometry.js';
import { fbm, valueNoise } from './noise.js';
import type { DefectContext, DefectSpec } from './types.js';

/**
 * Generic defect painters. Each one derives its mask from the same geometry it paints with, and writes colour
 * only where it sets the mask, so the mask is exactly the set of pixels the defect changes.
 */

type Range = readonly [number, number];
type Rgb = readonly [number, number, number];

function box(points: readonly Point[], pad: number, size: number) {
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    x0 = Math.min(x0, p.x);
    y0 = Math.min(y0, p.y);
    x1 = Math.max(x1, p.x);
    y1 = Math.max(y1, p.y);
  }
  return {
    x0: clamp(Math.floor(x0 - pad), 0, size - 1),
    y0: clamp(Math.floor(y0 - pad), 0, size - 1),
    x1: clamp(Math.ceil(x1 + pad), 0, size - 1),
    y1: clamp(Math.ceil(y1 + pad), 0, size - 1),
  };
}

function distToPolyline(px: number, py: number, pts: readonly Point[]): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 1; i < pts.length; i++) best = Math.min(best, distToSegment(px, py, pts[i - 1], pts[i]));
  return best;
}

/** Paints a stroke of the given half-width along a polyline; `apply` receives the 0..1 centre profile. */
function stroke(
  ctx: DefectContext,
  pts: readonly Point[],
  halfWidth: number,
  apply: (i: number, profile: number, x: number, y: number) => void,
): void {
  const { size, scene, mask } = ctx;
  // a line narrower than a pixel still marks the pixels it crosses
  const reach = Math.max(halfWidth, 0.5);
  const b = box(pts, reach + 1, size);
  for (let y = b.y0; y <= b.y1; y++) {
    for (let x = b.x0; x <= b.x1; x++) {
      const cx = x + 0.5;
      const cy = y + 0.5;
      const d = distToPolyline(cx, cy, pts);
      if (d > reach || scene.coverage(cx, cy) < 0.5) continue;
      const i = y * size + x;
      mask[i] = 1;
      apply(i * 3, 1 - 0.6 * (d / reach) ** 2, cx, cy);
    }
  }
}

/** A curved line lighter or darker than the surface: scratch, cut thread, pulled yarn. */
export function scratch(
  name: string,
  o: { width: Range; contrast: Range; length: Range; tone?: 1 | -1 },
): DefectSpec {
  return {
    name,
    paint(ctx) {
      const { size, rng, scene, out } = ctx;
      const s = size / 256;
      const a = scene.samplePoint(rng, 0.12 * size);
      const len = rng.range(o.length[0], o.length[1]) * size;
      const angle = rng.range(0, 2 * Math.PI);
      const b = { x: a.x + len * Math.cos(angle), y: a.y + len * Math.sin(angle) };
      const bend = rng.range(-0.25, 0.25) * len;
      const control = {
        x: (a.x + b.x) / 2 - Math.sin(angle) * bend,
        y: (a.y + b.y) / 2 + Math.cos(angle) * bend,
      };
      const pts = bezier(a, control, b, 24);
      const half = (rng.range(o.width[0], o.width[1]) * s) / 2;
      const contrast = rng.range(o.contrast[0], o.contrast[1]);
      const tone = o.tone ?? rng.sign();
      const seed = rng.nextUint32();
      stroke(ctx, pts, half, (p, profile, x, y) => {
        // scratches are uneven along their length
        const k = tone * contrast * profile * (0.75 + 0.5 * valueNoise(x * 0.15, y * 0.15, seed));
        for (let c = 0; c < 3; c++) out[p + c] = clamp(out[p + c] + k, 0, 1);
      });
    },
  };
}

/** A jagged dark line that may fork: crack. */
export function crack(name: string, o: { width: Range; darkness: Range; steps: Range }): DefectSpec {
  return {
    name,
    paint(ctx) {
      const { size, rng, scene, out } = ctx;
      const s = size / 256;
      const walk = (start: Point, heading: number, steps: number): Point[] => {
        const pts = [start];
        let h = heading;
        let p = start;
        for (let i = 0; i < steps; i++) {
          h += rng.range(-0.6, 0.6);
          const step = rng.range(3, 6) * s;
          p = { x: p.x + step * Math.cos(h), y: p.y + step * Math.sin(h) };
          pts.push(p);
        }
        return pts;
      };
      const start = scene.samplePoint(rng, 0.15 * size);
      const heading = rng.range(0, 2 * Math.PI);
      const steps = rng.int(o.steps[0], o.steps[1]);
      const branches = [walk(start, heading, steps), walk(start, heading + Math.PI, Math.ceil(steps / 2))];
      const main = branches[0];
      if (rng.next() < 0.6) {
        const fork = main[Math.floor(main.length / 2)];
        branches.push(walk(fork, heading + rng.sign() * rng.range(0.6, 1.2), Math.ceil(steps / 3)));
      }
      const half = (rng.range(o.width[0], o.width[1]) * s) / 2;
      const darkness = rng.range(o.darkness[0], o.darkness[1]);
      for (const pts of branches) {
        stroke(ctx, pts, half, (p, profile) => {
          for (let c = 0; c < 3; c++) out[p + c] = ctx.clean[p + c] * (1 - darkness * profile);
        });
      }
    },
  };
}

/** Iterates a blob with an irregular outline; rho < 1 inside, 0 at the centre. */
function blob(
  ctx: DefectContext,
  centre: Point,
  radius: number,
  irregularity: number,
  visit: (i: number, rho: number, x: number, y: number) => void,
): void {
  const { size, rng, scene, mask } = ctx;
  const seed = rng.nextUint32();
  const reach = radius * (1 + irregularity);
  const b = box([centre], reach + 1, size);
  for (let y = b.y0; y <= b.y1; y++) {
    for (let x = b.x0; x <= b.x1; x++) {
      const cx = x + 0.5;
      const cy = y + 0.5;
      const dx = cx - centre.x;
      const dy = cy - centre.y;
      const a = Math.atan2(dy, dx);
      const wobble =
        1 + irregularity * (2 * valueNoise(1.5 * Math.cos(a) + 7, 1.5 * Math.sin(a) + 7, seed) - 1);
      const rho = Math.sqrt(dx * dx + dy * dy) / (radius * wobble);
      if (rho > 1 || scene.coverage(cx, cy) < 0.5) continue;
      const i = y * size + x;
      mask[i] = 1;
      visit(i * 3, rho, cx, cy);
    }
  }
}

/** A blotch that tints the surface towards a colour (ink, oil, rust) or darkens it. */
export function stain(
  name: string,
  o: { radius: Range; strength: Range; colors: readonly Rgb[] },
): DefectSpec {
  return {
    name,
    paint(ctx) {
      const { size, rng, scene, out, clean } = ctx;
      const radius = rng.range(o.radius[0], o.radius[1]) * size;
      const centre = scene.samplePoint(rng, radius + 0.05 * size);
      const strength = rng.range(o.strength[0], o.strength[1]);
      const color = rng.pick(o.colors);
      const seed = rng.nextUint32();
      blob(ctx, centre, radius, 0.3, (p, rho, x, y) => {
        const mottle = 0.7 + 0.6 * fbm(x * 0.08, y * 0.08, seed, 3);
        const alpha = clamp(strength * mottle * (0.45 + 0.55 * smoothstep(1, 0.4, rho)), 0, 1);
        // keep the texture visible through the stain: tint multiplies, it does not paint over
        const lum = (clean[p] + clean[p + 1] + clean[p + 2]) / 3;
        for (let c = 0; c < 3; c++) out[p + c] = clean[p + c] * (1 - alpha) + color[c] * (0.4 + lum) * alpha;
      });
    },
  };
}

/** A hole through the surface: the backdrop shows through. */
export function hole(name: string, o: { radius: Range }): DefectSpec {
  return {
    name,
    paint(ctx) {
      const { size, rng, scene, out, clean } = ctx;
      const radius = rng.range(o.radius[0], o.radius[1]) * size;
      const centre = scene.samplePoint(rng, radius + 0.05 * size);
      const rim = new Float32Array(3);
      blob(ctx, centre, radius, 0.35, (p, rho, x, y) => {
        scene.backdrop(x, y, rim, 0);
        // frayed, shadowed rim
        const t = smoothstep(0.7, 1, rho);
        for (let c = 0; c < 3; c++) out[p + c] = rim[c] * (1 - t) + clean[p + c] * 0.45 * t;
      });
    },
  };
}

/** A piece broken off at an edge of the part (nut corner, tile corner). */
export function missingPiece(name: string, o: { radius: Range }): DefectSpec {
  return {
    name,
    paint(ctx) {
      const { size, rng, scene, out } = ctx;
      const radius = rng.range(o.radius[0], o.radius[1]) * size;
      const centre = scene.edgePoint(rng);
      const fill = new Float32Array(3);
      blob(ctx, centre, radius, 0.4, (p, _rho, x, y) => {
        scene.backdrop(x, y, fill, 0);
        for (let c = 0; c < 3; c++) out[p + c] = fill[c];
      });
    },
  };
}

/** A patch of the same surface, shifted or rotated: a weaving fault, a misaligned tile, a grain break. */
export function displacedPatch(name: string, o: { size: Range }): DefectSpec {
  return {
    name,
    paint(ctx) {
      const { size, rng, scene, out, mask } = ctx;
      const variant = scene.variant('placement', rng, ctx.tier);
      if (!variant) throw new Error(`defect ${name}: the scene has no placement variant`);
      const half = (rng.range(o.size[0], o.size[1]) * size) / 2;
      const c = scene.samplePoint(rng, half + 0.04 * size);
      const tilt = rng.range(-0.5, 0.5);
      const cos = Math.cos(tilt);
      const sin = Math.sin(tilt);
      const b = box([c], half * 1.5, size);
      for (let y = b.y0; y <= b.y1; y++) {
        for (let x = b.x0; x <= b.x1; x++) {
          const dx = x + 0.5 - c.x;
          const dy = y + 0.5 - c.y;
          const u = dx * cos - dy * sin;
          const v = dx * sin + dy * cos;
          if (Math.abs(u) > half || Math.abs(v) > half * 0.8) continue;
          if (scene.coverage(x + 0.5, y + 0.5) < 0.5) continue;
          const i = y * size + x;
          mask[i] = 1;
          variant.shade(x + 0.5, y + 0.5, out, i * 3);
        }
      }
    },
  };
}

/** Local loss of sharpness (smeared coating, dent, out-of-focus spot). */
export function localBlur(name: string, o: { radius: Range; kernel: Range }): DefectSpec {
  return {
    name,
    paint(ctx) {
      const { size, rng, scene, out, clean } = ctx;
      const radius = rng.range(o.radius[0], o.radius[1]) * size;
      const centre = scene.samplePoint(rng, radius + 0.05 * size);
      const k = Math.max(1, Math.round(rng.range(o.kernel[0], o.kernel[1]) * (size / 256)));
      blob(ctx, centre, radius, 0.2, (p) => {
        const i = p / 3;
        const px = i % size;
        const py = (i - px) / size;
        let r = 0;
        let g = 0;
        let bl = 0;
        let n = 0;
        for (let y = Math.max(0, py - k); y <= Math.min(size - 1, py + k); y++) {
          for (let x = Math.max(0, px - k); x <= Math.min(size - 1, px + k); x++) {
            const q = (y * size + x) * 3;
            r += clean[q];
            g += clean[q + 1];
            bl += clean[q + 2];
            n++;
          }
        }
        out[p] = r / n;
        out[p + 1] = g / n;
        out[p + 2] = bl / n;
      });
    },
  };
}

/** The print (logo) placed wrong: shifted, rotated, partly missing. Mask = where the print differs. */
export function misprint(name: string): DefectSpec {
  return {
    name,
    paint(ctx) {
      const { size, rng, scene, out, clean, mask } = ctx;
      const variant = scene.variant('print', rng, ctx.tier);
      if (!variant) throw new Error(`defect ${name}: the scene has no print variant`);
      const px = new Float32Array(3);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const p = (y * size + x) * 3;
          variant.shade(x + 0.5, y + 0.5, px, 0);
          const diff =
            Math.abs(px[0] - clean[p]) + Math.abs(px[1] - clean[p + 1]) + Math.abs(px[2] - clean[p + 2]);
          if (diff < 0.06) continue;
          mask[y * size + x] = 1;
          out[p] = px[0];
          out[p + 1] = px[1];
          out[p + 2] = px[2];
        }
      }
    },
  };
}
