import { lineChart } from '../chart.js';
import type { AppContext } from '../context.js';
import { field, h, replace, select } from '../dom.js';
import { formatCount, formatPercent } from '../format.js';
import type { RouteMatch, View } from '../router.js';
import { nokRateSeries, totalsByModel } from '../trends-data.js';
import type { Aggregates, Line } from '../types.js';
import { errorBox, loading, pageHeader } from '../ui.js';

type Bucket = 'hour' | 'day' | 'shift';
const RANGES: Array<[string, string]> = [
  ['24', 'Last 24 hours'],
  ['72', 'Last 3 days'],
  ['168', 'Last 7 days'],
  ['720', 'Last 30 days'],
];

export function trendsView(ctx: AppContext, m: RouteMatch): View {
  const bucket = (
    ['hour', 'day', 'shift'].includes(m.search.get('bucket') ?? '') ? m.search.get('bucket') : 'hour'
  ) as Bucket;
  const hours = RANGES.some(([v]) => v === m.search.get('hours')) ? Number(m.search.get('hours')) : 24;
  const lineFilter = m.search.get('line') ?? '';

  const bucketSel = select(
    'bucket',
    [
      ['hour', 'Per hour'],
      ['shift', 'Per shift'],
      ['day', 'Per day'],
    ],
    bucket,
  );
  const rangeSel = select('hours', RANGES, String(hours));
  const lineSel = select('line', [['', 'All lines']], lineFilter);
  const form = h(
    'form',
    { class: 'filters compact', 'aria-label': 'Trend options' },
    field('Line', lineSel),
    field('Buckets', bucketSel),
    field('Range', rangeSel),
    h('div', { class: 'filter-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Show')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({ bucket: bucketSel.value, hours: rangeSel.value });
    if (lineSel.value) q.set('line', lineSel.value);
    ctx.router.go(`/trends?${q}`);
  });

  const charts = h('div', { class: 'charts', 'aria-live': 'off' }, loading('trends'));

  let timer: ReturnType<typeof setInterval> | null = null;
  let disposed = false;
  void (async () => {
    let lines: Line[];
    try {
      lines = await ctx.lines();
    } catch (e) {
      replace(charts, errorBox(e));
      return;
    }
    for (const l of lines)
      lineSel.appendChild(
        h('option', { value: l.code, selected: l.code === lineFilter }, `${l.name} (${l.code})`),
      );
    const shown = lineFilter ? lines.filter((l) => l.code === lineFilter) : lines;
    if (shown.length === 0) {
      replace(charts, h('p', { class: 'muted' }, 'No lines yet.'));
      return;
    }
    // A wall display keeps this page open: redraw every minute over a range that moves with the clock.
    const draw = async () => {
      const from = new Date(Date.now() - hours * 3600_000).toISOString();
      replace(charts, await Promise.all(shown.map((l) => linePanel(ctx, l, bucket, from, hours))));
    };
    await draw();
    if (!disposed) timer = setInterval(() => void draw(), 60_000);
  })();

  const el = h(
    'section',
    { class: 'view' },
    pageHeader('NOK-rate trends'),
    h('p', { class: 'muted' }, 'NOK rate = NOK / (OK + NOK) per bucket, one line per model version.'),
    form,
    charts,
  );
  return {
    title: 'Trends',
    el,
    dispose: () => {
      disposed = true;
      if (timer) clearInterval(timer);
    },
  };
}

async function linePanel(
  ctx: AppContext,
  line: Line,
  bucket: Bucket,
  from: string,
  hours: number,
): Promise<HTMLElement> {
  const title = `${line.name} (${line.code}) — NOK rate per ${bucket}, by model version`;
  try {
    const agg = await ctx.api.get<Aggregates>('/results/aggregates', {
      line: line.code,
      bucket,
      groupBy: 'model',
      from,
    });
    const series = nokRateSeries(agg.series);
    const totals = totalsByModel(agg.series);
    const shiftNote = agg.shift
      ? ` Shifts of ${agg.shift.hours} h from ${agg.shift.origin} (${agg.timeZone}).`
      : '';
    return h(
      'article',
      { class: 'card trend', 'aria-label': title },
      h('h2', null, `${line.name} (${line.code})`),
      series.length === 0
        ? h('p', { class: 'muted' }, 'No inspections in this range.')
        : lineChart(series, {
            title: `NOK rate per ${bucket}, by model version.${shiftNote}`,
            formatY: (v) => formatPercent(v, v > 0 && v < 0.1 ? 1 : 0),
            formatX: (t) => formatBucket(t, bucket, hours),
            minYMax: 0.05,
          }),
      totalsTable(totals),
    );
  } catch (e) {
    return h('article', { class: 'card trend' }, h('h2', null, title), errorBox(e));
  }
}

function totalsTable(totals: ReturnType<typeof totalsByModel>): HTMLElement | null {
  if (totals.length === 0) return null;
  return h(
    'table',
    { class: 'data compact' },
    h('caption', null, 'Totals in range'),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['Model version', 'Inspected', 'OK', 'NOK', 'NOK rate'].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      null,
      totals.map((t) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, t.label),
          h('td', { class: 'num' }, formatCount(t.total)),
          h('td', { class: 'num' }, formatCount(t.ok)),
          h('td', { class: 'num' }, formatCount(t.nok)),
          h('td', { class: 'num' }, formatPercent(t.nokRate, 2)),
        ),
      ),
    ),
  );
}

function formatBucket(t: number, bucket: Bucket, hours: number): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  const day = `${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  const time = `${p(d.getHours())}:${p(d.getMinutes())}`;
  if (bucket === 'day') return day;
  if (bucket === 'hour' && hours <= 24) return time;
  return `${day} ${time}`;
}
