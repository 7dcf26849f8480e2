import type { Api } from './api.js';
import { h, replace } from './dom.js';
import { formatCount, formatPercent, startOfLocalDay } from './format.js';
import type { LiveResults } from './live.js';
import type { Aggregates } from './types.js';

/**
 * Today's OK and NOK counts in large type for a wall display: loaded from the aggregates endpoint, then
 * counted up from the live stream, and reloaded every few minutes and after midnight to stay exact.
 */
export class TodayCounters {
  readonly el: HTMLElement;
  private ok = 0;
  private nok = 0;
  private day = startOfLocalDay(new Date()).getTime();
  private readonly okEl = h('span', { class: 'count-value', 'data-testid': 'count-ok' }, '—');
  private readonly nokEl = h('span', { class: 'count-value', 'data-testid': 'count-nok' }, '—');
  private readonly rateEl = h('span', { class: 'count-value small', 'data-testid': 'nok-rate' }, '—');
  private timer: ReturnType<typeof setInterval> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly api: Api,
    private readonly live: LiveResults,
  ) {
    this.el = h(
      'section',
      { class: 'counters', 'aria-label': 'Inspections today, all lines' },
      h('div', { class: 'count ok' }, h('span', { class: 'count-label' }, 'OK today'), this.okEl),
      h('div', { class: 'count nok' }, h('span', { class: 'count-label' }, 'NOK today'), this.nokEl),
      h('div', { class: 'count rate' }, h('span', { class: 'count-label' }, 'NOK rate'), this.rateEl),
    );
  }

  start(): void {
    this.stop();
    void this.reload();
    this.timer = setInterval(() => void this.reload(), 5 * 60_000);
    this.unsubscribe = this.live.subscribe((r) => {
      if (startOfLocalDay(new Date()).getTime() !== this.day) {
        void this.reload();
        return;
      }
      if (r.verdict === 'OK') this.ok += 1;
      else if (r.verdict === 'NOK') this.nok += 1;
      this.show();
    });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    this.timer = null;
    this.unsubscribe = null;
  }

  private async reload(): Promise<void> {
    const day = startOfLocalDay(new Date());
    try {
      const agg = await this.api.get<Aggregates>('/results/aggregates', {
        bucket: 'none',
        groupBy: 'none',
        from: day.toISOString(),
      });
      this.day = day.getTime();
      this.ok = agg.series.reduce((n, p) => n + p.ok, 0);
      this.nok = agg.series.reduce((n, p) => n + p.nok, 0);
      this.show();
    } catch {
      // Keep the last counts; the next reload or live result will correct them.
    }
  }

  private show(): void {
    replace(this.okEl, formatCount(this.ok));
    replace(this.nokEl, formatCount(this.nok));
    const judged = this.ok + this.nok;
    replace(this.rateEl, judged ? formatPercent(this.nok / judged, 2) : '—');
  }
}
