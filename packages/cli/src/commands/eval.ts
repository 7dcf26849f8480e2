import { access, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DATASET_LAYOUTS, type DatasetLayout, loadDataset } from '@diad/datasets';
import { toMarkdown } from '@diad/metrics';
import { MAX_DRAWS } from '@diad/protocol';
import { choiceOption, type Io, intOption, listOption, numberOption, UsageError } from '../args.js';
import { METHODS, type Method } from '../eval/cache.js';
import { runEvaluation } from '../eval/evaluate.js';
import { type PaperDataset, paperRowsFor } from '../eval/paper.js';
import { openPipeline, type Provider } from '../eval/pipeline-port.js';
import {
  buildReportJson,
  type ReportContext,
  renderCsv,
  renderMarkdown,
  renderScoresCsv,
} from '../eval/report.js';
import { selectTestSamples } from '../eval/select.js';

export const EVAL_USAGE = `Usage: diad eval --bundle <dir|tar> --dataset <dir> [options]

Runs a model bundle over the test split of a dataset and writes the DiAD paper's tables (image AUROC/AP/F1max,
pixel AUROC/AP/F1max/AUPRO per category and their mean) for DiAD and two baselines from the same bundle, with
plots, review panels and a threshold suggestion. Interrupted runs resume from <out>/cache.

  --bundle <path>          model bundle folder or .tar
  --dataset <dir>          dataset root
  --layout <l>             ${DATASET_LAYOUTS.join('|')} (detected when omitted)
  --out <dir>              report folder (default ./diad-eval)
  --categories a,b         only these categories
  --limit N                at most N test images per category (half good, half defective)
  --paper                  print the DiAD paper's numbers beside ours (MVTec-AD / VisA)
  --methods list           of ${METHODS.join(',')} (default all; diad is always run)
  --seed N                 noise seed (default 0)
  --steps N                DDIM steps (default: manifest)
  --start-step N           DDIM start step (default: manifest)
  --draws N                reconstructions averaged per image (default: manifest)
  --batch N                frames per pipeline call (default 1)
  --threads N              ONNX Runtime intra-op threads
  --providers list         e.g. cuda,cpu (default cpu)
  --target-frr F           false-reject rate for the threshold suggestion (default 0.01)
  --fpr-limit F            AUPRO integration limit (default 0.3)
  --heatmaps N|all         review panels per category and defect type (default 1)
  --fresh                  ignore cached per-image results
  --cache <dir>            per-image result cache (default <out>/cache); share it between runs to reuse
                           results of identical images (same bundle, options and image bytes)
`;

