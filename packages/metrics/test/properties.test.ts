import { aupro, auroc, averagePrecision, f1Max, pixelMetrics, rankingMetrics } from '@diad/metrics';
import { describe, expect, it } from 'vitest';
import { randomMaps, rng, tiedCase } from './random.js';

const monotone: [string, (x: number) => number][] = [
  ['affine 3x + 7', (x) => 3 * x + 7],
  ['cubic x^3 + 5x', (x) => x ** 3 + 5 * x],
  ['exp(x / 10)', (x) => Math.exp(x / 10)],
  ['-1 / (x + 1)', (x) => -1 / (x + 1)],
];

describe('properties of the ranking metrics', () => {
  it.each(monotone)('AUROC, AP and F1 are unchanged by the monotone transform %s', (_name, f) => {
    const random = rng(7);
    for (let trial = 0; trial < 30; trial++) {
      const { scores, labels } = tiedCase(
        random,
        5 + Math.floor(random() * 300),
        2 + Math.floor(random() * 40),
      );
      const before = rankingMetrics(scores, labels);
      const after = rankingMetrics(scores.map(f), labels);
      expect(after.auroc).toBeCloseTo(before.auroc, 12);
      expect(after.averagePrecision).toBeCloseTo(before.averagePrecision, 12);
      expect(after.f1Max.f1).toBeCloseTo(before.f1Max.f1, 12);
      expect(after.f1Max.threshold).toBe(f(before.f1Max.threshold));
    }
  });

  it('negated scores give 1 - AUROC, ties included', () => {
    const random = rng(11);
    for (let trial = 0; trial < 50; trial++) {
      const { scores, labels } = tiedCase(
        random,
        2 + Math.floor(random() * 500),
        2 + Math.floor(random() * 30),
      );
      expect(
        auroc(
          scores.map((s) => -s),
          labels,
        ),
      ).toBeCloseTo(1 - auroc(scores, labels), 12);
    }
  });

  it('a perfect ranking has AUROC 1, AP 1 and F1 1 at the lowest anomalous score', () => {
    const random = rng(13);
    for (let trial = 0; trial < 20; trial++) {
      const n = 2 + Math.floor(random() * 200);
      const labels = Array.from({ length: n }, (_, i) =>
        i === 0 ? 0 : i === 1 ? 1 : random() < 0.4 ? 1 : 0,
      );
      const scores = labels.map((l) => (l === 1 ? 10 + random() : random()));
      expect(auroc(scores, labels)).toBe(1);
      expect(averagePrecision(scores, labels)).toBe(1);
      expect(f1Max(scores, labels)).toEqual({
        f1: 1,
        threshold: Math.min(...scores.filter((_, i) => labels[i] === 1)),
      });
    }
  });

  it('a fully reversed ranking has AUROC 0; all scores tied gives AUROC 0.5 and AP = positive rate', () => {
    expect(auroc([3, 2, 1, 0], [0, 0, 1, 1])).toBe(0);
    expect(auroc([1, 1, 1, 1, 1], [0, 1, 0, 1, 0])).toBe(0.5);
    expect(averagePrecision([1, 1, 1, 1, 1], [0, 1, 0, 1, 0])).toBeCloseTo(0.4, 12);
  });

  it('large float32 vectors (radix path) give exactly the float64 results (sort path)', () => {
    const random = rng(17);
    const n = 200_000;
    const scores = new Float32Array(n);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = random() < 0.1 ? 1 : 0;
      // mixed signs, both zeros, many magnitudes and ties
      const magnitude = 10 ** Math.floor(random() * 8 - 4);
      scores[i] = i % 97 === 0 ? -0 : Math.round((random() - 0.3 + labels[i] * 0.3) * 1000) * magnitude;
    }
    const radix = rankingMetrics(scores, labels);
    const sorted = rankingMetrics(Array.from(scores), labels);
    expect(radix).toEqual(sorted);
  });
});

describe('properties of the pixel metrics', () => {
  it('pixel AUROC / AP / F1max equal the vector metrics of the concatenated pixels', () => {
    const random = rng(19);
    for (let trial = 0; trial < 5; trial++) {
      const { maps, masks } = randomMaps(random, 6, 13, 9);
      const flatScores = Float32Array.from(maps.flatMap((m) => Array.from(m.data)));
      const flatLabels = Uint8Array.from(masks.flatMap((m) => Array.from(m.data)));
      const pixel = pixelMetrics(maps, masks);
      const vector = rankingMetrics(flatScores, flatLabels);
      expect(pixel.auroc).toBe(vector.auroc);
      expect(pixel.averagePrecision).toBe(vector.averagePrecision);
      expect(pixel.f1Max).toEqual(vector.f1Max);
    }
  });

  it('AUPRO is unchanged by a monotone transform of the maps and by the order of the images', () => {
    const random = rng(23);
    for (let trial = 0; trial < 5; trial++) {
      const { maps, masks } = randomMaps(random, 5, 16, 12);
      const reference = aupro(maps, masks);
      const transformed = maps.map((m) => ({ ...m, data: m.data.map((v) => 2 * v - 1) }));
      expect(aupro(transformed, masks)).toBeCloseTo(reference, 12);
      expect(aupro([...maps].reverse(), [...masks].reverse())).toBeCloseTo(reference, 12);
    }
  });

  it('AUPRO of a perfect map is 1 at every limit, and 0 when every defect scores below all normal pixels', () => {
    const { masks } = randomMaps(rng(29), 4, 10, 10);
    const perfect = masks.map((m) => ({
      width: m.width,
      height: m.height,
      data: Float32Array.from(m.data, (v) => v),
    }));
    const inverted = masks.map((m) => ({
      width: m.width,
      height: m.height,
      data: Float32Array.from(m.data, (v) => 1 - v),
    }));
    for (const fprLimit of [0.05, 0.3, 1]) {
      expect(aupro(perfect, masks, { fprLimit })).toBeCloseTo(1, 12);
      expect(aupro(inverted, masks, { fprLimit })).toBe(0);
    }
  });

  it('every region weighs the same: a tiny fully detected region and a large missed one give PRO 1/2', () => {
    const width = 10;
    const height = 10;
    const mask = new Uint8Array(100);
    const data = new Float32Array(100);
    mask[0] = 1; // region 1: one pixel, scored highest
    data[0] = 1;
    for (let i = 50; i < 90; i++) {
      mask[i] = 1; // region 2: 40 pixels, scored below every normal pixel
      data[i] = -1;
    }
    const curve = aupro([{ width, height, data }], [{ width, height, data: mask }], { fprLimit: 0.3 });
    // PRO jumps to 1/2 at FPR 0 and stays there until the FPR limit
    expect(curve).toBeCloseTo(0.5, 12);
  });

  it('diagonal neighbours join one region (8-connectivity)', () => {
    // Pixels (0,0), (0,1), (1,2): one 3-pixel region with 8-connectivity, two regions with 4-connectivity.
    const width = 3;
    const height = 3;
    const mask = Uint8Array.from([1, 1, 0, 0, 0, 1, 0, 0, 0]);
    const data = Float32Array.from([0, 0, 0, 0, 0, 1, 0, 0, 0]);
    // (1,2) scores first: PRO 1/3 at FPR 0 (4-connectivity would give 1/2), then everything at (1, 1).
    const value = aupro([{ width, height, data }], [{ width, height, data: mask }], { fprLimit: 1 });
    expect(value).toBeCloseTo((1 / 3 + 1) / 2, 12);
  });
});
