import { describe, expect, it } from 'vitest';
import { chartModel, niceAxis, niceCeil } from '../src/chart-model.js';
import {
  filterToQuery,
  filterToSearch,
  formatAgo,
  formatCount,
  formatPercent,
  formatScore,
  marginToThreshold,
  matchesFilter,
  parseFilter,
} from '../src/format.js';
import { matchPath } from '../src/router.js';
import { nokRateSeries, totalsByModel } from '../src/trends-data.js';
import type { AggregatePoint } from '../src/types.js';

describe('formatting', () => {
  it('formats scores, percentages and counts, with a dash for missing values', () => {
    expect(formatScore(0.7314)).toBe('0.731');
    expect(formatScore(null)).toBe('—');
    expect(formatScore(Number.NaN)).toBe('—');
    expect(formatPercent(0.13913, 2)).toBe('13.91 %');
    expect(formatPercent(null)).toBe('—');
    expect(formatCount(1234567)).toBe('1\u2009234\u2009567');
    expect(formatCount(999)).toBe('999');
  });

  it('says how long ago, in the largest whole unit', () => {
    const now = Date.parse('2026-11-28T12:00:00Z');
    expect(formatAgo('2026-11-28T11:59:57Z', now)).toBe('3 s ago');
    expect(formatAgo('2026-11-28T11:55:00Z', now)).toBe('5 min ago');
    expect(formatAgo('2026-11-28T09:00:00Z', now)).toBe('3 h ago');
    expect(formatAgo('2026-11-24T12:00:00Z', now)).toBe('4 d ago');
    expect(formatAgo(null, now)).toBe('never');
    expect(formatAgo('not a time', now)).toBe('never');
  });

  it('gives the margin to the threshold relative to the threshold', () => {
    expect(marginToThreshold(0.731, 0.5)).toBeCloseTo(0.462, 12);
    expect(marginToThreshold(0.4, 0.5)).toBeCloseTo(-0.2, 12);
    expect(marginToThreshold(0.4, 0)).toBeNull();
    expect(marginToThreshold(null, 0.5)).toBeNull();
  });
});

describe('history filter', () => {
  it('round-trips through the URL and drops malformed values', () => {
    const f = parseFilter('line=L1&verdict=NOK&model=diad@1.1.0&minScore=0.6&from=2026-11-28T10:00:00Z');
    expect(f).toEqual({
      line: 'L1',
      verdict: 'NOK',
      model: 'diad@1.1.0',
      minScore: 0.6,
      from: '2026-11-28T10:00:00.000Z',
    });
    expect(parseFilter(filterToSearch(f).slice(1))).toEqual(f);
    expect(parseFilter('verdict=maybe&minScore=abc&model=nover&to=yesterday')).toEqual({});
    expect(filterToSearch({})).toBe('');
  });

  it('splits the model into the API’s modelName and modelVersion', () => {
    expect(filterToQuery({ model: 'diad-housing@1.1.0', maxScore: 2 })).toMatchObject({
      modelName: 'diad-housing',
      modelVersion: '1.1.0',
      maxScore: 2,
    });
  });

  it('decides whether a live result belongs in the list shown, with the API’s rules', () => {
    const r = {
      line: 'L1',
      verdict: 'NOK',
      score: 0.7,
      inspectedAt: '2026-11-28T12:00:00Z',
      model: { name: 'diad', version: '1.1.0' },
    };
    expect(matchesFilter(r, {})).toBe(true);
    expect(
      matchesFilter(r, { line: 'L1', verdict: 'NOK', model: 'diad@1.1.0', minScore: 0.7, maxScore: 0.7 }),
    ).toBe(true);
    expect(matchesFilter(r, { line: 'L2' })).toBe(false);
    expect(matchesFilter(r, { verdict: 'OK' })).toBe(false);
    expect(matchesFilter(r, { model: 'diad@1.0.0' })).toBe(false);
    expect(matchesFilter(r, { minScore: 0.71 })).toBe(false);
    expect(matchesFilter({ ...r, score: null }, { maxScore: 1 })).toBe(false);
    // `to` is exclusive, `from` inclusive, as in the API.
    expect(matchesFilter(r, { to: '2026-11-28T12:00:00Z' })).toBe(false);
    expect(matchesFilter(r, { from: '2026-11-28T12:00:00Z' })).toBe(true);
  });
});

