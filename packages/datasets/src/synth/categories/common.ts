import type { Point } from '../geometry.js';
import type { Rng } from '../rng.js';

/** Uniform point at least `margin` px inside the image. */
export function pointInImage(rng: Rng, size: number, margin: number): Point {
  const m = Math.min(margin, size / 2 - 1);
  return { x: rng.range(m, size - m), y: rng.range(m, size - m) };
}

export type Rgb = [number, number, number];

/** Jitter each channel of a base colour by up to +-amount. */
export function jitterColor(rng: Rng, base: readonly number[], amount: number): Rgb {
  return [
    base[0] + rng.range(-amount, amount),
    base[1] + rng.range(-amount, amount),
    base[2] + rng.range(-amount, amount),
  ];
}
