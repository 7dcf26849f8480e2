import type { AppContext } from '../context.js';
import { field, h, replace, select } from '../dom.js';
import { formatTime } from '../format.js';
import type { RouteMatch, View } from '../router.js';
import type { Line, TrainingJob } from '../types.js';
import { errorBox, loading, pageHeader } from '../ui.js';

function progressText(j: TrainingJob): string {
  const p = j.progress;
  if (!p?.stage) return j.status === 'queued' ? 'waiting for a worker' : '—';
  const parts = [p.stage];
  if (p.step !== undefined && p.of !== undefined) parts.push(`step ${p.step} of ${p.of}`);
  if (p.loss !== undefined) parts.push(`loss ${p.loss.toFixed(4)}`);
  if (p.etaMinutes !== undefined && j.status === 'running') parts.push(`about ${p.etaMinutes} min left`);
  return parts.join(' · ');
}

/** Training jobs of a line with their live progress (refreshed every few seconds while the page is open). */
export function trainingView(ctx: AppContext, m: RouteMatch): View {
  const body = h('div', null, loading('lines'));
  const el = h('section', { class: 'view' }, pageHeader('Training'), body);
  let timer: ReturnType<typeof setInterval> | undefined;
  void (async () => {
    let lines: Line[];
    try {
      lines = await ctx.lines();
    } catch (e) {
      replace(body, errorBox(e));
      return;
    }
    if (lines.length === 0) {
      replace(body, h('p', { class: 'muted' }, 'No lines yet.'));
      return;
    }
    const wanted = m.search.get('line');
    const line = lines.find((l) => l.id === wanted || l.code === wanted) ?? lines[0];
    const sel = select(
      'line',
      lines.map((l) => [l.id, `${l.name} (${l.code})`]),
      line.id,
    );
    sel.addEventListener('change', () => ctx.router.go(`/training?line=${encodeURIComponent(sel.value)}`));
    const table = h('div', null, loading('training jobs'));
    replace(body, h('div', { class: 'filters compact' }, field('Line', sel)), table);
    const load = async () => {
      try {
        const jobs = await ctx.api.get<TrainingJob[]>('/training-jobs', { lineId: line.id });
        replace(
          table,
          jobs.length ? jobsTable(jobs) : h('p', { class: 'muted' }, 'No training jobs for this line.'),
        );
      } catch (e) {
        replace(table, errorBox(e));
      }
    };
    await load();
    timer = setInterval(() => void load(), 3000);
  })();
  return { title: 'Training', el, dispose: () => clearInterval(timer) };
}

function jobsTable(jobs: TrainingJob[]): HTMLElement {
  return h(
    'table',
    { class: 'data', 'aria-label': 'Training jobs' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ...['Model', 'Config', 'Status', 'Progress', 'Started', 'Result'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    h(
      'tbody',
      null,
      ...jobs.map((j) =>
        h(
          'tr',
          { 'data-job': j.id },
          h('td', null, j.config.modelName),
          h('td', null, `${j.config.config}, ${j.config.maxMinutes} min`),
          h('td', { 'data-testid': 'status' }, j.status),
          h('td', { 'data-testid': 'progress' }, progressText(j)),
          h('td', null, formatTime(j.createdAt)),
          h('td', null, j.error ?? (j.modelVersionId ? 'version registered' : '—')),
        ),
      ),
    ),
  );
}