describe('chart geometry', () => {
  it('rounds axis tops to 1, 2 or 5 × 10^k', () => {
    expect(niceCeil(0.37)).toBe(0.5);
    expect(niceCeil(0.2)).toBe(0.2);
    expect(niceCeil(13)).toBe(20);
    expect(niceCeil(0)).toBe(1);
    expect(niceAxis(0.333)).toEqual({ top: 0.4, step: 0.1 });
    expect(niceAxis(0.05)).toEqual({ top: 0.05, step: 0.01 });
    expect(niceAxis(0.5)).toEqual({ top: 0.5, step: 0.1 });
  });

  it('maps time and value into the plot box and breaks lines at missing buckets', () => {
    const box = { width: 200, height: 120, margin: { top: 10, right: 10, bottom: 10, left: 10 } };
    const m = chartModel(
      [
        {
          label: 'a',
          points: [
            { t: 0, v: 0 },
            { t: 50, v: 0.2 },
            { t: 100, v: null },
            { t: 150, v: 0.4 },
          ],
        },
      ],
      box,
    );
    expect(m.yMax).toBe(0.4);
    expect(m.paths[0]).toBe('M10,110L70,60M190,10');
    expect(m.dots[0]).toHaveLength(3);
    expect(m.yTicks.map((t) => t.value)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(m.yTicks.map((t) => t.pos)).toEqual([110, 85, 60, 35, 10]);
    expect(m.xTicks[0]).toEqual({ value: 0, pos: 10 });
  });

  it('puts a single bucket in the middle and an empty chart on a unit axis', () => {
    const box = { width: 100, height: 100, margin: { top: 0, right: 0, bottom: 0, left: 0 } };
    expect(chartModel([{ label: 'x', points: [{ t: 5, v: 0.5 }] }], box).paths[0]).toBe('M50,0');
    expect(chartModel([], box).yMax).toBe(1);
  });
});

describe('trend series', () => {
  const p = (bucket: string, version: string | null, ok: number, nok: number): AggregatePoint => ({
    bucket,
    modelName: version ? 'diad' : null,
    modelVersion: version,
    total: ok + nok,
    ok,
    nok,
    errors: 0,
    nokRate: ok + nok ? nok / (ok + nok) : null,
    meanScore: null,
  });
  const rows = [
    p('2026-11-28T10:00:00Z', '1.0.0', 9, 1),
    p('2026-11-28T11:00:00Z', '1.0.0', 3, 1),
    p('2026-11-28T11:00:00Z', '1.1.0', 5, 0),
    p('2026-11-28T11:00:00Z', null, 0, 0),
  ];

  it('makes one NOK-rate series per model version', () => {
    const s = nokRateSeries(rows);
    expect(s.map((x) => x.label)).toEqual(['diad@1.0.0', 'diad@1.1.0', 'no model']);
    expect(s[0].points).toEqual([
      { t: Date.parse('2026-11-28T10:00:00Z'), v: 0.1 },
      { t: Date.parse('2026-11-28T11:00:00Z'), v: 0.25 },
    ]);
    expect(s[2].points[0].v).toBeNull();
  });

  it('totals per model version count the NOK rate over judged parts only', () => {
    const t = totalsByModel(rows);
    expect(t[0]).toEqual({ label: 'diad@1.0.0', total: 14, ok: 12, nok: 2, nokRate: 2 / 14 });
    expect(t[2].nokRate).toBeNull();
  });
});

describe('routing', () => {
  it('matches path patterns and decodes their parameters', () => {
    expect(matchPath('/results/:id', '/results/abc%2D1')).toEqual({ id: 'abc-1' });
    expect(matchPath('/results/:id', '/results')).toBeNull();
    expect(matchPath('/history', '/history/')).toEqual({});
    expect(matchPath('/rollouts/:id', '/results/1')).toBeNull();
    expect(matchPath('/results/:id', '/results/%E0%A4%A')).toBeNull();
  });
});
