import type { AppContext } from '../context.js';
import { h, replace } from '../dom.js';
import { formatCount, formatPercent, formatScore, formatTime } from '../format.js';
import type { View } from '../router.js';
import type { Device, GroupStats, Rollout, RolloutDetail, RolloutStatus } from '../types.js';
import { confirmAction, engineersOnly, errorBox, loading, pageHeader } from '../ui.js';

const STATUS_TEXT: Record<RolloutStatus, string> = {
  running: 'Running',
  paused: 'Paused',
  completed: 'Completed',
  aborted: 'Aborted',
  rolled_back: 'Rolled back',
};
const STATUS_TONE: Record<RolloutStatus, string> = {
  running: 'info',
  paused: 'warn',
  completed: 'ok',
  aborted: 'muted',
  rolled_back: 'nok',
};
const DEVICE_STATES = ['active', 'shadow', 'downloading', 'pending', 'waiting', 'failed', 'rolled_back'];

function statusBadge(s: RolloutStatus): HTMLElement {
  return h('span', { class: `badge ${STATUS_TONE[s]}`, 'data-testid': 'rollout-status' }, STATUS_TEXT[s]);
}

function stageLabel(r: Rollout, i: number): string {
  const st = r.stages[i];
  if (st && 'percent' in st) return `${st.percent} %`;
  if (st && 'count' in st) return `${st.count} device(s)`;
  return `stage ${i + 1}`;
}

export function rolloutsView(ctx: AppContext): View {
  const body = h('div', null, loading('rollouts'));
  void (async () => {
    try {
      const rollouts = await ctx.api.get<Rollout[]>('/rollouts');
      replace(
        body,
        rollouts.length === 0
          ? h('p', { class: 'muted' }, 'No rollouts yet.')
          : h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                { class: 'data', 'aria-label': 'Rollouts, newest first' },
                h(
                  'thead',
                  null,
                  h(
                    'tr',
                    null,
                    ['Model', 'Mode', 'Status', 'Stage', 'Devices', 'Started', 'By'].map((c) =>
                      h('th', { scope: 'col' }, c),
                    ),
                  ),
                ),
                h(
                  'tbody',
                  null,
                  rollouts.map((r) =>
                    h(
                      'tr',
                      null,
                      h(
                        'th',
                        { scope: 'row' },
                        h('a', { href: `/rollouts/${r.id}` }, `${r.model.name}@${r.model.version}`),
                      ),
                      h('td', null, r.mode),
                      h('td', null, statusBadge(r.status)),
                      h(
                        'td',
                        null,
                        `${r.currentStage + 1} of ${r.stages.length} (${stageLabel(r, r.currentStage)})`,
                      ),
                      h('td', null, countsText(r.counts)),
                      h('td', null, formatTime(r.createdAt)),
                      h('td', null, r.createdBy),
                    ),
                  ),
                ),
              ),
            ),
      );
    } catch (e) {
      replace(body, errorBox(e));
    }
  })();
  return { title: 'Rollouts', el: h('section', { class: 'view' }, pageHeader('Rollouts'), body) };
}

