/** Geometry of a time-series line chart, kept free of the DOM so it can be unit-tested. */

export interface SeriesInput {
  label: string;
  points: Array<{ t: number; v: number | null }>;
}

export interface ChartBox {
  width: number;
  height: number;
  margin: { top: number; right: number; bottom: number; left: number };
}

export interface Tick {
  value: number;
  pos: number;
}

export interface ChartModel {
  yMax: number;
  xTicks: Tick[];
  yTicks: Tick[];
  /** One SVG path per series; a null value breaks the line (no data in that bucket). */
  paths: string[];
  dots: Array<Array<{ x: number; y: number; t: number; v: number }>>;
  plot: { x0: number; x1: number; y0: number; y1: number };
}

/** The smallest 1, 2 or 5 × 10^k at or above `v` (0 and below give 1). */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * exp >= v * (1 - 1e-12)) return m * exp;
  return 10 * exp;
}

/** A y axis from 0 to at least `max` in at most 5 round steps: { top, step }. */
export function niceAxis(max: number): { top: number; step: number } {
  const m = max > 0 && Number.isFinite(max) ? max : 1;
  const step = niceCeil(m / 5);
  return { top: Math.max(step, Math.ceil(m / step - 1e-9) * step), step };
}

export function chartModel(
  series: SeriesInput[],
  box: ChartBox,
  opts: { minYMax?: number } = {},
): ChartModel {
  const x0 = box.margin.left;
  const x1 = box.width - box.margin.right;
  const y0 = box.height - box.margin.bottom;
  const y1 = box.margin.top;
  const ts = [...new Set(series.flatMap((s) => s.points.map((p) => p.t)))].sort((a, b) => a - b);
  const vs = series
    .flatMap((s) => s.points.map((p) => p.v))
    .filter((v): v is number => v !== null && Number.isFinite(v));
  const axis = niceAxis(Math.max(opts.minYMax ?? 0, ...vs, 0));
  const yMax = axis.top;
  const tMin = ts[0] ?? 0;
  const tMax = ts[ts.length - 1] ?? 1;
  const x = (t: number) => (tMax === tMin ? (x0 + x1) / 2 : x0 + ((t - tMin) / (tMax - tMin)) * (x1 - x0));
  const y = (v: number) => y0 - (v / yMax) * (y0 - y1);
  const yTicks: Tick[] = [];
  for (let k = 0; k * axis.step <= yMax * (1 + 1e-9); k++) {
    const v = Math.round(k * axis.step * 1e9) / 1e9;
    yTicks.push({ value: v, pos: round(y(v)) });
  }
  const step = Math.max(1, Math.ceil(ts.length / 6));
  const xTicks = ts.filter((_, i) => i % step === 0).map((t) => ({ value: t, pos: x(t) }));
  const paths: string[] = [];
  const dots: ChartModel['dots'] = [];
  for (const s of series) {
    const pts = [...s.points].sort((a, b) => a.t - b.t);
    let d = '';
    let pen = false;
    const ds: ChartModel['dots'][number] = [];
    for (const p of pts) {
      if (p.v === null || !Number.isFinite(p.v)) {
        pen = false;
        continue;
      }
      const px = round(x(p.t));
      const py = round(y(p.v));
      d += `${pen ? 'L' : 'M'}${px},${py}`;
      pen = true;
      ds.push({ x: px, y: py, t: p.t, v: p.v });
    }
    paths.push(d);
    dots.push(ds);
  }
  return { yMax, xTicks, yTicks, paths, dots, plot: { x0, x1, y0, y1 } };
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
