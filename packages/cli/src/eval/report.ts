import { type EvaluationReport, toCsv, toMarkdown } from '@diad/metrics';
import { METHOD_LABELS, type Method } from './cache.js';
import type { CalibrationSuggestion, ThresholdPoint } from './calibration.js';
import type { EvalResult } from './evaluate.js';
import { PAPER_SOURCE, type PaperRow } from './paper.js';

/** What the report says about its inputs. */
export interface ReportContext {
  bundle: { path: string; name: string; version: string; sha256: string; provider: string };
  dataset: { root: string; layout: string; categories: string[]; images: number; limit: number | null };
  options: {
    seed: number;
    steps: number | null;
    startStep: number | null;
    draws: number | null;
    targetFrr: number;
    fprLimit: number;
  };
  /** The paper's rows for the evaluated categories (with Mean), when --paper was given and they exist. */
  paper: { dataset: string; rows: Record<string, PaperRow> } | null;
  /** Why --paper printed nothing, if it was asked for. */
  paperNote: string | null;
  wallSeconds: number;
}

const pct = (v: number) => (100 * v).toFixed(1);
const num = (v: number) =>
  Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(4) : v.toFixed(4);

export function buildReportJson(ctx: ReportContext, r: EvalResult): object {
  return {
    format: 'diad-eval-report',
    version: 1,
    ...ctx,
    methods: Object.fromEntries(
      Object.entries(r.methods).map(([m, rep]) => [m, { label: METHOD_LABELS[m as Method], ...rep }]),
    ),
    baselines: {
      autoencoder:
        'the bundle autoencoder alone (encode, decode the posterior mean, no diffusion), scored like DiAD',
      pixel:
        "per-pixel Euclidean distance between the normalised input and DiAD's reconstruction, blurred and pooled like DiAD's map",
    },
    timing: r.timing,
    calibration: r.calibration,
    noPixelMetrics: r.noPixelMetrics,
    plots: r.plots,
    heatmaps: r.heatmaps,
    cacheHits: r.cacheHits,
  };
}

function summaryTable(r: EvalResult): string {
  const lines = [
    '| Method | Image AUROC/AP/F1max (mean) | Pixel AUROC/AP/F1max/AUPRO (mean) | ms per image |',
    '|---|:---:|:---:|---:|',
  ];
  for (const [m, rep] of Object.entries(r.methods) as [Method, EvaluationReport][]) {
    const i = rep.mean.image;
    const p = rep.mean.pixel;
    const t = r.timing[m];
    lines.push(
      `| ${METHOD_LABELS[m]} | ${[i.auroc, i.averagePrecision, i.f1Max].map(pct).join('/')} | ${
        p ? [p.auroc, p.averagePrecision, p.f1Max, p.aupro].map(pct).join('/') : '–'
      } | ${t ? t.meanMs.toFixed(0) : m === 'pixel' ? '(from the DiAD run)' : '–'} |`,
    );
  }
  return lines.join('\n');
}

function paperTable(ctx: ReportContext, diad: EvaluationReport): string {
  if (!ctx.paper) return '';
  const lines = [
    '| Category | Ours image AUROC/AP/F1max | Paper image | Ours pixel AUROC/AP/F1max/AUPRO | Paper pixel |',
    '|---|:---:|:---:|:---:|:---:|',
  ];
  const ours = new Map(diad.categories.map((c) => [c.category, c]));
  for (const [name, paper] of Object.entries(ctx.paper.rows)) {
    if (name === 'Mean') continue;
    const c = ours.get(name);
    if (!c) continue;
    lines.push(
      `| ${name} | ${[c.image.auroc, c.image.averagePrecision, c.image.f1Max].map(pct).join('/')} | ${paper.image.map((v) => v.toFixed(1)).join('/')} | ${
        c.pixel
          ? [c.pixel.auroc, c.pixel.averagePrecision, c.pixel.f1Max, c.pixel.aupro].map(pct).join('/')
          : '–'
      } | ${paper.pixel.map((v) => v.toFixed(1)).join('/')} |`,
    );
  }
  const m = diad.mean;
  const pm = ctx.paper.rows.Mean;
  lines.push(
    `| Mean (ours over the categories above; paper over all) | ${[m.image.auroc, m.image.averagePrecision, m.image.f1Max].map(pct).join('/')} | ${pm.image.map((v) => v.toFixed(1)).join('/')} | ${
      m.pixel
        ? [m.pixel.auroc, m.pixel.averagePrecision, m.pixel.f1Max, m.pixel.aupro].map(pct).join('/')
        : '–'
    } | ${pm.pixel.map((v) => v.toFixed(1)).join('/')} |`,
  );
  return `${lines.join('\n')}\n\nSource: ${PAPER_SOURCE}`;
}

function pointCells(p: ThresholdPoint): string {
  return `${num(p.threshold)} | ${pct(p.falseRejectRate)}% | ${pct(p.escapeRate)}% | ${pct(p.f1)}`;
}

function calibrationTable(r: EvalResult, targetFrr: number): string {
  const lines = [
    `| Category | Rule | Image threshold | False rejects (good) | Escapes (defective) | F1 |`,
    '|---|---|---:|---:|---:|---:|',
  ];
  const rows: [string, CalibrationSuggestion][] = Object.entries(r.calibration.perCategory);
  if (r.calibration.pooled) rows.push(['all categories (one threshold)', r.calibration.pooled]);
  for (const [cat, c] of rows) {
    lines.push(`| ${cat} | max F1 | ${pointCells(c.atMaxF1)} |`);
    lines.push(`| ${cat} | false rejects ≤ ${pct(targetFrr)}% | ${pointCells(c.atTargetFrr)} |`);
    const b = r.calibration.bundleThreshold.perCategory[cat];
    if (b) lines.push(`| ${cat} | bundle's threshold now | ${pointCells(b)} |`);
  }
  return lines.join('\n');
}

