import type { AppContext } from '../context.js';
import { field, h, replace, select } from '../dom.js';
import { formatScore, formatTime } from '../format.js';
import type { RouteMatch, View } from '../router.js';
import type { Line, ReviewItem } from '../types.js';
import { errorBox, loading, pageHeader, verdictBadge } from '../ui.js';

const REASON: Record<ReviewItem['reason'], string> = {
  'shadow-disagrees': 'shadow model disagrees',
  borderline: 'close to the threshold',
};

/** The review queue: unlabelled results of a line, the most useful to label first. */
export function reviewView(ctx: AppContext, m: RouteMatch): View {
  const body = h('div', null, loading('lines'));
  const el = h('section', { class: 'view' }, pageHeader('Review'), body);
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
    sel.addEventListener('change', () => ctx.router.go(`/review?line=${encodeURIComponent(sel.value)}`));
    const table = h('div', null, loading('review queue'));
    replace(
      body,
      h('div', { class: 'filters compact' }, field('Line', sel)),
      h(
        'p',
        { class: 'muted' },
        'Unlabelled results, first where the shadow model disagrees, then closest to the threshold. Open one to label it.',
      ),
      table,
    );
    try {
      const items = await ctx.api.get<ReviewItem[]>('/review-queue', { line: line.code, limit: 50 });
      replace(table, items.length ? queueTable(items) : h('p', { class: 'muted' }, 'Nothing to review.'));
    } catch (e) {
      replace(table, errorBox(e));
    }
  })();
  return { title: 'Review', el };
}

function queueTable(items: ReviewItem[]): HTMLElement {
  return h(
    'table',
    { class: 'data', 'aria-label': 'Review queue' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ...['Part', 'Station', 'Inspected', 'Verdict', 'Normalised score', 'Why'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    h(
      'tbody',
      null,
      ...items.map((r) =>
        h(
          'tr',
          { 'data-result': r.resultId },
          h('td', null, h('a', { href: `/results/${r.resultId}` }, r.partId)),
          h('td', null, r.station),
          h('td', null, formatTime(r.inspectedAt)),
          h('td', null, verdictBadge(r.verdict)),
          h('td', { class: 'num' }, formatScore(r.normalizedScore)),
          h('td', null, REASON[r.reason]),
        ),
      ),
    ),
  );
}
