import { describe, expect, it } from 'vitest';
import { csvCell } from '../../src/results/results.service.js';
import {
  bucketExpr,
  decodeCursor,
  encodeCursor,
  filterWhere,
  ResultFilter,
} from '../../src/results/results-query.js';

describe('defect-history query helpers', () => {
  it('builds a parameterised WHERE from the filters, values never in the SQL text', () => {
    const f = ResultFilter.parse({
      line: 'l3',
      verdict: 'NOK',
      minScore: '0.5',
      from: '2026-11-27T22:00:00Z',
      partId: "x' OR 1=1",
    });
    const w = filterWhere(f);
    expect(w.toString()).toBe(
      'WHERE line = $1 AND part_id = $2 AND inspected_at >= $3::timestamptz AND verdict = $4 AND score >= $5',
    );
    expect(w.params).toEqual(['l3', "x' OR 1=1", '2026-11-27T22:00:00Z', 'NOK', 0.5]);
    expect(filterWhere(ResultFilter.parse({})).toString()).toBe('');
  });

  it('rejects bad filters', () => {
    expect(ResultFilter.safeParse({ line: 'a b' }).success).toBe(false);
    expect(ResultFilter.safeParse({ from: '2026-11-28T00:00:00Z', to: '2026-11-27T00:00:00Z' }).success).toBe(
      false,
    );
    expect(ResultFilter.safeParse({ minScore: 'abc' }).success).toBe(false);
  });

  it('round-trips cursors and refuses foreign ones', () => {
    const c = encodeCursor('2026-11-28T12:00:00.000Z', '0193a1b2-0000-7000-8000-000000000001');
    expect(decodeCursor(c)).toEqual({
      inspectedAt: '2026-11-28T12:00:00.000Z',
      resultId: '0193a1b2-0000-7000-8000-000000000001',
    });
    expect(() => decodeCursor('garbage')).toThrow(/cursor/);
  });

  it('buckets shifts with date_bin from the origin, in the plant time zone', () => {
    expect(bucketExpr('shift', '$9::text', { hours: 8, origin: '06:00' })).toBe(
      "(date_bin(interval '8 hours', (inspected_at AT TIME ZONE $9::text), timestamp '2000-01-01 06:00:00') AT TIME ZONE $9::text)",
    );
    expect(bucketExpr('day', '$1', { hours: 8, origin: '06:00' })).toContain("date_trunc('day'");
  });

  it('quotes CSV cells and defuses spreadsheet formulas', () => {
    expect(csvCell(null)).toBe('');
    expect(csvCell(-0.5)).toBe('-0.5');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
  });
});
