import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetSample } from '@diad/datasets';
import { type EvaluationRecord, evaluate } from '@diad/metrics';
import { turbo } from '@diad/pipeline';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { pixelDistanceMap } from '../src/eval/baseline.js';
import { cacheKey, EvalCache } from '../src/eval/cache.js';
import { pointAt, suggestThresholds } from '../src/eval/calibration.js';
import { combineReports } from '../src/eval/combine.js';
import { timingStats } from '../src/eval/evaluate.js';
import { composePanel } from '../src/eval/heatmap.js';
import { loadMask } from '../src/eval/masks.js';
import { paperRowsFor } from '../src/eval/paper.js';
import { chartPng, lineChartSvg } from '../src/eval/plots.js';
import { formatDuration, formatProgress, ProgressBar } from '../src/eval/progress.js';
import { evenlySpaced, selectTestSamples } from '../src/eval/select.js';
import { tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('suggestThresholds', () => {
  const good = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
  const bad = [0.85, 1.2, 1.5, 2.0];

  it('finds the max-F1 threshold', () => {
    const s = suggestThresholds(good, bad, 0.1);
    // t = 1.2: 3 caught, no false reject, 1 escape: P = 1, R = 0.75, F1 = 6/7
    expect(s.atMaxF1.threshold).toBe(1.2);
    expect(s.atMaxF1.f1).toBeCloseTo(6 / 7, 12);
    expect(s.atMaxF1.falseRejectRate).toBe(0);
    expect(s.atMaxF1.escapeRate).toBe(0.25);
  });

  it('keeps false rejects at or below the target', () => {
    // 10% of 10 good parts: one may be rejected; threshold between the 2nd (0.9) and 1st (1.0) highest good
    const s = suggestThresholds(good, bad, 0.1);
    expect(s.atTargetFrr.threshold).toBeCloseTo(0.95, 12);
    expect(s.atTargetFrr.falseRejectRate).toBe(0.1);
    expect(s.atTargetFrr.escapeRate).toBe(0.25);
    // 0%: just above the highest good score
    const z = suggestThresholds(good, bad, 0);
    expect(z.atTargetFrr.threshold).toBeGreaterThan(1);
    expect(z.atTargetFrr.threshold).toBeLessThan(1.0001);
    expect(z.atTargetFrr.falseRejectRate).toBe(0);
    expect(z.atTargetFrr.escapeRate).toBe(0.25);
  });

  it('computes a point by the verdict rule score >= threshold', () => {
    expect(pointAt(0.9, [0.9, 0.5], [0.9, 0.1])).toMatchObject({
      falseRejectRate: 0.5,
      escapeRate: 0.5,
      precision: 0.5,
    });
  });

  it('rejects bad input naming it', () => {
    expect(() => suggestThresholds([], [1], 0.01)).toThrow(/good must hold/);
    expect(() => suggestThresholds([1], [], 0.01)).toThrow(/bad must hold/);
    expect(() => suggestThresholds([1, Number.NaN], [2], 0.01)).toThrow(/good\[1\] must be a finite number/);
    expect(() => suggestThresholds([1], [2], 1)).toThrow(/targetFrr must be in \[0, 1\)/);
  });
});

const sample = (category: string, label: 0 | 1, i: number): DatasetSample => ({
  category,
  split: 'test',
  defect: label ? `d${i % 2}` : 'good',
  imagePath: `/x/${category}/${label}/${i}.png`,
  maskPath: label ? `/m/${i}.png` : null,
  label,
});

describe('selectTestSamples', () => {
  const samples = [
    ...Array.from({ length: 10 }, (_, i) => sample('a', 0, i)),
    ...Array.from({ length: 6 }, (_, i) => sample('a', 1, i)),
    ...Array.from({ length: 3 }, (_, i) => sample('b', 0, i)),
    ...Array.from({ length: 9 }, (_, i) => sample('b', 1, i)),
    { ...sample('a', 0, 99), split: 'train' as const },
  ];

  it('returns every test image without a limit', () => {
    expect(selectTestSamples(samples)).toHaveLength(28);
  });

  it('takes half good, half defective per category, filling up from the larger class', () => {
    const picked = selectTestSamples(samples, 8);
    const count = (c: string, l: number) => picked.filter((s) => s.category === c && s.label === l).length;
    expect([count('a', 0), count('a', 1)]).toEqual([4, 4]);
    expect([count('b', 0), count('b', 1)]).toEqual([3, 5]);
    expect(() => selectTestSamples(samples, 1)).toThrow(/limit must be an integer >= 2/);
  });

  it('spreads picks over the list', () => {
    expect(evenlySpaced([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3)).toEqual([0, 3, 6]);
    expect(evenlySpaced([1, 2], 5)).toEqual([1, 2]);
  });
});

describe('progress', () => {
  it('formats bar, rate and ETA', () => {
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatProgress(5, 20, 5, 10_000, 10)).toBe('[=>        ] 5/20  25%  2.00 s/img  ETA 30s');
    expect(formatProgress(0, 20, 0, 0, 10)).toContain('ETA --');
  });

  it('writes a line per 10% to a pipe and ignores cache hits in the rate', () => {
    let text = '';
    const out = {
      write(s: string) {
        text += s;
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    const bar = new ProgressBar(20, out);
    for (let i = 0; i < 10; i++) bar.tick('cached', 0);
    for (let i = 0; i < 10; i++) bar.tick('run', 1000);
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(11); // the first image, then every 10%
    expect(lines[lines.length - 1]).toContain('20/20 100%  1.00 s/img');
  });
});

describe('pixelDistanceMap', () => {
  it('is the per-pixel Euclidean distance over channels', () => {
    // 2 channels, 1x2 image
    const input = Float32Array.from([1, 0, 2, 0]);
    const recon = Float32Array.from([4, 0, 2, 1]);
    expect([...pixelDistanceMap(input, recon, 2, 1, 2)]).toEqual([3, 1]);
    expect(() => pixelDistanceMap(input, recon, 3, 1, 2)).toThrow(/input must hold 3x1x2 values/);
  });
});

describe('combineReports', () => {
  it('matches evaluate() over all categories at once', () => {
    const records: EvaluationRecord[] = [];
    let k = 1;
    for (const category of ['a', 'b', 'c']) {
      for (let i = 0; i < 6; i++) {
        const label = (i % 2) as 0 | 1;
        const data = Float32Array.from(
          { length: 16 },
          (_, p) => ((k * 7919 + p * 104729) % 1000) / 1000 + label * (p < 4 ? 0.5 : 0),
        );
        k++;
        const mask = Uint8Array.from({ length: 16 }, (_, p) => (label && p < 4 ? 1 : 0));
        records.push({
          category,
          score: data.reduce((m, v) => Math.max(m, v), 0),
          label,
          map: { width: 4, height: 4, data },
          mask: { width: 4, height: 4, data: mask },
        });
      }
    }
    const whole = evaluate(records);
    const parts = ['a', 'b', 'c'].map((c) => evaluate(records.filter((r) => r.category === c)));
    expect(combineReports(parts)).toEqual(whole);
  });
});

describe('timingStats', () => {
  it('gives mean, median and p95', () => {
    const s = timingStats(Array.from({ length: 100 }, (_, i) => i + 1))!;
    expect(s).toEqual({ images: 100, meanMs: 50.5, medianMs: 51, p95Ms: 96 });
    expect(timingStats([])).toBeNull();
  });
});

describe('paperRowsFor', () => {
  it('returns the rows of known categories plus the mean, or null', () => {
    const rows = paperRowsFor('mvtec', ['metal nut', 'wood', 'widget'])!;
    expect(Object.keys(rows)).toEqual(['metal nut', 'wood', 'Mean']);
    expect(rows.Mean.image.slice(0, 2)).toEqual([97.2, 99.0]);
    expect(rows.Mean.pixel.slice(0, 2)).toEqual([96.8, 52.6]);
    expect(paperRowsFor('visa', ['hex_nut'])).toBeNull();
  });
});

describe('review panel', () => {
  it('puts input, outlined mask and blended map side by side', () => {
    const w = 3;
    const h = 3;
    const rgb = new Uint8Array(w * h * 3).fill(100);
    const map = new Float32Array(w * h);
    map[4] = 2; // centre at the top of the scale
    const mask = new Uint8Array(w * h);
    mask[4] = 1;
    const p = composePanel(rgb, map, mask, w, h, 2);
    expect(p.width).toBe(3 * w + 8);
    const px = (x: number, y: number) => [...p.data.slice((y * p.width + x) * 3, (y * p.width + x) * 3 + 3)];
    expect(px(1, 1)).toEqual([100, 100, 100]);
    expect(px(w + 4 + 1, 1)).toEqual([0, 255, 0]);
    expect(px(w + 4, 0)).toEqual([100, 100, 100]);
    const [tr, tg, tb] = turbo(1); // the pipeline's colour map, top of the scale
    expect(px(2 * (w + 4) + 1, 1)).toEqual([(100 + tr) >> 1, (100 + tg) >> 1, (100 + tb) >> 1]);
    expect(() => composePanel(rgb, map, mask, 4, 3, 1)).toThrow(RangeError);
  });
});

describe('plots', () => {
  it('draws each series and rasterises to a PNG', async () => {
    const spec = {
      title: 'ROC <test>',
      xLabel: 'FPR',
      yLabel: 'TPR',
      xMax: 1,
      diagonal: true,
      series: [
        { name: 'A', x: [0, 0, 1], y: [0, 1, 1] },
        { name: 'B', x: [0, 0.5, 1], y: [0, 0.5, 1] },
      ],
    };
    const svg = lineChartSvg(spec);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('ROC &lt;test&gt;');
    const meta = await sharp(await chartPng(spec)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 560, 440]);
  });
});

describe('EvalCache', () => {
  it('round-trips maps, skips torn lines and entries whose map file is wrong', async () => {
    const dir = await tempDir('cache');
    dirs.push(dir);
    const methods = ['diad', 'autoencoder'] as const;
    const parts = {
      bundleSha256: 'abc',
      imageSha256: 'f00',
      seed: 0,
      steps: null,
      startStep: null,
      draws: null,
      methods,
    };
    const key = cacheKey(parts);
    expect(key).not.toBe(cacheKey({ ...parts, seed: 1 }));
    // more draws change every score: a cached one-draw result must not answer a four-draw run
    expect(key).not.toBe(cacheKey({ ...parts, draws: 4 }));
    expect(key).toBe(cacheKey({ ...parts }));
    const cache = await EvalCache.open(dir);
    expect(await readFile(join(dir, '.gitignore'), 'utf8')).toBe('*\n');
    const maps = {
      diad: Float32Array.from([1, 2, 3, 4]),
      autoencoder: Float32Array.from([5, 6, 7, 8]),
      pixel: new Float32Array(0),
    };
    await cache.put(
      {
        key,
        imagePath: '/a.png',
        scores: { diad: 1, autoencoder: 2 },
        ms: { diad: 5 },
        mapWidth: 2,
        mapHeight: 2,
      },
      methods,
      maps,
    );
    await writeFile(
      join(dir, 'results.jsonl'),
      `${await readFile(join(dir, 'results.jsonl'), 'utf8')}{"key":"torn`,
      { flag: 'w' },
    );
    const again = await EvalCache.open(dir);
    expect(again.size).toBe(1);
    const hit = await again.get(key, methods);
    expect([...hit!.maps.autoencoder]).toEqual([5, 6, 7, 8]);
    expect(hit!.entry.scores).toEqual({ diad: 1, autoencoder: 2 });
    expect(await again.get(key, ['diad', 'autoencoder', 'pixel'])).toBeNull();
    await writeFile(join(dir, 'maps', `${key}.f32`), new Uint8Array(4));
    expect(await again.get(key, methods)).toBeNull();
    await mkdir(join(dir, 'x'), { recursive: true });
  });
});

describe('loadMask', () => {
  it('marks any non-zero colour as defect, at the map size, and zeros for a good image', async () => {
    const dir = await tempDir('mask');
    dirs.push(dir);
    // 4x2 palette PNG: left half black, right half pure green (no red component)
    const rgb = Buffer.alloc(4 * 2 * 3);
    for (const i of [2, 3, 6, 7]) rgb[i * 3 + 1] = 200;
    const path = join(dir, 'm.png');
    await sharp(rgb, { raw: { width: 4, height: 2, channels: 3 } })
      .png({ palette: true })
      .toFile(path);
    expect([...(await loadMask(path, 4, 2))]).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    expect([...(await loadMask(path, 2, 1))]).toEqual([0, 1]);
    expect([...(await loadMask(null, 2, 2))]).toEqual([0, 0, 0, 0]);
    await writeFile(join(dir, 'bad.png'), 'nope');
    await expect(loadMask(join(dir, 'bad.png'), 2, 2)).rejects.toThrow(/cannot read mask .*bad\.png/);
  });
});
