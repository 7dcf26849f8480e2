import { aupro, auroc, averagePrecision, f1Max, pixelMetrics, proCurve, rocCurve } from '@diad/metrics';
import { describe, expect, it } from 'vitest';

const map = (data: number[] | Float32Array, width = 2, height = 2) => ({ width, height, data });
const mask = (data: number[] | Uint8Array, width = 2, height = 2) => ({ width, height, data });
const goodMaps = [map([0.1, 0.2, 0.3, 0.4])];
const goodMasks = [mask([0, 0, 1, 0])];

// Each entry: what is wrong, the call, the error class, and text the message must contain (the argument name).
type Case = [string, () => unknown, ErrorConstructor, RegExp];

const vectorFunctions = { auroc, averagePrecision, f1Max, rocCurve } as const;

describe.each(Object.entries(vectorFunctions))('%s rejects bad input', (_name, fn) => {
  const call = fn as (scores: unknown, labels: unknown) => unknown;
  const cases: Case[] = [
    ['scores of the wrong type', () => call('0.1,0.2', [0, 1]), TypeError, /^scores must be/],
    [
      'scores as an Int32Array',
      () => call(new Int32Array([1, 2]), [0, 1]),
      TypeError,
      /^scores must be.*Int32Array/,
    ],
    [
      'a non-number score',
      () => call([0.1, '0.2'], [0, 1]),
      TypeError,
      /^scores\[1\] must be a number, got a string/,
    ],
    ['empty scores', () => call([], []), RangeError, /^scores must not be empty/],
    [
      'a NaN score',
      () => call([0.1, Number.NaN], [0, 1]),
      RangeError,
      /^scores\[1\] must be a finite number, got NaN/,
    ],
    [
      'an infinite score',
      () => call([Number.POSITIVE_INFINITY, 0], [0, 1]),
      RangeError,
      /^scores\[0\] must be a finite/,
    ],
    [
      'a NaN in a Float32Array',
      () => call(Float32Array.from([0, Number.NaN]), [0, 1]),
      RangeError,
      /^scores\[1\]/,
    ],
    ['labels of the wrong type', () => call([0.1, 0.2], 'ab'), TypeError, /^labels must be/],
    [
      'mismatched lengths',
      () => call([0.1, 0.2, 0.3], [0, 1]),
      RangeError,
      /^labels must have the same length as scores \(3\), got 2/,
    ],
    [
      'a label that is not 0/1',
      () => call([0.1, 0.2], [0, 2]),
      RangeError,
      /^labels\[1\] must be 0 or 1, got 2/,
    ],
    [
      'a Uint8Array label of 255',
      () => call([0.1, 0.2], Uint8Array.from([0, 255])),
      RangeError,
      /^labels\[1\] must be 0 or 1/,
    ],
    ['a string label', () => call([0.1, 0.2], [0, '1']), TypeError, /^labels\[1\] must be a boolean or 0\/1/],
    [
      'only normal labels',
      () => call([0.1, 0.2], [0, 0]),
      RangeError,
      /^labels must contain at least one anomalous/,
    ],
    [
      'only anomalous labels',
      () => call([0.1, 0.2], [true, true]),
      RangeError,
      /^labels must contain at least one normal/,
    ],
  ];
  it.each(cases)('%s', (_what, run, kind, message) => {
    expect(run).toThrow(kind);
    expect(run).toThrow(message);
  });
});

describe('the radix path (float32 vectors of 65536+) rejects non-finite scores by index', () => {
  it('names the index of an Infinity deep in a large vector', () => {
    const scores = new Float32Array(70_000);
    const labels = new Uint8Array(70_000);
    labels[5] = 1;
    scores[69_999] = Number.NEGATIVE_INFINITY;
    expect(() => auroc(scores, labels)).toThrow(
      new RangeError('scores[69999] must be a finite number, got -Infinity'),
    );
  });
});

const mapFunctions = { aupro, proCurve, pixelMetrics } as const;

