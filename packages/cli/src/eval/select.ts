import type { DatasetSample } from '@diad/datasets';

/** Evenly spaced picks of n items, keeping the first and spreading the rest over the list. */
export function evenlySpaced<T>(items: readonly T[], n: number): T[] {
  if (n >= items.length) return [...items];
  if (n <= 0) return [];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(items[Math.floor((i * items.length) / n)]);
  return out;
}

/**
 * The test samples to evaluate: every test image, or with `limit` at most that many per category, half good
 * and half defective where possible, spread over the defect types in file order.
 */
export function selectTestSamples(samples: readonly DatasetSample[], limit?: number): DatasetSample[] {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 2)) {
    throw new RangeError(`limit must be an integer >= 2 (one good and one defective image), got ${limit}`);
  }
  const test = samples.filter((s) => s.split === 'test');
  if (limit === undefined) return test;
  const byCategory = new Map<string, DatasetSample[]>();
  for (const s of test) {
    const list = byCategory.get(s.category) ?? [];
    list.push(s);
    byCategory.set(s.category, list);
  }
  const out: DatasetSample[] = [];
  for (const list of byCategory.values()) {
    const good = list.filter((s) => s.label === 0);
    const bad = list.filter((s) => s.label === 1);
    const nBad = Math.min(bad.length, Math.max(limit - good.length, Math.floor(limit / 2)));
    const nGood = Math.min(good.length, limit - nBad);
    out.push(...evenlySpaced(good, nGood), ...evenlySpaced(bad, nBad));
  }
  return out;
}
