import type { Point } from './geometry.js';
import type { Rng } from './rng.js';

export type Tier = 'easy' | 'hard';
export const TIERS: readonly Tier[] = ['easy', 'hard'];

/** Writes the linear RGB colour (0..1) of the pixel centred at (x, y) into out[o..o+2]. */
export type ShadeFn = (x: number, y: number, out: Float32Array, o: number) => void;

/** One normal part or surface, with its own placement and lighting already sampled. */
export interface Scene {
  readonly size: number;
  shade: ShadeFn;
  /** What shows through a hole or where a piece is missing. */
  backdrop: ShadeFn;
  /** Fraction of the pixel covered by the inspected surface (1 everywhere for textures). */
  coverage(x: number, y: number): number;
  /** A point on the inspected surface at least `margin` px from its border, for a defect centre. */
  samplePoint(rng: Rng, margin: number): Point;
  /** A point on an edge of the part (object rim, tile corner) where a piece can break off. */
  edgePoint(rng: Rng): Point;
  /**
   * The same part with one property changed: 'placement' (texture shifted/rotated, for patch defects) or
   * 'print' (a misplaced print). Null when the category has no such variant.
   */
  variant(kind: 'placement' | 'print', rng: Rng, tier: Tier): Scene | null;
}

export interface DefectContext {
  readonly size: number;
  readonly scene: Scene;
  readonly rng: Rng;
  readonly tier: Tier;
  /** Defect-free image, HxWx3 floats. */
  readonly clean: Float32Array;
  /** Output image, a copy of `clean` to paint into; only pixels with mask = 1 are kept. */
  readonly out: Float32Array;
  /** 1 where the defect changes the part, 0 elsewhere. */
  readonly mask: Uint8Array;
}

export interface DefectSpec {
  readonly name: string;
  paint(ctx: DefectContext): void;
}

export interface CategorySpec {
  readonly name: string;
  readonly kind: 'texture' | 'object';
  readonly description: string;
  createScene(rng: Rng, size: number): Scene;
  readonly defects: Readonly<Record<Tier, readonly DefectSpec[]>>;
}