describe.each(Object.entries(mapFunctions))('%s rejects bad maps, masks and options', (_name, fn) => {
  const call = fn as (maps: unknown, masks: unknown, options?: unknown) => unknown;
  const cases: Case[] = [
    ['maps that are not an array', () => call({}, goodMasks), TypeError, /^maps must be an array/],
    ['masks that are not an array', () => call(goodMaps, null), TypeError, /^masks must be an array/],
    ['no maps', () => call([], []), RangeError, /^maps must not be empty/],
    [
      'fewer masks than maps',
      () => call([...goodMaps, ...goodMaps], goodMasks),
      RangeError,
      /^masks must have one mask per map \(2\), got 1/,
    ],
    [
      'a map that is not an object',
      () => call([42], goodMasks),
      TypeError,
      /^maps\[0\] must be \{width, height, data\}/,
    ],
    [
      'a missing width',
      () => call([{ height: 2, data: [1, 2, 3, 4] }], goodMasks),
      TypeError,
      /^maps\[0\]\.width must be a number/,
    ],
    [
      'a fractional height',
      () => call([map([1, 2, 3, 4], 2, 2.5)], goodMasks),
      RangeError,
      /^maps\[0\]\.height must be a positive integer/,
    ],
    [
      'a mask of another size',
      () => call(goodMaps, [mask([0, 1, 0, 0], 4, 1)]),
      RangeError,
      /^masks\[0\] must be 2x2 like maps\[0\], got 4x1/,
    ],
    [
      'map data of the wrong length',
      () => call([map([1, 2, 3])], goodMasks),
      RangeError,
      /^maps\[0\]\.data must have width\*height = 4 values, got 3/,
    ],
    [
      'mask data of the wrong length',
      () => call(goodMaps, [mask([0, 1])]),
      RangeError,
      /^masks\[0\]\.data must have width\*height = 4 values, got 2/,
    ],
    [
      'map data of the wrong type',
      () => call([map('abcd' as unknown as number[])], goodMasks),
      TypeError,
      /^maps\[0\]\.data must be/,
    ],
    [
      'a non-number pixel',
      () => call([map([0.1, null, 0.3, 0.4] as unknown as number[])], goodMasks),
      TypeError,
      /^maps\[0\]\.data\[1\] must be a number/,
    ],
    [
      'a NaN pixel',
      () => call([map([0.1, 0.2, Number.NaN, 0.4])], goodMasks),
      RangeError,
      /^maps\[0\]\.data\[2\] must be a finite number, got NaN/,
    ],
    [
      'an infinite pixel in a second map',
      () =>
        call(
          [goodMaps[0], map(Float32Array.from([0, 0, Number.POSITIVE_INFINITY, 0]))],
          [goodMasks[0], goodMasks[0]],
        ),
      RangeError,
      /^maps\[1\]\.data\[2\] must be a finite number, got Infinity/,
    ],
    [
      'a mask of the wrong type',
      () => call(goodMaps, [mask(new Float32Array(4) as unknown as Uint8Array)]),
      TypeError,
      /^masks\[0\]\.data must be/,
    ],
    [
      'a string mask pixel',
      () => call(goodMaps, [mask(['0', 0, 1, 0] as unknown as number[])]),
      TypeError,
      /^masks\[0\]\.data\[0\] must be a boolean or number/,
    ],
    [
      'masks without any defect',
      () => call(goodMaps, [mask([0, 0, 0, 0])]),
      RangeError,
      /^masks must contain at least one anomalous/,
    ],
    [
      'masks that are all defect',
      () => call(goodMaps, [mask([1, 1, 1, 1])]),
      RangeError,
      /^masks must contain at least one normal/,
    ],
    [
      'options that are not an object',
      () => call(goodMaps, goodMasks, 0.3),
      TypeError,
      /^options must be an object/,
    ],
    [
      'a string fprLimit',
      () => call(goodMaps, goodMasks, { fprLimit: '0.3' }),
      TypeError,
      /^options\.fprLimit must be a number/,
    ],
    [
      'a zero fprLimit',
      () => call(goodMaps, goodMasks, { fprLimit: 0 }),
      RangeError,
      /^options\.fprLimit must be in \(0, 1\], got 0/,
    ],
    [
      'an fprLimit above 1',
      () => call(goodMaps, goodMasks, { fprLimit: 1.5 }),
      RangeError,
      /^options\.fprLimit must be in \(0, 1\]/,
    ],
    [
      'an NaN fprLimit',
      () => call(goodMaps, goodMasks, { fprLimit: Number.NaN }),
      RangeError,
      /^options\.fprLimit/,
    ],
    [
      'an unknown variant',
      () => call(goodMaps, goodMasks, { variant: 'anomalib' }),
      RangeError,
      /^options\.variant must be 'exact' or 'official', got anomalib/,
    ],
    [
      'a fractional threshold count',
      () => call(goodMaps, goodMasks, { variant: 'official', thresholds: 2.5 }),
      RangeError,
      /^options\.thresholds must be an integer >= 2/,
    ],
  ];
  it.each(cases)('%s', (_what, run, kind, message) => {
    expect(run).toThrow(kind);
    expect(run).toThrow(message);
  });
});

describe('degenerate inputs of the official variant', () => {
  it('a map whose every threshold has FPR above the limit is a RangeError, not NaN', () => {
    // Normal pixels all score above the defect: FPR is 1 at every official threshold.
    const maps = [map([0.9, 0.9, 0.1, 0.9])];
    expect(() => aupro(maps, goodMasks, { variant: 'official' })).toThrow(RangeError);
    expect(() => aupro(maps, goodMasks, { variant: 'official' })).toThrow(/official AUPRO needs at least 2/);
  });
});

describe('inputs are not modified', () => {
  it('leaves scores, labels, maps and masks as they were', () => {
    const scores = Float32Array.from([0.3, 0.1, 0.2, 0.1]);
    const labels = Uint8Array.from([1, 0, 1, 0]);
    auroc(scores, labels);
    expect(Array.from(scores)).toEqual(Array.from(Float32Array.from([0.3, 0.1, 0.2, 0.1])));
    expect(Array.from(labels)).toEqual([1, 0, 1, 0]);
    const data = Float32Array.from([0.4, 0.3, 0.2, 0.1]);
    const maskData = Uint8Array.from([255, 0, 0, 0]);
    pixelMetrics([map(data)], [mask(maskData)]);
    expect(Array.from(data)).toEqual(Array.from(Float32Array.from([0.4, 0.3, 0.2, 0.1])));
    expect(Array.from(maskData)).toEqual([255, 0, 0, 0]);
  });
});
