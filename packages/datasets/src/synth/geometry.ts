/** Small 2-D geometry helpers shared by the categories and the defect painters. */

export interface Point {
  x: number;
  y: number;
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

export function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = clamp((x - edge0) / (edge1 - edge0), 0, 1);
  return t * t * (3 - 2 * t);
}

/** Distance from p to the segment a-b. */
export function distToSegment(px: number, py: number, a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : clamp(((px - a.x) * dx + (py - a.y) * dy) / len2, 0, 1);
  const cx = a.x + t * dx - px;
  const cy = a.y + t * dy - py;
  return Math.sqrt(cx * cx + cy * cy);
}

/** Points along a quadratic Bezier curve. */
export function bezier(a: Point, control: Point, b: Point, steps: number): Point[] {
  const pts: Point[] = [];
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    const u = 1 - t;
    pts.push({
      x: u * u * a.x + 2 * u * t * control.x + t * t * b.x,
      y: u * u * a.y + 2 * u * t * control.y + t * t * b.y,
    });
  }
  return pts;
}

/** Even-odd point-in-polygon test. */
export function insidePolygon(px: number, py: number, poly: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i];
    const b = poly[j];
    if (a.y > py !== b.y > py && px < ((b.x - a.x) * (py - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

/** Signed distance to a regular hexagon of circumradius r, flat sides at +-y after rotation by theta. */
export function hexagonSdf(px: number, py: number, r: number, theta: number): number {
  const c = Math.cos(-theta);
  const s = Math.sin(-theta);
  let x = Math.abs(px * c - py * s);
  let y = Math.abs(px * s + py * c);
  // fold into the first sector of the hexagon (Inigo Quilez's formulation)
  const kx = -0.866025404;
  const ky = 0.5;
  const kz = 0.577350269;
  const d = 2 * Math.min(kx * x + ky * y, 0);
  x -= d * kx;
  y -= d * ky;
  const inradius = r * 0.866025404;
  x -= clamp(x, -kz * inradius, kz * inradius);
  y -= inradius;
  return Math.sqrt(x * x + y * y) * Math.sign(y);
}

/** Rotate (x, y) by theta around the origin. */
export function rotate(x: number, y: number, theta: number): Point {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  return { x: x * c - y * s, y: x * s + y * c };
}
