import type { AppContext } from '../context.js';
import { field, h, replace, select } from '../dom.js';
import { formatScore, formatTime, localInputToIso } from '../format.js';
import type { RouteMatch, View } from '../router.js';
import type { AuditEntry, Line, Page, ThresholdSet } from '../types.js';
import { engineersOnly, errorBox, loading, pageHeader } from '../ui.js';

export function thresholdsView(ctx: AppContext, m: RouteMatch): View {
  const body = h('div', null, loading('lines'));
  const el = h('section', { class: 'view' }, pageHeader('Thresholds'), body);

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
    const lineSel = select(
      'line',
      lines.map((l) => [l.id, `${l.name} (${l.code})`]),
      line.id,
    );
    lineSel.addEventListener('change', () =>
      ctx.router.go(`/thresholds?line=${encodeURIComponent(lineSel.value)}`),
    );
    const content = h('div', null, loading('thresholds'));
    replace(body, h('div', { class: 'filters compact' }, field('Line', lineSel)), content);
    await showLine(ctx, line, content);
  })();
  return { title: 'Thresholds', el };
}

async function showLine(ctx: AppContext, line: Line, content: HTMLElement): Promise<void> {
  try {
    const [sets, effective, audit] = await Promise.all([
      ctx.api.get<ThresholdSet[]>(`/lines/${line.id}/thresholds`),
      ctx.api.get<{ effective: ThresholdSet | null }>(`/lines/${line.id}/thresholds/effective`),
      ctx.api.get<Page<AuditEntry>>('/audit', {
        entityType: 'line',
        entityId: line.id,
        action: 'thresholds.create',
        limit: 100,
      }),
    ]);
    const thresholdAudit = audit.items;
    replace(
      content,
      h(
        'div',
        { class: 'two-col' },
        h(
          'div',
          null,
          current(effective.effective),
          ctx.session.canOperate
            ? editor(ctx, line, effective.effective, content)
            : engineersOnly('change thresholds'),
        ),
        h('div', null, versions(sets, effective.effective), auditTrail(thresholdAudit)),
      ),
    );
  } catch (e) {
    replace(content, errorBox(e));
  }
}

function current(set: ThresholdSet | null): HTMLElement {
  return h(
    'article',
    { class: 'card', 'aria-label': 'Thresholds in effect' },
    h('h2', null, 'In effect now'),
    set
      ? h(
          'dl',
          { class: 'big-values' },
          h('dt', null, 'Image threshold'),
          h('dd', { 'data-testid': 'effective-image' }, formatScore(set.image)),
          h('dt', null, 'Pixel threshold'),
          h('dd', null, formatScore(set.pixel)),
          h('dt', null, 'Version'),
          h(
            'dd',
            { class: 'small' },
            `v${set.version} since ${formatTime(set.effectiveFrom)} by ${set.createdBy}`,
          ),
        )
      : h(
          'p',
          { class: 'muted' },
          "No threshold set for this line: devices use their model's own calibration.",
        ),
  );
}

function editor(ctx: AppContext, line: Line, set: ThresholdSet | null, content: HTMLElement): HTMLElement {
  const image = h('input', {
    type: 'number',
    name: 'image',
    step: 'any',
    value: set?.image ?? '',
    required: true,
  });
  const pixel = h('input', { type: 'number', name: 'pixel', step: 'any', value: set?.pixel ?? '' });
  const from = h('input', { type: 'datetime-local', name: 'effectiveFrom' });
  const note = h('textarea', { name: 'note', rows: 2, maxlength: 1000 });
  const message = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Save as new version');
  const form = h(
    'form',
    { class: 'card editor', 'aria-labelledby': 'thr-editor-title' },
    h('h2', { id: 'thr-editor-title' }, 'New threshold set'),
    h(
      'p',
      { class: 'muted' },
      'Sets are never edited: saving adds a new version, recorded in the audit trail.',
    ),
    field('Image threshold', image, 'Parts scoring above this are NOK.'),
    field('Pixel threshold', pixel, 'Optional: for the defect area in heatmaps.'),
    field('Effective from', from, 'Optional; empty means now.'),
    field('Note', note),
    message,
    submit,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      await ctx.api.post(`/lines/${line.id}/thresholds`, {
        image: Number(image.value),
        pixel: pixel.value === '' ? null : Number(pixel.value),
        effectiveFrom: localInputToIso(from.value),
        note: note.value.trim() || undefined,
      });
      await showLine(ctx, line, content);
      content.querySelector<HTMLElement>('[data-testid="effective-image"]')?.focus();
    } catch (e) {
      replace(message, errorBox(e));
      submit.disabled = false;
    }
  });
  return form;
}

function versions(sets: ThresholdSet[], effective: ThresholdSet | null): HTMLElement {
  return h(
    'table',
    { class: 'data compact' },
    h('caption', null, 'Versions'),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['Version', 'Image', 'Pixel', 'Effective from', 'By', 'Note'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    h(
      'tbody',
      null,
      sets.length === 0
        ? h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'None yet.'))
        : sets.map((s) =>
            h(
              'tr',
              { class: effective?.version === s.version ? 'current' : '' },
              h(
                'th',
                { scope: 'row' },
                `v${s.version}`,
                effective?.version === s.version ? ' (in effect)' : '',
              ),
              h('td', { class: 'num' }, formatScore(s.image)),
              h('td', { class: 'num' }, formatScore(s.pixel)),
              h('td', null, formatTime(s.effectiveFrom)),
              h('td', null, s.createdBy),
              h('td', null, s.note ?? ''),
            ),
          ),
    ),
  );
}

function auditTrail(entries: AuditEntry[]): HTMLElement {
  const num = (o: Record<string, unknown> | null, k: string) =>
    o && typeof o[k] === 'number' ? (o[k] as number) : null;
  return h(
    'table',
    { class: 'data compact audit', 'data-testid': 'audit-trail' },
    h('caption', null, 'Audit trail'),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['When', 'Who', 'Change', 'Note'].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      null,
      entries.length === 0
        ? h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No changes recorded.'))
        : entries.map((a) =>
            h(
              'tr',
              null,
              h('td', null, formatTime(a.at)),
              h('td', null, `${a.actorName ?? a.actorId ?? a.actorType} (${a.role ?? a.actorType})`),
              h(
                'td',
                null,
                `image ${formatScore(num(a.before, 'image'))} → ${formatScore(num(a.after, 'image'))}`,
                `, pixel ${formatScore(num(a.before, 'pixel'))} → ${formatScore(num(a.after, 'pixel'))}`,
                num(a.after, 'version') !== null ? ` (v${num(a.after, 'version')})` : '',
              ),
              h('td', null, typeof a.after?.note === 'string' ? a.after.note : ''),
            ),
          ),
    ),
  );
}
