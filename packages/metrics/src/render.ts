import type { EvaluationReport } from './evaluate.js';

export interface MarkdownOptions {
  /**
   * `paper` (default): the DiAD tables' cells, "AUROC/AP/F1max" image-level and "AUROC/AP/F1max/AUPRO"
   * pixel-level per category. `wide`: one column per metric.
   */
  readonly layout?: 'paper' | 'wide';
  /** Decimals of the percentages. Default 1, as in the paper. */
  readonly digits?: number;
}

const IMAGE_KEYS = ['auroc', 'averagePrecision', 'f1Max'] as const;
const PIXEL_KEYS = ['auroc', 'averagePrecision', 'f1Max', 'aupro'] as const;
const MISSING = '–';

interface Row {
  readonly name: string;
  readonly image: readonly number[];
  readonly pixel: readonly number[] | null;
}

function rows(report: EvaluationReport): Row[] {
  const out: Row[] = report.categories.map((c) => ({
    name: c.category,
    image: IMAGE_KEYS.map((k) => c.image[k]),
    pixel: c.pixel ? PIXEL_KEYS.map((k) => c.pixel![k]) : null,
  }));
  const m = report.mean;
  out.push({
    name: 'Mean',
    image: IMAGE_KEYS.map((k) => m.image[k]),
    pixel: m.pixel ? PIXEL_KEYS.map((k) => m.pixel![k]) : null,
  });
  return out;
}

function escapeMarkdown(text: string): string {
  return text.replace(/[|\\`*_]/g, (c) => `\\${c}`);
}

/** Markdown table in percent, categories then the mean over categories. */
export function toMarkdown(report: EvaluationReport, options: MarkdownOptions = {}): string {
  const digits = options.digits ?? 1;
  if (!Number.isInteger(digits) || digits < 0 || digits > 10) {
    throw new RangeError(`options.digits must be an integer in [0, 10], got ${digits}`);
  }
  const layout = options.layout ?? 'paper';
  if (layout !== 'paper' && layout !== 'wide')
    throw new RangeError(`options.layout must be 'paper' or 'wide', got ${String(layout)}`);
  const pct = (v: number): string => (100 * v).toFixed(digits);
  const pro = `AUPRO${report.aupro.fprLimit === 0.3 ? '' : `@${report.aupro.fprLimit}`}${report.aupro.variant === 'official' ? ' (official)' : ''}`;
  const lines: string[] = [];
  if (layout === 'paper') {
    lines.push(`| Category | Image AUROC/AP/F1max | Pixel AUROC/AP/F1max/${pro} |`, '|---|:---:|:---:|');
    for (const r of rows(report)) {
      const pixel = r.pixel ? r.pixel.map(pct).join('/') : MISSING;
      lines.push(`| ${escapeMarkdown(r.name)} | ${r.image.map(pct).join('/')} | ${pixel} |`);
    }
  } else {
    lines.push(
      `| Category | Image AUROC | Image AP | Image F1max | Pixel AUROC | Pixel AP | Pixel F1max | Pixel ${pro} |`,
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of rows(report)) {
      const pixel = r.pixel ? r.pixel.map(pct) : PIXEL_KEYS.map(() => MISSING);
      lines.push(`| ${escapeMarkdown(r.name)} | ${[...r.image.map(pct), ...pixel].join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV with full-precision fractions (not percent); empty cells where a category has no pixel metrics. */
export function toCsv(report: EvaluationReport): string {
  const header = [
    'category',
    'images',
    'anomalous_images',
    'image_auroc',
    'image_ap',
    'image_f1max',
    'image_f1max_threshold',
    'pixel_auroc',
    'pixel_ap',
    'pixel_f1max',
    'pixel_f1max_threshold',
    'pixel_aupro',
  ];
  const lines = [header.join(',')];
  const num = (v: number | undefined): string => (v === undefined ? '' : String(v));
  for (const c of report.categories) {
    const p = c.pixel;
    lines.push(
      [
        csvField(c.category),
        c.images,
        c.anomalousImages,
        num(c.image.auroc),
        num(c.image.averagePrecision),
        num(c.image.f1Max),
        num(c.image.f1Threshold),
        num(p?.auroc),
        num(p?.averagePrecision),
        num(p?.f1Max),
        num(p?.f1Threshold),
        num(p?.aupro),
      ].join(','),
    );
  }
  const m = report.mean;
  const images = report.categories.reduce((s, c) => s + c.images, 0);
  const anomalous = report.categories.reduce((s, c) => s + c.anomalousImages, 0);
  lines.push(
    [
      'mean',
      images,
      anomalous,
      num(m.image.auroc),
      num(m.image.averagePrecision),
      num(m.image.f1Max),
      '',
      num(m.pixel?.auroc),
      num(m.pixel?.averagePrecision),
      num(m.pixel?.f1Max),
      '',
      num(m.pixel?.aupro),
    ].join(','),
  );
  return `${lines.join('\n')}\n`;
}

/** The report as indented JSON (fractions, not percent). */
export function toJson(report: EvaluationReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
