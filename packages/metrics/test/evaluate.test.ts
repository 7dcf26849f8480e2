import {
  aupro,
  auroc,
  averagePrecision,
  type EvaluationRecord,
  evaluate,
  f1Max,
  pixelMetrics,
  toCsv,
  toJson,
  toMarkdown,
} from '@diad/metrics';
import { describe, expect, it } from 'vitest';
import { randomMaps, rng } from './random.js';

const imageOnly: EvaluationRecord[] = [
  { category: 'bottle', score: 0.1, label: 0 },
  { category: 'bottle', score: 0.4, label: 0 },
  { category: 'cable', score: 0.2, label: false },
  { category: 'bottle', score: 0.35, label: 1 },
  { category: 'cable', score: 0.9, label: true },
  { category: 'bottle', score: 0.8, label: 1 },
  { category: 'cable', score: 0.5, label: false },
];

function withMaps(seed: number, category: string, count: number): EvaluationRecord[] {
  const { maps, masks } = randomMaps(rng(seed), count, 12, 10);
  return maps.map((map, i) => {
    const label = masks[i].data.some((v) => v !== 0) ? 1 : 0;
    return {
      category,
      score: map.data.reduce((a, b) => Math.max(a, b), 0) + 0.01 * i,
      label,
      map,
      mask: masks[i],
    };
  });
}

describe('evaluate', () => {
  it('computes image metrics per category in order of first appearance, and their unweighted mean', () => {
    const report = evaluate(imageOnly);
    expect(report.categories.map((c) => c.category)).toEqual(['bottle', 'cable']);
    const [bottle, cable] = report.categories;
    expect(bottle).toMatchObject({ images: 4, anomalousImages: 2, pixel: null });
    expect(bottle.image.auroc).toBeCloseTo(0.75, 12);
    expect(bottle.image.averagePrecision).toBeCloseTo(5 / 6, 12);
    expect(cable.image).toEqual({ auroc: 1, averagePrecision: 1, f1Max: 1, f1Threshold: 0.9 });
    expect(report.mean.image.auroc).toBeCloseTo((0.75 + 1) / 2, 12);
    expect(report.mean.image.averagePrecision).toBeCloseTo((5 / 6 + 1) / 2, 12);
    expect(report.mean.pixel).toBeNull();
    expect(report.aupro).toEqual({ fprLimit: 0.3, variant: 'exact' });
  });

  it('computes pixel metrics over all maps of a category, equal to the direct functions', () => {
    const records = [...withMaps(3, 'screw', 8), ...withMaps(5, 'tile', 6)];
    const report = evaluate(records, { fprLimit: 0.3 });
    for (const row of report.categories) {
      const own = records.filter((r) => r.category === row.category);
      const maps = own.map((r) => r.map!);
      const masks = own.map((r) => r.mask!);
      const pixel = pixelMetrics(maps, masks);
      expect(row.pixel).toEqual({
        auroc: pixel.auroc,
        averagePrecision: pixel.averagePrecision,
        f1Max: pixel.f1Max.f1,
        f1Threshold: pixel.f1Max.threshold,
        aupro: aupro(maps, masks),
      });
      const scores = own.map((r) => r.score);
      const labels = own.map((r) => Number(r.label));
      expect(row.image.auroc).toBe(auroc(scores, labels));
      expect(row.image.averagePrecision).toBe(averagePrecision(scores, labels));
      expect(row.image.f1Max).toBe(f1Max(scores, labels).f1);
    }
    const [a, b] = report.categories;
    expect(report.mean.pixel!.aupro).toBeCloseTo((a.pixel!.aupro + b.pixel!.aupro) / 2, 12);
  });

  it('passes the AUPRO options through (official variant)', () => {
    const records = withMaps(7, 'grid', 6);
    const report = evaluate(records, { variant: 'official' });
    expect(report.categories[0].pixel!.aupro).toBe(
      aupro(
        records.map((r) => r.map!),
        records.map((r) => r.mask!),
        { variant: 'official' },
      ),
    );
    expect(report.aupro.variant).toBe('official');
  });
});