function countsText(counts: Record<string, number>): string {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const parts = DEVICE_STATES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s.replace('_', ' ')}`);
  return `${total} device${total === 1 ? '' : 's'}: ${parts.join(', ') || '—'}`;
}

export function rolloutDetailView(ctx: AppContext, id: string): View {
  const body = h('div', null, loading('rollout'));
  const message = h('div', { 'aria-live': 'assertive' });
  let timer: ReturnType<typeof setInterval> | null = null;

  let shown = '';
  async function refresh(): Promise<void> {
    try {
      const [r, devices] = await Promise.all([
        ctx.api.get<RolloutDetail>(`/rollouts/${encodeURIComponent(id)}`),
        ctx.devices().catch(() => [] as Device[]),
      ]);
      // Redraw only on change, and keep keyboard focus on the same control: a timer must not steal focus.
      const key = JSON.stringify([r, devices.map((d) => [d.id, d.name])]);
      if (key === shown) return;
      shown = key;
      const focused = body.contains(document.activeElement) ? document.activeElement?.textContent : null;
      replace(body, detail(ctx, r, devices, act));
      if (focused) [...body.querySelectorAll('button')].find((b) => b.textContent === focused)?.focus();
    } catch (e) {
      shown = '';
      replace(body, errorBox(e));
    }
  }

  async function act(
    action: 'promote' | 'pause' | 'resume' | 'abort' | 'rollback',
    r: RolloutDetail,
  ): Promise<void> {
    const name = `${r.model.name}@${r.model.version}`;
    const ask: Record<typeof action, Parameters<typeof confirmAction>[0]> = {
      promote: {
        title: 'Promote rollout?',
        message: `Move ${name} to stage ${r.currentStage + 2}.`,
        confirmLabel: 'Promote',
      },
      pause: {
        title: 'Pause rollout?',
        message: 'No promotion and no automatic rollback until resumed.',
        confirmLabel: 'Pause',
      },
      resume: {
        title: 'Resume rollout?',
        message: 'Promotion and automatic rollback start again.',
        confirmLabel: 'Resume',
      },
      abort: {
        title: 'Abort rollout?',
        message: `Stop rolling out ${name}. Devices that have not activated it go back to their previous model; devices already running it keep it.`,
        confirmLabel: 'Abort rollout',
        danger: true,
        askReason: true,
      },
      rollback: {
        title: 'Roll back rollout?',
        message: `Every device this rollout changed goes back to the model it ran before ${name}.`,
        confirmLabel: 'Roll back',
        danger: true,
        askReason: true,
      },
    };
    const ok = await confirmAction(ask[action]);
    if (!ok) return;
    replace(message);
    try {
      const body =
        action === 'pause' || action === 'resume' ? undefined : ok.reason ? { reason: ok.reason } : {};
      await ctx.api.post(`/rollouts/${encodeURIComponent(id)}/${action}`, body);
      replace(
        message,
        h(
          'p',
          { class: 'alert success', role: 'status' },
          `Done: ${action === 'rollback' ? 'rolled back' : action}.`,
        ),
      );
    } catch (e) {
      replace(message, errorBox(e));
    }
    await refresh();
  }

  void refresh();
  timer = setInterval(() => void refresh(), 10_000);
  const el = h(
    'section',
    { class: 'view' },
    pageHeader('Rollout', h('a', { href: '/rollouts', class: 'button secondary' }, '← All rollouts')),
    message,
    body,
  );
  return { title: 'Rollout', el, dispose: () => timer && clearInterval(timer) };
}

type Act = (action: 'promote' | 'pause' | 'resume' | 'abort' | 'rollback', r: RolloutDetail) => Promise<void>;

function detail(ctx: AppContext, r: RolloutDetail, devices: Device[], act: Act): HTMLElement {
  const live = r.status === 'running' || r.status === 'paused';
  const names = new Map(devices.map((d) => [d.id, d.name]));
  const button = (label: string, action: Parameters<Act>[0], enabled: boolean, cls = 'secondary') =>
    h(
      'button',
      { type: 'button', class: cls, disabled: !enabled, onClick: () => void act(action, r) },
      label,
    );
  const controls = ctx.session.canOperate
    ? h(
        'div',
        { class: 'actions rollout-actions', role: 'group', 'aria-label': 'Rollout actions' },
        button(
          'Promote to next stage',
          'promote',
          r.status === 'running' && r.currentStage < r.stages.length - 1,
        ),
        r.status === 'paused'
          ? button('Resume', 'resume', true)
          : button('Pause', 'pause', r.status === 'running'),
        button('Abort', 'abort', live, 'danger'),
        button('Roll back', 'rollback', r.status !== 'rolled_back' && r.status !== 'aborted', 'danger'),
      )
    : engineersOnly('pause, abort or roll back a rollout');
  return h(
    'div',
    null,
    h(
      'div',
      { class: 'rollout-head' },
      h('h2', null, `${r.model.name}@${r.model.version}`, ' ', statusBadge(r.status)),
      h(
        'p',
        { class: 'muted' },
        `${r.mode === 'shadow' ? 'Shadow' : 'Normal'} rollout started ${formatTime(r.createdAt)} by ${r.createdBy}`,
        r.finishedAt ? `, finished ${formatTime(r.finishedAt)}` : '',
        r.reason ? `. Reason: ${r.reason}` : '',
      ),
    ),
    controls,
    stages(r),
    metrics(r),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'data compact', 'aria-label': 'Devices in this rollout' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['Device', 'Stage', 'State', 'Activated', 'Error'].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h(
          'tbody',
          null,
          r.devices.map((d) =>
            h(
              'tr',
              null,
              h('th', { scope: 'row' }, names.get(d.deviceId) ?? d.deviceId),
              h('td', null, String(d.stage + 1)),
              h('td', null, h('span', { class: `state ${d.state}` }, d.state.replace('_', ' '))),
              h('td', null, formatTime(d.activatedAt)),
              h('td', null, d.error ?? ''),
            ),
          ),
        ),
      ),
    ),
  );
}

/** One row per stage: its share of devices, a bar of their states, and whether it is done, current or waiting. */
function stages(r: RolloutDetail): HTMLElement {
  return h(
    'ol',
    { class: 'stages', 'aria-label': 'Stages' },
    r.stages.map((_, i) => {
      const ds = r.devices.filter((d) => d.stage === i);
      const counts: Record<string, number> = {};
      for (const d of ds) counts[d.state] = (counts[d.state] ?? 0) + 1;
      const phase = i < r.currentStage ? 'done' : i === r.currentStage ? 'current' : 'waiting';
      return h(
        'li',
        { class: `stage ${phase}`, 'aria-current': phase === 'current' ? 'step' : null },
        h('span', { class: 'stage-name' }, `Stage ${i + 1} · ${stageLabel(r, i)}`),
        h(
          'span',
          { class: 'stage-bar', 'aria-hidden': 'true' },
          DEVICE_STATES.filter((s) => counts[s]).map((s) =>
            h('span', { class: `seg ${s}`, style: `flex-grow:${counts[s]}`, title: `${counts[s]} ${s}` }),
          ),
        ),
        h('span', { class: 'stage-text' }, `${phase} — ${countsText(counts)}`),
      );
    }),
  );
}

function metrics(r: RolloutDetail): HTMLElement | null {
  if (!r.metrics) return null;
  const rate = (g: GroupStats) => (g.count ? g.nok / g.count : null);
  const row = (label: string, g: GroupStats) =>
    h(
      'tr',
      null,
      h('th', { scope: 'row' }, label),
      h('td', { class: 'num' }, formatCount(g.count)),
      h('td', { class: 'num' }, formatPercent(rate(g), 2)),
      h('td', { class: 'num' }, formatScore(g.meanScore)),
    );
  return h(
    'table',
    { class: 'data compact metrics' },
    h(
      'caption',
      null,
      'Candidate against baseline',
      r.next ? ` — next step: ${r.next.action}${'reason' in r.next ? ` (${r.next.reason})` : ''}` : '',
    ),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['', 'Results', 'NOK rate', 'Mean score'].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      null,
      row(`Candidate ${r.model.version}`, r.metrics.candidate),
      row('Baseline (previous models)', r.metrics.baseline),
    ),
  );
}
