/** Line charts (ROC and PRO curves) as SVG, rasterised to PNG by sharp. */
import sharp from 'sharp';

export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xMax: number;
  series: Series[];
  /** Dashed diagonal (chance line of an ROC plot). */
  diagonal?: boolean;
}

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e'];
const W = 560;
const H = 440;
const M = { left: 64, right: 20, top: 44, bottom: 56 };

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Keeps at most ~2000 points of a long curve (every k-th, plus the last). */
function thin(n: number): number[] {
  const step = Math.max(1, Math.ceil(n / 2000));
  const idx: number[] = [];
  for (let i = 0; i < n; i += step) idx.push(i);
  if (idx[idx.length - 1] !== n - 1 && n > 0) idx.push(n - 1);
  return idx;
}

export function lineChartSvg(spec: ChartSpec): string {
  if (!(spec.xMax > 0)) throw new RangeError(`xMax must be > 0, got ${spec.xMax}`);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + (Math.min(x, spec.xMax) / spec.xMax) * pw;
  const sy = (y: number) => M.top + (1 - Math.min(1, Math.max(0, y))) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" font-size="15" text-anchor="middle">${esc(spec.title)}</text>`,
  ];
  for (let i = 0; i <= 10; i++) {
    const gx = sx((i / 10) * spec.xMax);
    const gy = sy(i / 10);
    parts.push(`<line x1="${gx}" y1="${M.top}" x2="${gx}" y2="${M.top + ph}" stroke="#e6e6e6"/>`);
    parts.push(`<line x1="${M.left}" y1="${gy}" x2="${M.left + pw}" y2="${gy}" stroke="#e6e6e6"/>`);
    if (i % 2 === 0) {
      parts.push(
        `<text x="${gx}" y="${M.top + ph + 18}" font-size="11" text-anchor="middle">${((i / 10) * spec.xMax).toFixed(2)}</text>`,
      );
      parts.push(
        `<text x="${M.left - 8}" y="${gy + 4}" font-size="11" text-anchor="end">${(i / 10).toFixed(1)}</text>`,
      );
    }
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(
    `<text x="${M.left + pw / 2}" y="${H - 14}" font-size="13" text-anchor="middle">${esc(spec.xLabel)}</text>`,
  );
  parts.push(
    `<text x="18" y="${M.top + ph / 2}" font-size="13" text-anchor="middle" transform="rotate(-90 18 ${M.top + ph / 2})">${esc(spec.yLabel)}</text>`,
  );
  if (spec.diagonal) {
    parts.push(
      `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(spec.xMax)}" y2="${sy(Math.min(1, spec.xMax))}" stroke="#999" stroke-dasharray="5,4"/>`,
    );
  }
  const legendTop = M.top + ph - 12 - spec.series.length * 18;
  parts.push(
    `<rect x="${M.left + pw - 216}" y="${legendTop}" width="212" height="${spec.series.length * 18 + 8}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`,
  );
  spec.series.forEach((s, k) => {
    const n = Math.min(s.x.length, s.y.length);
    const pts = thin(n)
      .filter((i) => Number.isFinite(s.x[i]) && Number.isFinite(s.y[i]))
      .map((i) => `${sx(s.x[i]).toFixed(1)},${sy(s.y[i]).toFixed(1)}`);
    const color = COLORS[k % COLORS.length];
    if (pts.length > 0) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    }
    const ly = M.top + ph - 12 - (spec.series.length - 1 - k) * 18;
    parts.push(
      `<line x1="${M.left + pw - 210}" y1="${ly - 4}" x2="${M.left + pw - 186}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`,
    );
    parts.push(`<text x="${M.left + pw - 180}" y="${ly}" font-size="12">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export async function chartPng(spec: ChartSpec): Promise<Buffer> {
  return sharp(Buffer.from(lineChartSvg(spec)))
    .png()
    .toBuffer();
}