export function renderMarkdown(ctx: ReportContext, r: EvalResult): string {
  const out: string[] = [];
  const b = ctx.bundle;
  out.push(`# Evaluation of ${b.name} ${b.version} on ${ctx.dataset.root}`, '');
  out.push(
    `- Bundle: \`${b.path}\` (manifest sha256 \`${b.sha256.slice(0, 16)}…\`), provider ${b.provider}`,
    `- Dataset: ${ctx.dataset.layout} layout, ${ctx.dataset.categories.length} categories, ${ctx.dataset.images} test images${
      ctx.dataset.limit ? ` (at most ${ctx.dataset.limit} per category)` : ''
    }`,
    `- Options: seed ${ctx.options.seed}, DDIM steps ${ctx.options.steps ?? 'from manifest'}, start step ${
      ctx.options.startStep ?? 'from manifest'
    }, draws ${ctx.options.draws ?? 'from manifest'}; AUPRO up to FPR ${ctx.options.fprLimit}`,
    `- Wall time ${ctx.wallSeconds.toFixed(1)} s${r.cacheHits ? ` (${r.cacheHits} images from the cache)` : ''}`,
    '',
    '## Summary',
    '',
    summaryTable(r),
    '',
  );
  const notes: string[] = [];
  if (r.methods.autoencoder) {
    notes.push(
      'Autoencoder only: the bundle autoencoder without diffusion, scored like DiAD; a model that does not beat its own autoencoder shows it here.',
    );
  }
  if (r.methods.pixel) {
    notes.push(
      "Pixel distance: per-pixel distance between the input and DiAD's reconstruction, blurred and pooled like DiAD's map.",
    );
  }
  if (notes.length > 0) out.push(notes.join(' '), '');
  const diadTiming = r.timing.diad;
  if (diadTiming) {
    out.push(
      `Time per image (DiAD, ${diadTiming.images} images): mean ${diadTiming.meanMs.toFixed(1)} ms, median ${diadTiming.medianMs.toFixed(
        1,
      )} ms, p95 ${diadTiming.p95Ms.toFixed(1)} ms.`,
      '',
    );
  }
  for (const [m, rep] of Object.entries(r.methods) as [Method, EvaluationReport][]) {
    out.push(`## ${METHOD_LABELS[m]}`, '', toMarkdown(rep, { layout: 'paper' }).trimEnd(), '');
  }
  const missing = Object.entries(r.noPixelMetrics);
  if (missing.length > 0) {
    out.push('Categories without pixel metrics:', '', ...missing.map(([c, why]) => `- ${c}: ${why}`), '');
  }
  if (ctx.paper && r.methods.diad) {
    out.push(`## DiAD paper (${ctx.paper.dataset}) beside ours`, '', paperTable(ctx, r.methods.diad), '');
  } else if (ctx.paperNote) {
    out.push('## DiAD paper', '', ctx.paperNote, '');
  }
  out.push(
    '## Threshold suggestion (DiAD image score; NOK when score ≥ threshold)',
    '',
    calibrationTable(r, ctx.options.targetFrr),
    '',
  );
  const pix = Object.entries(r.calibration.pixelF1Threshold);
  if (pix.length > 0) {
    out.push(`Pixel threshold at max pixel F1: ${pix.map(([c, t]) => `${c} ${num(t)}`).join(', ')}.`, '');
  }
  if (r.plots.length > 0) {
    out.push('## Curves', '', ...r.plots.map((p) => `![${p}](${p})`), '');
  }
  if (r.heatmaps.length > 0) {
    out.push(
      '## Review panels',
      '',
      'Each panel: the input, the ground truth outlined in green, the DiAD anomaly map (red at twice the pixel F1 threshold).',
      '',
      ...r.heatmaps.slice(0, 12).map((p) => `![${p}](${p})`),
      r.heatmaps.length > 12 ? `\n…and ${r.heatmaps.length - 12} more under heatmaps/.` : '',
      '',
    );
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** All methods' per-category rows in one CSV (fractions), with a method column first. */
export function renderCsv(r: EvalResult): string {
  const lines: string[] = [];
  for (const [m, rep] of Object.entries(r.methods) as [Method, EvaluationReport][]) {
    const [header, ...rows] = toCsv(rep).trimEnd().split('\n');
    if (lines.length === 0) lines.push(`method,${header}`);
    for (const row of rows) lines.push(`${m},${row}`);
  }
  return `${lines.join('\n')}\n`;
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One row per image: scores of every method, the verdict at the suggested max-F1 threshold, time. */
export function renderScoresCsv(r: EvalResult, methods: readonly Method[]): string {
  const header = [
    'category',
    'defect',
    'label',
    'image',
    ...methods.map((m) => `${m}_score`),
    'diad_ms',
    'verdict_at_max_f1',
    'cached',
  ];
  const lines = [header.join(',')];
  for (const i of r.images) {
    const t = r.calibration.perCategory[i.category]?.atMaxF1.threshold;
    const verdict = t === undefined || i.scores.diad === undefined ? '' : i.scores.diad >= t ? 'NOK' : 'OK';
    lines.push(
      [
        csvField(i.category),
        csvField(i.defect),
        i.label,
        csvField(i.imagePath),
        ...methods.map((m) => (i.scores[m] === undefined ? '' : String(i.scores[m]))),
        i.ms.diad === undefined ? '' : i.ms.diad.toFixed(2),
        verdict,
        i.cached ? 1 : 0,
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
