import type { SeriesInput } from './chart-model.js';
import type { AggregatePoint } from './types.js';

export interface ModelTotals {
  label: string;
  total: number;
  ok: number;
  nok: number;
  nokRate: number | null;
}

const modelLabel = (p: AggregatePoint) => (p.modelName ? `${p.modelName}@${p.modelVersion}` : 'no model');

/** Aggregate rows (one per bucket and model version) → one NOK-rate series per model version. */
export function nokRateSeries(points: AggregatePoint[]): SeriesInput[] {
  const byModel = new Map<string, SeriesInput>();
  for (const p of points) {
    if (!p.bucket) continue;
    const label = modelLabel(p);
    let s = byModel.get(label);
    if (!s) {
      s = { label, points: [] };
      byModel.set(label, s);
    }
    s.points.push({ t: Date.parse(p.bucket), v: p.nokRate });
  }
  return [...byModel.values()].sort((a, b) => a.label.localeCompare(b.label));
}

/** Totals per model version over the whole range; the NOK rate counts judged parts only (OK + NOK). */
export function totalsByModel(points: AggregatePoint[]): ModelTotals[] {
  const acc = new Map<string, ModelTotals>();
  for (const p of points) {
    const label = modelLabel(p);
    const t = acc.get(label) ?? { label, total: 0, ok: 0, nok: 0, nokRate: null };
    t.total += p.total;
    t.ok += p.ok;
    t.nok += p.nok;
    acc.set(label, t);
  }
  for (const t of acc.values()) t.nokRate = t.ok + t.nok > 0 ? t.nok / (t.ok + t.nok) : null;
  return [...acc.values()].sort((a, b) => a.label.localeCompare(b.label));
}
