import type { AppContext } from '../context.js';
import { h, replace } from '../dom.js';
import { formatCount, formatPercent, formatTime, startOfLocalDay } from '../format.js';
import type { View } from '../router.js';
import type { Aggregates, Line, ResultView } from '../types.js';
import { errorBox, loading, pageHeader, verdictBadge } from '../ui.js';

interface Tile {
  ok: number;
  nok: number;
  okEl: HTMLElement;
  nokEl: HTMLElement;
  rateEl: HTMLElement;
  lastEl: HTMLElement;
}

/**
 * The shop-floor board: one tile per line with today's OK and NOK counts in very large type and the last part
 * inspected, updated live. Meant for a screen on the wall; reloads its counts every five minutes.
 */
export function floorView(ctx: AppContext): View {
  const board = h('div', { class: 'floor' }, loading('lines'));
  const tiles = new Map<string, Tile>();
  let timer: ReturnType<typeof setInterval> | null = null;

  const show = (t: Tile) => {
    replace(t.okEl, formatCount(t.ok));
    replace(t.nokEl, formatCount(t.nok));
    replace(
      t.rateEl,
      t.ok + t.nok ? `NOK rate ${formatPercent(t.nok / (t.ok + t.nok), 2)}` : 'No parts yet today',
    );
  };

  async function load(lines: Line[]): Promise<void> {
    const from = startOfLocalDay(new Date()).toISOString();
    await Promise.all(
      lines.map(async (l) => {
        const agg = await ctx.api.get<Aggregates>('/results/aggregates', {
          line: l.code,
          bucket: 'none',
          groupBy: 'none',
          from,
        });
        const t = tiles.get(l.code);
        if (!t) return;
        t.ok = agg.series.reduce((n, p) => n + p.ok, 0);
        t.nok = agg.series.reduce((n, p) => n + p.nok, 0);
        show(t);
      }),
    );
  }

  const unsubscribe = ctx.live.subscribe((r: ResultView) => {
    const t = tiles.get(r.line);
    if (!t) return;
    if (r.verdict === 'OK') t.ok += 1;
    else if (r.verdict === 'NOK') t.nok += 1;
    show(t);
    replace(
      t.lastEl,
      'Last part: ',
      h('a', { href: `/results/${encodeURIComponent(r.resultId)}` }, r.partId),
      ' ',
      verdictBadge(r.verdict, r.state),
      ` at ${r.station}, ${formatTime(r.inspectedAt)}`,
    );
  });

  void (async () => {
    try {
      const lines = await ctx.lines();
      replace(
        board,
        lines.length === 0
          ? h('p', { class: 'muted' }, 'No lines yet.')
          : lines.map((l) => {
              const t: Tile = {
                ok: 0,
                nok: 0,
                okEl: h('span', { class: 'floor-value', 'data-testid': `floor-ok-${l.code}` }, '—'),
                nokEl: h('span', { class: 'floor-value', 'data-testid': `floor-nok-${l.code}` }, '—'),
                rateEl: h('p', { class: 'floor-rate' }),
                lastEl: h('p', { class: 'floor-last', 'aria-live': 'polite' }, 'Waiting for the next part…'),
              };
              tiles.set(l.code, t);
              return h(
                'article',
                { class: 'floor-tile', 'aria-label': `${l.name} today` },
                h('h2', null, `${l.name} (${l.code})`),
                h(
                  'div',
                  { class: 'floor-counts' },
                  h('div', { class: 'floor-count ok' }, h('span', { class: 'floor-label' }, 'OK'), t.okEl),
                  h('div', { class: 'floor-count nok' }, h('span', { class: 'floor-label' }, 'NOK'), t.nokEl),
                ),
                t.rateEl,
                t.lastEl,
              );
            }),
      );
      await load(lines);
      timer = setInterval(() => void load(lines).catch(() => {}), 5 * 60_000);
    } catch (e) {
      replace(board, errorBox(e));
    }
  })();

  const el = h('section', { class: 'view' }, pageHeader('Lines today'), board);
  return {
    title: 'Lines today',
    el,
    dispose: () => {
      unsubscribe();
      if (timer) clearInterval(timer);
    },
  };
}
