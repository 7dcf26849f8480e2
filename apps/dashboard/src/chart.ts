import { type ChartBox, chartModel, type SeriesInput } from './chart-model.js';
import { h, s } from './dom.js';

/** Colour-blind-safe palette (Okabe–Ito), also told apart by dash pattern. */
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];
const DASHES = ['', '8 4', '2 4', '12 4 2 4', '4 4', '1 3', '10 2'];

const BOX: ChartBox = { width: 640, height: 260, margin: { top: 16, right: 20, bottom: 40, left: 64 } };

export interface LineChartOptions {
  title: string;
  formatY(v: number): string;
  formatX(t: number): string;
  minYMax?: number;
}

/** An SVG line chart with a legend; every point carries a <title> with its bucket and value. */
export function lineChart(series: SeriesInput[], opts: LineChartOptions): HTMLElement {
  const m = chartModel(series, BOX, { minYMax: opts.minYMax });
  const { x0, x1, y0, y1 } = m.plot;
  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${BOX.width} ${BOX.height}`,
      class: 'chart',
      role: 'img',
      'aria-label': `${opts.title}: ${series.length} series`,
    },
    m.yTicks.map((t) => [
      s('line', { x1: x0, x2: x1, y1: t.pos, y2: t.pos, class: 'grid' }),
      s('text', { x: x0 - 8, y: t.pos + 5, class: 'tick', 'text-anchor': 'end' }, opts.formatY(t.value)),
    ]),
    m.xTicks.map((t) =>
      s('text', { x: t.pos, y: y0 + 24, class: 'tick', 'text-anchor': 'middle' }, opts.formatX(t.value)),
    ),
    s('line', { x1: x0, x2: x1, y1: y0, y2: y0, class: 'axis' }),
    s('line', { x1: x0, x2: x0, y1: y0, y2: y1, class: 'axis' }),
    m.paths.map((d, i) =>
      s('path', {
        d,
        class: 'series',
        stroke: COLOURS[i % COLOURS.length],
        'stroke-dasharray': DASHES[i % DASHES.length] || null,
      }),
    ),
    m.dots.map((ds, i) =>
      ds.map((p) =>
        s(
          'circle',
          { cx: p.x, cy: p.y, r: 3.5, fill: COLOURS[i % COLOURS.length] },
          s('title', null, `${series[i].label} · ${opts.formatX(p.t)}: ${opts.formatY(p.v)}`),
        ),
      ),
    ),
  );
  const legend = h(
    'ul',
    { class: 'legend' },
    series.map((se, i) =>
      h(
        'li',
        null,
        h('span', { class: 'swatch', style: `--c:${COLOURS[i % COLOURS.length]}`, 'aria-hidden': 'true' }),
        se.label,
      ),
    ),
  );
  return h('figure', { class: 'chart-figure' }, h('figcaption', null, opts.title), svg, legend);
}