export async function evalCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      bundle: { type: 'string' },
      dataset: { type: 'string' },
      layout: { type: 'string' },
      out: { type: 'string' },
      categories: { type: 'string', multiple: true },
      limit: { type: 'string' },
      paper: { type: 'boolean' },
      methods: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      'start-step': { type: 'string' },
      draws: { type: 'string' },
      batch: { type: 'string' },
      threads: { type: 'string' },
      providers: { type: 'string' },
      'target-frr': { type: 'string' },
      'fpr-limit': { type: 'string' },
      heatmaps: { type: 'string' },
      fresh: { type: 'boolean' },
      cache: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(EVAL_USAGE);
    return 0;
  }
  if (!values.bundle) throw new UsageError('--bundle <dir|tar> is required');
  if (!values.dataset) throw new UsageError('--dataset <dir> is required');
  const layout =
    values.layout === undefined
      ? undefined
      : choiceOption<DatasetLayout>('layout', values.layout, DATASET_LAYOUTS, 'mvtec');
  const methodList = listOption(values.methods) ?? [...METHODS];
  for (const m of methodList) {
    if (!(METHODS as readonly string[]).includes(m))
      throw new UsageError(`--methods: unknown method "${m}"; expected ${METHODS.join(', ')}`);
  }
  const methods = METHODS.filter((m) => m === 'diad' || methodList.includes(m)) as Method[];
  const providers = listOption(values.providers) as Provider[] | undefined;
  for (const p of providers ?? []) {
    if (!['tensorrt', 'cuda', 'webgpu', 'cpu'].includes(p))
      throw new UsageError(`--providers: unknown provider "${p}"; expected tensorrt, cuda, webgpu, cpu`);
  }
  let heatmaps: number | 'all' = 1;
  if (values.heatmaps === 'all') heatmaps = 'all';
  else heatmaps = intOption('heatmaps', values.heatmaps, 1, 0, 100_000);
  const limit = values.limit === undefined ? undefined : intOption('limit', values.limit, 0, 2, 1_000_000);
  const settings = {
    outDir: resolve(values.out ?? 'diad-eval'),
    cacheDir: values.cache === undefined ? undefined : resolve(values.cache),
    seed: intOption('seed', values.seed, 0, 0, 0xffffffff),
    steps: values.steps === undefined ? undefined : intOption('steps', values.steps, 0, 1, 10_000),
    startStep:
      values['start-step'] === undefined
        ? undefined
        : intOption('start-step', values['start-step'], 0, 1, 10_000),
    draws: values.draws === undefined ? undefined : intOption('draws', values.draws, 1, 1, MAX_DRAWS),
    methods,
    batch: intOption('batch', values.batch, 1, 1, 256),
    targetFrr: numberOption('target-frr', values['target-frr'], 0.01, 0, 0.99),
    heatmaps,
    fresh: values.fresh ?? false,
    fprLimit: numberOption('fpr-limit', values['fpr-limit'], 0.3, 0.001, 1),
  };
  const threads = values.threads === undefined ? undefined : intOption('threads', values.threads, 0, 0, 1024);

  const started = performance.now();
  const dataset = await loadDataset(resolve(values.dataset), {
    layout,
    categories: listOption(values.categories),
  });
  const samples = selectTestSamples(dataset.samples, limit);
  const categories = [...new Set(samples.map((x) => x.category))];
  io.stderr.write(
    `diad eval: ${samples.length} test images in ${categories.length} categories (${dataset.layout} layout)\n`,
  );
  const { pipeline, math } = await openPipeline(resolve(values.bundle), { providers, threads });
  try {
    await mkdir(settings.outDir, { recursive: true });
    const result = await runEvaluation(pipeline, math, samples, settings, io.stderr);
    let paper: ReportContext['paper'] = null;
    let paperNote: string | null = null;
    if (values.paper) {
      const synthetic = await access(join(dataset.root, 'synth.json')).then(
        () => true,
        () => false,
      );
      if (synthetic) {
        paperNote = `${dataset.root} is a synthetic dataset (synth.json): the paper has no numbers for it, even where a category name matches.`;
      } else if (dataset.layout === 'mvtec' || dataset.layout === 'visa') {
        const rows = paperRowsFor(dataset.layout as PaperDataset, categories);
        if (rows) paper = { dataset: dataset.layout === 'mvtec' ? 'MVTec-AD' : 'VisA', rows };
        else
          paperNote = `None of the evaluated categories (${categories.join(', ')}) is a ${dataset.layout === 'mvtec' ? 'MVTec-AD' : 'VisA'} category; the paper has no numbers for them.`;
      } else {
        paperNote = `The paper reports MVTec-AD and VisA only; this dataset has the ${dataset.layout} layout.`;
      }
    }
    const m = pipeline.manifest;
    const ctx: ReportContext = {
      bundle: {
        path: resolve(values.bundle),
        name: m.model.name,
        version: m.model.version,
        sha256: pipeline.bundleSha256,
        provider: pipeline.provider,
      },
      dataset: {
        root: dataset.root,
        layout: dataset.layout,
        categories,
        images: samples.length,
        limit: limit ?? null,
      },
      options: {
        seed: settings.seed,
        steps: settings.steps ?? null,
        startStep: settings.startStep ?? null,
        draws: settings.draws ?? null,
        targetFrr: settings.targetFrr,
        fprLimit: settings.fprLimit,
      },
      paper,
      paperNote,
      wallSeconds: (performance.now() - started) / 1000,
    };
    const md = renderMarkdown(ctx, result);
    await writeFile(
      join(settings.outDir, 'report.json'),
      `${JSON.stringify(buildReportJson(ctx, result), null, 2)}\n`,
    );
    await writeFile(join(settings.outDir, 'report.md'), md);
    await writeFile(join(settings.outDir, 'report.csv'), renderCsv(result));
    await writeFile(join(settings.outDir, 'scores.csv'), renderScoresCsv(result, methods));
    const diad = result.methods.diad;
    if (diad) io.stdout.write(`DiAD\n${toMarkdown(diad, { layout: 'paper' })}\n`);
    const summary = md.split('## Summary')[1]?.split('\n## ')[0]?.trim();
    if (summary) io.stdout.write(`${summary}\n\n`);
    const paperSection = md
      .split(/## DiAD paper[^\n]*\n/)[1]
      ?.split('\n## ')[0]
      ?.trim();
    if (values.paper && paperSection) io.stdout.write(`DiAD paper beside ours\n${paperSection}\n\n`);
    io.stdout.write(
      `report written to ${settings.outDir} (report.md, report.json, report.csv, scores.csv, plots/, heatmaps/)\n`,
    );
    return 0;
  } finally {
    await pipeline.close();
  }
}
