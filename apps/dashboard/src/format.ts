/** Pure formatting and filter helpers (unit-tested in node). */

export function formatScore(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return v.toFixed(digits);
}

export function formatPercent(rate: number | null | undefined, digits = 1): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—';
  return `${(rate * 100).toFixed(digits)} %`;
}

/** 12 345 with thin spaces: readable from a distance, no locale surprises on a shop-floor PC. */
export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** "3 s ago", "5 min ago", "2 h ago", "4 d ago" relative to `now`. */
export function formatAgo(iso: string | null | undefined, now: number): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** How far the score lies above (+) or below (−) the threshold, relative to the threshold. */
export function marginToThreshold(score: number | null, threshold: number | null): number | null {
  if (score === null || threshold === null || !Number.isFinite(score) || !Number.isFinite(threshold))
    return null;
  if (threshold === 0) return null;
  return (score - threshold) / Math.abs(threshold);
}

/** `<input type="datetime-local">` value (local time, minutes) → ISO 8601 with offset, or undefined. */
export function localInputToIso(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** ISO time → `<input type="datetime-local">` value in local time. */
export function isoToLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export interface HistoryFilter {
  line?: string;
  from?: string;
  to?: string;
  verdict?: 'OK' | 'NOK';
  model?: string;
  minScore?: number;
  maxScore?: number;
}

const FILTER_KEYS = ['line', 'from', 'to', 'verdict', 'model', 'minScore', 'maxScore'] as const;

/** Reads the history filter from a URL query string; unknown or malformed values are dropped. */
export function parseFilter(search: string): HistoryFilter {
  const p = new URLSearchParams(search);
  const f: HistoryFilter = {};
  const line = p.get('line');
  if (line) f.line = line;
  for (const k of ['from', 'to'] as const) {
    const v = p.get(k);
    if (v && !Number.isNaN(Date.parse(v))) f[k] = new Date(v).toISOString();
  }
  const verdict = p.get('verdict');
  if (verdict === 'OK' || verdict === 'NOK') f.verdict = verdict;
  const model = p.get('model');
  if (model && /^[^@]+@[^@]+$/.test(model)) f.model = model;
  for (const k of ['minScore', 'maxScore'] as const) {
    const v = p.get(k);
    if (v !== null && v !== '' && Number.isFinite(Number(v))) f[k] = Number(v);
  }
  return f;
}

export function filterToSearch(f: HistoryFilter): string {
  const p = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const v = f[k];
    if (v !== undefined && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** The API query for a history filter (model "name@version" splits into modelName and modelVersion). */
export function filterToQuery(f: HistoryFilter): Record<string, string | number | undefined> {
  const [modelName, modelVersion] = f.model ? f.model.split('@') : [undefined, undefined];
  return {
    line: f.line,
    from: f.from,
    to: f.to,
    verdict: f.verdict,
    modelName,
    modelVersion,
    minScore: f.minScore,
    maxScore: f.maxScore,
  };
}

/** Whether a live result belongs in the history list currently shown (same rules the API applies). */
export function matchesFilter(
  r: {
    line: string;
    verdict: string | null;
    score: number | null;
    inspectedAt: string;
    model: { name: string; version: string | null } | null;
  },
  f: HistoryFilter,
): boolean {
  if (f.line && r.line !== f.line) return false;
  if (f.verdict && r.verdict !== f.verdict) return false;
  if (f.model && (!r.model || `${r.model.name}@${r.model.version}` !== f.model)) return false;
  if (f.minScore !== undefined && (r.score === null || r.score < f.minScore)) return false;
  if (f.maxScore !== undefined && (r.score === null || r.score > f.maxScore)) return false;
  const t = Date.parse(r.inspectedAt);
  if (f.from && t < Date.parse(f.from)) return false;
  if (f.to && t >= Date.parse(f.to)) return false;
  return true;
}

/** Local midnight of the day holding `now` (the "today" of the big counters). */
export function startOfLocalDay(now: Date): Date {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}
