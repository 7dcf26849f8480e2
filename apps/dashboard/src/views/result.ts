import { niceCeil } from '../chart-model.js';
import type { AppContext } from '../context.js';
import { field, h, replace, s } from '../dom.js';
import { formatPercent, formatScore, formatTime, marginToThreshold } from '../format.js';
import type { View } from '../router.js';
import type { ResultView } from '../types.js';
import { errorBox, loading, pageHeader } from '../ui.js';
import { historyHref } from './history.js';
import { labelCard } from './label-card.js';

export function resultView(ctx: AppContext, id: string): View {
  const body = h('div', null, loading('result'));
  const urls: string[] = [];
  const el = h(
    'section',
    { class: 'view' },
    pageHeader(
      'Inspection result',
      h('a', { href: historyHref(), class: 'button secondary' }, '← Back to history'),
    ),
    body,
  );

  void (async () => {
    try {
      const r = await ctx.api.get<ResultView>(`/results/${encodeURIComponent(id)}`);
      replace(body, summary(r), labelCard(ctx, r.resultId, r.verdict), imagePanel(ctx, r, urls), details(r));
    } catch (e) {
      replace(body, errorBox(e));
    }
  })();

  return {
    title: 'Inspection result',
    el,
    dispose: () => {
      for (const u of urls) URL.revokeObjectURL(u);
    },
  };
}

function summary(r: ResultView): HTMLElement {
  const threshold = r.thresholds?.image ?? null;
  const margin = marginToThreshold(r.score, threshold);
  const marginText =
    margin === null
      ? ''
      : margin >= 0
        ? `${formatPercent(margin)} above threshold`
        : `${formatPercent(-margin)} below threshold`;
  return h(
    'div',
    { class: 'result-summary' },
    h(
      'div',
      { class: `verdict-big ${r.verdict === 'NOK' ? 'nok' : r.verdict === 'OK' ? 'ok' : 'muted'}` },
      h(
        'span',
        { class: 'verdict-word', 'data-testid': 'result-verdict' },
        r.verdict ?? r.state.toUpperCase(),
      ),
      h('span', { class: 'part' }, `Part ${r.partId}`),
    ),
    h(
      'div',
      { class: 'score-block' },
      h(
        'p',
        { class: 'score-line', 'data-testid': 'score-line' },
        h('strong', null, `Score ${formatScore(r.score)}`),
        ` against threshold ${formatScore(threshold)}`,
        r.thresholds?.version
          ? ` (threshold set v${r.thresholds.version})`
          : r.thresholds
            ? ' (model calibration)'
            : '',
        marginText ? ` — ${marginText}` : '',
      ),
      scoreGauge(r.score, threshold, r.verdict),
    ),
  );
}

/** A horizontal bar: the score against a marked threshold, on a scale both fit in. */
function scoreGauge(
  score: number | null,
  threshold: number | null,
  verdict: string | null,
): SVGElement | null {
  if (score === null) return null;
  const W = 560;
  const max = niceCeil(Math.max(score, threshold ?? 0, 1e-9) * 1.15);
  const x = (v: number) => 10 + (Math.max(0, Math.min(v, max)) / max) * (W - 20);
  return s(
    'svg',
    {
      viewBox: `0 0 ${W} 64`,
      class: 'gauge',
      role: 'img',
      'aria-label': `Score ${formatScore(score)}, threshold ${formatScore(threshold)}, scale 0 to ${formatScore(max)}`,
    },
    s('rect', { x: 10, y: 14, width: W - 20, height: 20, class: 'gauge-track', rx: 3 }),
    s('rect', {
      x: 10,
      y: 14,
      width: x(score) - 10,
      height: 20,
      class: `gauge-bar ${verdict === 'NOK' ? 'nok' : 'ok'}`,
      rx: 3,
    }),
    threshold === null
      ? null
      : [
          s('line', { x1: x(threshold), x2: x(threshold), y1: 6, y2: 42, class: 'gauge-threshold' }),
          s(
            'text',
            { x: x(threshold), y: 58, 'text-anchor': 'middle', class: 'gauge-label' },
            `threshold ${formatScore(threshold)}`,
          ),
        ],
    s('text', { x: 10, y: 58, class: 'gauge-label' }, '0'),
    s('text', { x: W - 10, y: 58, 'text-anchor': 'end', class: 'gauge-label' }, formatScore(max)),
  );
}

