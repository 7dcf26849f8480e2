import { describe, expect, it } from 'vitest';
import {
  fillNormal,
  normalizeToNchw,
  overlayHeatmap,
  seededNoise,
  turbo,
  Xoshiro128,
} from '../../src/index.js';

describe('seeded noise (xoshiro128** seeded by SplitMix64, Box-Muller)', () => {
  it('reproduces reference outputs of an independent Python implementation', () => {
    const g0 = new Xoshiro128(0);
    expect([0, 1, 2, 3].map(() => g0.nextUint32())).toEqual([513008459, 2795874746, 972916236, 1374099887]);
    const g42 = new Xoshiro128(42);
    expect([0, 1, 2, 3].map(() => g42.nextUint32())).toEqual([825760943, 2622800619, 310231447, 2495256757]);
    const n = fillNormal(new Xoshiro128(7), new Float32Array(5));
    const want = [
      -0.08878079056739807, 2.140794038772583, -0.1428132802248001, 0.2699720859527588, 1.078744888305664,
    ];
    for (let i = 0; i < want.length; i++) expect(n[i]).toBeCloseTo(want[i], 6);
  });

  it('same seed gives the same noise, another seed other noise; n2 continues the stream', () => {
    const a1 = new Float32Array(100);
    const a2 = new Float32Array(100);
    const b1 = new Float32Array(100);
    const b2 = new Float32Array(100);
    seededNoise(3, a1, a2);
    seededNoise(3, b1, b2);
    expect(b1).toEqual(a1);
    expect(b2).toEqual(a2);
    const both = fillNormal(new Xoshiro128(3), new Float32Array(200));
    expect(both.subarray(100)).toEqual(a2);
    seededNoise(4, b1, b2);
    expect(b1).not.toEqual(a1);
  });

  it('is standard normal (mean 0, variance 1 within sampling error)', () => {
    const x = fillNormal(new Xoshiro128(11), new Float32Array(200_000));
    let s = 0;
    let s2 = 0;
    for (const v of x) {
      s += v;
      s2 += v * v;
    }
    const mean = s / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(s2 / x.length - mean * mean - 1)).toBeLessThan(0.01);
  });

  it('rejects seeds that are not non-negative safe integers', () => {
    expect(() => new Xoshiro128(-1)).toThrow(/seed/);
    expect(() => new Xoshiro128(1.5)).toThrow(RangeError);
  });
});

describe('normalisation to NCHW', () => {
  it('(pixel/255 - mean)/std per channel, planar; BGR swaps channels', () => {
    const rgb = Uint8Array.of(255, 0, 51, 0, 255, 102); // two pixels
    const out = new Float32Array(6);
    normalizeToNchw(rgb, 2, 1, [0.5, 0, 0.2], [0.5, 1, 0.1], 'RGB', out);
    expect([...out].map((v) => +v.toFixed(5))).toEqual([1, -1, 0, 1, 0, 2]);
    normalizeToNchw(rgb, 2, 1, [0, 0, 0], [1, 1, 1], 'BGR', out);
    expect([...out].map((v) => +v.toFixed(5))).toEqual([0.2, 0.4, 0, 1, 1, 0]);
  });
});

describe('heatmap', () => {
  it('turbo: dark blue → green → dark red, clamped', () => {
    expect(turbo(0).reduce((a, b) => a + b)).toBeLessThan(100); // near black
    const [r1_, g1_, b1_] = turbo(0.1);
    expect(b1_).toBeGreaterThan(r1_ + 100);
    expect(b1_).toBeGreaterThan(g1_ + 100);
    const [r5, g5, b5] = turbo(0.5);
    expect(g5).toBeGreaterThan(200);
    expect(g5).toBeGreaterThan(r5);
    expect(g5).toBeGreaterThan(b5);
    const [r1, g1, b1] = turbo(1);
    expect(r1).toBeGreaterThan(100);
    expect(g1 + b1).toBeLessThan(30);
    expect(turbo(-3)).toEqual(turbo(0));
    expect(turbo(7)).toEqual(turbo(1));
    expect(turbo(Number.NaN)).toEqual(turbo(0));
  });

  it('blends with alpha', () => {
    const out = overlayHeatmap(Uint8Array.of(200, 100, 0), Float32Array.of(2), 1, 1, 1, 0.5);
    expect([...out]).toEqual([172, 57, 0]); // half of (200, 100, 0) and half of turbo(1) = (144, 13, 0)
  });
});
