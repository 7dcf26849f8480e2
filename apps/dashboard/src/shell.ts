import type { AppContext } from './context.js';
import { TodayCounters } from './counters.js';
import { h, replace } from './dom.js';
import type { LiveState } from './live.js';
import type { View } from './router.js';

const NAV: Array<[string, string]> = [
  ['/floor', 'Lines today'],
  ['/history', 'Defect history'],
  ['/trends', 'Trends'],
  ['/fleet', 'Fleet'],
  ['/rollouts', 'Rollouts'],
  ['/thresholds', 'Thresholds'],
  ['/review', 'Review'],
  ['/training', 'Training'],
];

const LIVE_TEXT: Record<LiveState, string> = { live: 'Live', connecting: 'Connecting…', offline: 'Offline' };

/** Page frame for signed-in users: skip link, navigation, today's counters, live state, sign-out. */
export class Shell {
  readonly el: HTMLElement;
  private readonly main = h('main', { id: 'main', tabindex: '-1' });
  private readonly nav: HTMLElement;
  private readonly liveEl = h('span', { class: 'live-state', role: 'status', 'data-testid': 'live-state' });
  private readonly userEl = h('span', { class: 'user' });
  private readonly counters: TodayCounters;
  private unsubscribeLive: (() => void) | null = null;

  constructor(
    private readonly ctx: AppContext,
    onSignOut: () => void,
  ) {
    this.counters = new TodayCounters(ctx.api, ctx.live);
    this.nav = h(
      'nav',
      { 'aria-label': 'Main' },
      h(
        'ul',
        null,
        NAV.map(([href, label]) => h('li', null, h('a', { href }, label))),
      ),
    );
    this.el = h(
      'div',
      { class: 'shell' },
      h('a', { class: 'skip', href: '#main', onClick: (e) => this.skip(e) }, 'Skip to content'),
      h(
        'header',
        { class: 'topbar' },
        h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), 'DiAD Edge'),
        this.nav,
        h(
          'div',
          { class: 'session' },
          this.liveEl,
          this.userEl,
          h('button', { type: 'button', class: 'link-button', onClick: onSignOut }, 'Sign out'),
        ),
      ),
      this.counters.el,
      this.main,
    );
  }

  start(): void {
    const s = this.ctx.session.current;
    replace(this.userEl, s ? `${s.username} (${s.role})` : '');
    this.counters.start();
    this.unsubscribeLive = this.ctx.live.onState((st) => {
      this.liveEl.className = `live-state ${st}`;
      replace(this.liveEl, h('span', { class: 'dot', 'aria-hidden': 'true' }), LIVE_TEXT[st]);
    });
  }

  stop(): void {
    this.counters.stop();
    this.unsubscribeLive?.();
  }

  show(view: View): void {
    replace(this.main, view.el);
    for (const a of this.nav.querySelectorAll('a')) {
      const current = location.pathname === a.pathname || location.pathname.startsWith(`${a.pathname}/`);
      if (current) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  private skip(e: Event): void {
    e.preventDefault();
    this.main.focus();
  }
}