function imagePanel(ctx: AppContext, r: ResultView, urls: string[]): HTMLElement {
  const stage = h('div', { class: 'image-stage' }, loading('image'));
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'toggle',
      'aria-pressed': 'true',
      disabled: true,
      'data-testid': 'heatmap-toggle',
    },
    'Heatmap overlay: on',
  );
  const opacity = h('input', { type: 'range', min: 0, max: 100, value: 55, name: 'opacity', disabled: true });
  const note = h('p', { class: 'muted', role: 'status' });
  const panel = h(
    'section',
    { class: 'image-panel', 'aria-label': 'Image and heatmap' },
    stage,
    h('div', { class: 'image-controls' }, toggle, field('Heatmap opacity', opacity), note),
  );

  void (async () => {
    const id = encodeURIComponent(r.resultId);
    const [image, heat] = await Promise.all([
      ctx.api.blob(`/results/${id}/image`).catch(() => null),
      ctx.api.blob(`/results/${id}/heatmap`).catch(() => null),
    ]);
    const url = (b: Blob) => {
      const u = URL.createObjectURL(b);
      urls.push(u);
      return u;
    };
    const base = image
      ? h('img', { src: url(image), alt: `Part ${r.partId} as captured`, class: 'base' })
      : null;
    const overlay = heat
      ? h('img', {
          src: url(heat),
          alt: `Anomaly heatmap of part ${r.partId}`,
          class: base ? 'overlay' : 'base',
          'data-testid': 'heatmap',
        })
      : null;
    if (!base && !overlay) {
      replace(stage, h('p', { class: 'muted' }, 'No image or heatmap was stored for this result.'));
      return;
    }
    replace(stage, base, overlay);
    const sizer = base ?? overlay!;
    const size = () => {
      if (!sizer.naturalWidth || !sizer.naturalHeight) return;
      stage.style.setProperty('--ar', String(sizer.naturalWidth / sizer.naturalHeight));
      stage.classList.add('sized');
    };
    if (sizer.complete) size();
    else sizer.addEventListener('load', size, { once: true });
    if (!heat) replace(note, 'No heatmap was stored for this result.');
    else if (!image) replace(note, 'No camera image was stored; showing the heatmap alone.');
    if (!(overlay && base)) return;
    const setOpacity = () => overlay.style.setProperty('opacity', String(Number(opacity.value) / 100));
    setOpacity();
    toggle.disabled = false;
    opacity.disabled = false;
    opacity.addEventListener('input', setOpacity);
    toggle.addEventListener('click', () => {
      const on = toggle.getAttribute('aria-pressed') !== 'true';
      toggle.setAttribute('aria-pressed', String(on));
      replace(toggle, `Heatmap overlay: ${on ? 'on' : 'off'}`);
      overlay.hidden = !on;
      opacity.disabled = !on;
    });
  })();
  return panel;
}

function details(r: ResultView): HTMLElement {
  const rows: Array<[string, string]> = [
    ['Inspected', formatTime(r.inspectedAt)],
    ['Captured', formatTime(r.capturedAt)],
    ['Site · line · station', `${r.site} · ${r.line} · ${r.station}`],
    ['Camera', r.camera],
    ['Device', r.deviceId],
    ['Category', r.category ?? '—'],
    ['Model', r.model ? `${r.model.name}@${r.model.version}` : '—'],
    ['Execution provider', r.provider ?? '—'],
    ['Normalised score', formatScore(r.normalizedScore)],
    ['Defect area', r.defectAreaPx === null ? '—' : `${r.defectAreaPx} px`],
    [
      'Timings',
      Object.entries(r.timingsMs ?? {})
        .map(([k, v]) => `${k} ${v.toFixed(1)} ms`)
        .join(', ') || '—',
    ],
    ['Result id', r.resultId],
  ];
  if (r.error) rows.push(['Error', `${r.error.code}: ${r.error.message}`]);
  if (r.shadow)
    rows.push([
      'Shadow model',
      `${String(r.shadow.model)}: ${formatScore(r.shadow.score)} (${r.shadow.verdict})`,
    ]);
  return h(
    'section',
    { class: 'details', 'aria-label': 'Details' },
    h('h2', null, 'Details'),
    h(
      'dl',
      null,
      rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
    ),
  );
}
