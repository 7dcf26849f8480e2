import type { AppContext } from '../context.js';
import { field, h, replace, select } from '../dom.js';
import {
  filterToQuery,
  filterToSearch,
  formatScore,
  formatTime,
  type HistoryFilter,
  isoToLocalInput,
  localInputToIso,
  matchesFilter,
  parseFilter,
} from '../format.js';
import type { RouteMatch, View } from '../router.js';
import type { Page, ResultView } from '../types.js';
import { errorBox, loading, pageHeader, verdictBadge } from '../ui.js';

const PAGE = 50;
/** Live rows added on top of the list at most, so a wall display left open for a shift stays light. */
const MAX_LIVE_ROWS = 500;

let lastSearch = '';
/** The history URL with the filters last used, for "back to history" links. */
export function historyHref(): string {
  return `/history${lastSearch}`;
}

export function historyView(ctx: AppContext, m: RouteMatch): View {
  const filter = parseFilter(m.search.toString());
  lastSearch = filterToSearch(filter);
  const form = filterForm(ctx, filter);
  const tbody = h('tbody');
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const errors = h('div');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let cursor: string | null = null;
  let shown = 0;
  let fresh = 0;

  const table = h(
    'table',
    { class: 'data history', 'aria-label': 'Inspection results, newest first' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['Inspected', 'Line · station', 'Part', 'Verdict', 'Score', 'Threshold', 'Model'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    tbody,
  );

  const showStatus = () =>
    replace(
      status,
      shown === 0 ? 'No results match these filters.' : `Showing ${shown} result${shown === 1 ? '' : 's'}`,
      fresh ? ` · ${fresh} arrived live` : '',
      cursor ? ' · more available' : '',
    );

  async function load(): Promise<void> {
    more.disabled = true;
    replace(errors, shown === 0 ? loading('results') : null);
    try {
      const page = await ctx.api.get<Page<ResultView>>('/results', {
        ...filterToQuery(filter),
        limit: PAGE,
        cursor: cursor ?? undefined,
      });
      replace(errors);
      for (const r of page.items) tbody.appendChild(row(r, false));
      shown += page.items.length;
      cursor = page.nextCursor;
      more.hidden = !cursor;
      showStatus();
    } catch (e) {
      replace(errors, errorBox(e));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => void load());

  const unsubscribe = ctx.live.subscribe((r) => {
    if (fresh >= MAX_LIVE_ROWS || !matchesFilter(r, filter)) return;
    if (tbody.querySelector(`tr[data-id="${CSS.escape(r.resultId)}"]`)) return;
    tbody.insertBefore(row(r, true), tbody.firstChild);
    fresh += 1;
    shown += 1;
    showStatus();
  });

  void load();
  const el = h(
    'section',
    { class: 'view' },
    pageHeader('Defect history'),
    form,
    status,
    errors,
    h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'actions' }, more),
  );
  return { title: 'Defect history', el, dispose: unsubscribe };
}

function row(r: ResultView, isNew: boolean): HTMLTableRowElement {
  const thr = r.thresholds?.image ?? null;
  return h(
    'tr',
    {
      class: isNew ? `new ${r.verdict === 'NOK' ? 'nok' : ''}` : r.verdict === 'NOK' ? 'nok' : '',
      'data-id': r.resultId,
    },
    h('td', null, formatTime(r.inspectedAt)),
    h('td', null, `${r.line} · ${r.station}`),
    h('td', null, h('a', { href: `/results/${encodeURIComponent(r.resultId)}` }, r.partId)),
    h('td', null, verdictBadge(r.verdict, r.state)),
    h('td', { class: 'num' }, formatScore(r.score)),
    h('td', { class: 'num' }, formatScore(thr)),
    h('td', null, r.model ? `${r.model.name}@${r.model.version}` : '—'),
  );
}

function filterForm(ctx: AppContext, f: HistoryFilter): HTMLFormElement {
  const line = select('line', [['', 'All lines']], f.line ?? '');
  const model = select('model', [['', 'All model versions']], f.model ?? '');
  const verdict = select(
    'verdict',
    [
      ['', 'OK and NOK'],
      ['NOK', 'NOK only'],
      ['OK', 'OK only'],
    ],
    f.verdict ?? '',
  );
  const from = h('input', { type: 'datetime-local', name: 'from', value: isoToLocalInput(f.from) });
  const to = h('input', { type: 'datetime-local', name: 'to', value: isoToLocalInput(f.to) });
  const minScore = h('input', { type: 'number', name: 'minScore', step: 'any', value: f.minScore ?? '' });
  const maxScore = h('input', { type: 'number', name: 'maxScore', step: 'any', value: f.maxScore ?? '' });

  void ctx.lines().then(
    (lines) => {
      for (const l of lines)
        line.appendChild(
          h('option', { value: l.code, selected: l.code === f.line }, `${l.name} (${l.code})`),
        );
    },
    () => {},
  );
  void ctx.models().then(
    (models) => {
      for (const mv of models) {
        const v = `${mv.name}@${mv.version}`;
        model.appendChild(h('option', { value: v, selected: v === f.model }, v));
      }
    },
    () => {},
  );

  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter results' },
    field('Line', line),
    field('From', from),
    field('To', to),
    field('Verdict', verdict),
    field('Model version', model),
    field('Min score', minScore),
    field('Max score', maxScore),
    h(
      'div',
      { class: 'filter-actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
      h('a', { href: '/history', class: 'button secondary' }, 'Clear'),
    ),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next: HistoryFilter = {
      line: line.value || undefined,
      from: localInputToIso(from.value),
      to: localInputToIso(to.value),
      verdict: (verdict.value || undefined) as HistoryFilter['verdict'],
      model: model.value || undefined,
      minScore: minScore.value === '' ? undefined : Number(minScore.value),
      maxScore: maxScore.value === '' ? undefined : Number(maxScore.value),
    };
    ctx.router.go(`/history${filterToSearch(next)}`);
  });
  return form;
}