describe('renderers', () => {
  const report = evaluate(imageOnly);

  it('renders the paper layout in percent with one decimal', () => {
    expect(toMarkdown(report)).toBe(
      [
        '| Category | Image AUROC/AP/F1max | Pixel AUROC/AP/F1max/AUPRO |',
        '|---|:---:|:---:|',
        '| bottle | 75.0/83.3/80.0 | – |',
        '| cable | 100.0/100.0/100.0 | – |',
        '| Mean | 87.5/91.7/90.0 | – |',
        '',
      ].join('\n'),
    );
  });

  it('renders the wide layout with a column per metric', () => {
    const text = toMarkdown(evaluate(withMaps(3, 'a|b', 8)), { layout: 'wide', digits: 2 });
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe(
      '| Category | Image AUROC | Image AP | Image F1max | Pixel AUROC | Pixel AP | Pixel F1max | Pixel AUPRO |',
    );
    expect(lines).toHaveLength(4);
    expect(lines[2].startsWith('| a\\|b | ')).toBe(true);
    expect(
      lines[3]
        .split('|')
        .slice(2, -1)
        .every((cell) => /^ \d+\.\d\d $/.test(cell)),
    ).toBe(true);
  });

  it('renders CSV with full-precision fractions and a mean row', () => {
    const lines = toCsv(report).trim().split('\n');
    expect(lines[0]).toBe(
      'category,images,anomalous_images,image_auroc,image_ap,image_f1max,image_f1max_threshold,pixel_auroc,pixel_ap,pixel_f1max,pixel_f1max_threshold,pixel_aupro',
    );
    expect(lines[1]).toBe(`bottle,4,2,0.75,${report.categories[0].image.averagePrecision},0.8,0.35,,,,,`);
    expect(lines[2]).toBe('cable,3,1,1,1,1,0.9,,,,,');
    expect(lines[3]).toBe(`mean,7,3,0.875,${report.mean.image.averagePrecision},0.9,,,,,,`);
    const quoted = toCsv(
      evaluate([
        { category: 'a,"b"', score: 0, label: 0 },
        { category: 'a,"b"', score: 1, label: 1 },
      ]),
    );
    expect(quoted.split('\n')[1].startsWith('"a,""b""",2,1,')).toBe(true);
  });

  it('renders JSON that parses back to the report', () => {
    expect(JSON.parse(toJson(report))).toEqual(report);
  });

  it('rejects bad rendering options', () => {
    expect(() => toMarkdown(report, { digits: -1 })).toThrow(
      new RangeError('options.digits must be an integer in [0, 10], got -1'),
    );
    expect(() => toMarkdown(report, { layout: 'tall' as 'wide' })).toThrow(/^options\.layout must be/);
  });
});

describe('evaluate rejects bad records', () => {
  const good = withMaps(11, 'wood', 4);
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      'records that are not an array',
      () => evaluate({} as EvaluationRecord[]),
      TypeError,
      /^records must be an array/,
    ],
    ['no records', () => evaluate([]), RangeError, /^records must not be empty/],
    [
      'a record that is not an object',
      () => evaluate([null as unknown as EvaluationRecord]),
      TypeError,
      /^records\[0\] must be an object/,
    ],
    [
      'a missing category',
      () => evaluate([{ score: 1, label: 1 } as EvaluationRecord]),
      TypeError,
      /^records\[0\]\.category must be a string/,
    ],
    [
      'an empty category',
      () => evaluate([{ category: '', score: 1, label: 1 }]),
      RangeError,
      /^records\[0\]\.category must not be empty/,
    ],
    [
      'a string score',
      () => evaluate([...imageOnly, { category: 'x', score: '1' as unknown as number, label: 1 }]),
      TypeError,
      /^records\[7\]\.score must be a number/,
    ],
    [
      'a NaN score',
      () => evaluate([...imageOnly, { category: 'x', score: Number.NaN, label: 1 }]),
      RangeError,
      /^records\[7\]\.score must be a finite number/,
    ],
    [
      'a label of 2',
      () => evaluate([{ category: 'x', score: 1, label: 2 as 1 }]),
      RangeError,
      /^records\[0\]\.label must be 0 or 1, got 2/,
    ],
    [
      'a string label',
      () => evaluate([{ category: 'x', score: 1, label: 'yes' as unknown as 1 }]),
      TypeError,
      /^records\[0\]\.label must be a boolean or 0\/1/,
    ],
    [
      'a map without mask',
      () => evaluate([{ ...good[0], mask: undefined }]),
      RangeError,
      /^records\[0\] must have both map and mask or neither, got only map/,
    ],
    [
      'a category with only normal images',
      () => evaluate([...imageOnly, { category: 'x', score: 1, label: 0 }]),
      RangeError,
      /^the records of category "x" must contain both normal and anomalous images, got 1 normal only/,
    ],
    [
      'maps on some records of a category only',
      () => evaluate([...good, { category: 'wood', score: 0.5, label: 0 }]),
      RangeError,
      /^records\[4\] must have a map and mask like the other records of category "wood"/,
    ],
    [
      'a NaN pixel, named by record',
      () =>
        evaluate([
          ...imageOnly,
          ...good.map((r, i) =>
            i === 2
              ? { ...r, map: { ...r.map!, data: Float32Array.from(r.map!.data).fill(Number.NaN, 5, 6) } }
              : r,
          ),
        ]),
      RangeError,
      /^records\[9\]\.map\.data\[5\] must be a finite number, got NaN/,
    ],
    [
      'a mask of the wrong size, named by record',
      () => evaluate([...good.map((r, i) => (i === 1 ? { ...r, mask: { ...r.mask!, width: 5 } } : r))]),
      RangeError,
      /^records\[1\]\.mask must be 12x10 like records\[1\]\.map, got 5x10/,
    ],
    [
      'masks without any defect in an anomalous-labelled category',
      () => evaluate([...good.map((r) => ({ ...r, mask: { ...r.mask!, data: new Uint8Array(120) } }))]),
      RangeError,
      /^the masks of category "wood" must contain at least one anomalous/,
    ],
    [
      'a bad fprLimit even without maps',
      () => evaluate(imageOnly, { fprLimit: 2 }),
      RangeError,
      /^options\.fprLimit must be in \(0, 1\]/,
    ],
  ];
  it.each(cases)('%s', (_what, run, kind, message) => {
    expect(run).toThrow(kind);
    expect(run).toThrow(message);
  });
});
