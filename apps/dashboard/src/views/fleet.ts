import type { AppContext } from '../context.js';
import { h, replace } from '../dom.js';
import { formatAgo, formatCount } from '../format.js';
import type { View } from '../router.js';
import type { Device } from '../types.js';
import { errorBox, loading, pageHeader } from '../ui.js';

const REFRESH_MS = 10_000;

export function fleetView(ctx: AppContext): View {
  const summary = h('div', { class: 'fleet-summary', role: 'status' });
  const body = h('div', null, loading('devices'));
  let timer: ReturnType<typeof setInterval> | null = null;

  async function refresh(): Promise<void> {
    try {
      const devices = await ctx.api.get<Device[]>('/devices');
      const online = devices.filter((d) => d.online).length;
      const backlog = devices.reduce((n, d) => n + (d.outboxDepth ?? 0), 0);
      replace(
        summary,
        stat('Devices', formatCount(devices.length)),
        stat('Online', formatCount(online), online < devices.length ? 'warn' : 'good'),
        stat('Offline', formatCount(devices.length - online), devices.length - online > 0 ? 'bad' : 'good'),
        stat('Outbox backlog', formatCount(backlog), backlog > 0 ? 'warn' : 'good'),
      );
      replace(body, devices.length ? table(devices) : h('p', { class: 'muted' }, 'No devices enrolled yet.'));
    } catch (e) {
      replace(body, errorBox(e));
    }
  }

  void refresh();
  timer = setInterval(() => void refresh(), REFRESH_MS);
  const el = h(
    'section',
    { class: 'view' },
    pageHeader(
      'Fleet',
      h('button', { type: 'button', class: 'secondary', onClick: () => void refresh() }, 'Refresh'),
    ),
    summary,
    body,
  );
  return { title: 'Fleet', el, dispose: () => timer && clearInterval(timer) };
}

function stat(label: string, value: string, tone = ''): HTMLElement {
  return h(
    'div',
    { class: `stat ${tone}` },
    h('span', { class: 'stat-value' }, value),
    h('span', { class: 'stat-label' }, label),
  );
}

function table(devices: Device[]): HTMLElement {
  const now = Date.now();
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data fleet', 'aria-label': 'Devices' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          [
            'Device',
            'Line · station',
            'State',
            'Active model',
            'Execution provider',
            'Queue',
            'Outbox',
            'Set aside',
            'PLC',
            'Agent',
            'Last seen',
          ].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        null,
        devices.map((d) =>
          h(
            'tr',
            { 'data-device': d.name },
            h(
              'th',
              { scope: 'row' },
              d.name,
              d.hostname && d.hostname !== d.name ? h('small', { class: 'muted block' }, d.hostname) : null,
            ),
            h('td', null, `${d.site} · ${d.line} · ${d.station}`),
            h('td', null, stateBadge(d)),
            h(
              'td',
              null,
              d.activeModel
                ? `${d.activeModel.name}@${d.activeModel.version}`
                : h('span', { class: 'muted' }, 'none'),
            ),
            providerCell(d),
            h('td', { class: 'num' }, d.queueDepth ?? '—'),
            h('td', { class: `num ${(d.outboxDepth ?? 0) > 0 ? 'warn-text' : ''}` }, d.outboxDepth ?? '—'),
            setAsideCell(d),
            plcCell(d),
            h('td', null, d.agentVersion ?? '—'),
            h('td', null, formatAgo(d.lastSeenAt, now)),
          ),
        ),
      ),
    ),
  );
}

function stateBadge(d: Device): HTMLElement {
  if (d.disabled) return h('span', { class: 'badge muted' }, 'Disabled');
  if (!d.online) return h('span', { class: 'badge nok' }, 'Offline');
  if (d.status === 'degraded' || d.status === 'failing')
    return h('span', { class: 'badge warn' }, `Online · ${d.status}`);
  return h('span', { class: 'badge ok' }, 'Online');
}

/** The provider running the model, its variant, and on hover why each preferred provider was not usable. */
function providerCell(d: Device): HTMLTableCellElement {
  const a = d.accelerators;
  if (!a) return h('td', null, d.provider ?? '—');
  const notUsable = a.checks.filter((c) => c.status !== 'ok');
  const title = [
    a.gpu ? `GPU: ${a.gpu}` : 'no GPU found',
    ...a.checks.map((c) => `${c.provider}: ${c.status}${c.reason ? ` (${c.reason})` : ''}`),
  ].join('\n');
  return h(
    'td',
    { title, 'data-testid': 'provider' },
    d.provider ?? '—',
    a.variant ? h('span', { class: 'muted' }, ` · ${a.variant}`) : '',
    notUsable.length ? h('span', { class: 'muted' }, ` · ${notUsable.length} unavailable`) : '',
  );
}

/** Results set aside on the device (refused for good); the newest reason on hover and beside the count. */
function setAsideCell(d: Device): HTMLTableCellElement {
  const s = d.setAside;
  if (!s) return h('td', { class: 'num', 'data-testid': 'set-aside' }, '—');
  if (s.count === 0) return h('td', { class: 'num', 'data-testid': 'set-aside' }, '0');
  return h(
    'td',
    { class: 'num warn-text', 'data-testid': 'set-aside', title: s.lastReason ?? '' },
    String(s.count),
    s.lastReason ? h('small', { class: 'muted block' }, s.lastReason.slice(0, 80)) : null,
  );
}

/** One badge per PLC interface: up (a PLC is connected), idle (listening), down (S7 PLC unreachable). */
function plcCell(d: Device): HTMLTableCellElement {
  const links = d.plcLinks ?? [];
  if (links.length === 0) return h('td', { 'data-testid': 'plc' }, h('span', { class: 'muted' }, '—'));
  const cls = { up: 'ok', idle: 'muted', down: 'warn' } as const;
  const name = { opcua: 'OPC UA', modbus: 'Modbus', s7: 'S7' } as const;
  return h(
    'td',
    { 'data-testid': 'plc' },
    links.flatMap((l, i) => {
      const extra = [
        l.clients !== undefined ? `${l.clients} client${l.clients === 1 ? '' : 's'}` : null,
        l.pending ? `${l.pending} waiting` : null,
        l.detail,
      ].filter(Boolean);
      const badge = h(
        'span',
        {
          class: `badge ${cls[l.state]}`,
          title: `${name[l.interface]}: ${l.state}${extra.length ? ` · ${extra.join(' · ')}` : ''}`,
        },
        `${name[l.interface]} ${l.state}${l.pending ? ` (${l.pending})` : ''}`,
      );
      return i === 0 ? [badge] : [' ', badge];
    }),
  );
}
