import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { DatasetSample } from '@diad/datasets';
import { type EvaluationRecord, type EvaluationReport, evaluate, proCurve, rocCurve } from '@diad/metrics';
import sharp from 'sharp';
import { pixelDistanceMap } from './baseline.js';
import { type CachedImage, cacheKey, EvalCache, METHOD_LABELS, type Method } from './cache.js';
import {
  type CalibrationSuggestion,
  pointAt,
  suggestThresholds,
  type ThresholdPoint,
} from './calibration.js';
import { combineReports } from './combine.js';
import { composePanel } from './heatmap.js';
import { loadMask } from './masks.js';
import type { EvalPipeline, MapMath } from './pipeline-port.js';
import { chartPng, type Series } from './plots.js';
import { ProgressBar } from './progress.js';

export interface EvalSettings {
  outDir: string;
  /** Folder of per-image results (default <outDir>/cache); runs sharing it share results. */
  cacheDir?: string;
  seed: number;
  steps?: number;
  startStep?: number;
  /** Reconstructions averaged per image (default: manifest). */
  draws?: number;
  methods: readonly Method[];
  /** Frames per pipeline call. */
  batch: number;
  /** Target rate of good parts rejected, for the threshold suggestion. */
  targetFrr: number;
  /** Review panels per category and defect type ('all' for every image, 0 for none). */
  heatmaps: number | 'all';
  /** Ignore cached per-image results. */
  fresh: boolean;
  fprLimit: number;
}

export interface ImageResult {
  category: string;
  defect: string;
  imagePath: string;
  label: 0 | 1;
  scores: Partial<Record<Method, number>>;
  ms: Partial<Record<Method, number>>;
  cached: boolean;
}

export interface TimingStats {
  images: number;
  meanMs: number;
  medianMs: number;
  p95Ms: number;
}

export interface EvalResult {
  methods: Partial<Record<Method, EvaluationReport>>;
  images: ImageResult[];
  calibration: {
    perCategory: Record<string, CalibrationSuggestion>;
    pooled: CalibrationSuggestion | null;
    /** How the bundle's own image threshold does on this test set, per category. */
    bundleThreshold: { threshold: number; perCategory: Record<string, ThresholdPoint> };
    /** Pixel threshold at max pixel F1 (DiAD), per category. */
    pixelF1Threshold: Record<string, number>;
  };
  timing: Partial<Record<Method, TimingStats>>;
  plots: string[];
  heatmaps: string[];
  /** Categories evaluated without pixel metrics, with the reason. */
  noPixelMetrics: Record<string, string>;
  cacheHits: number;
}

export function timingStats(values: readonly number[]): TimingStats | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    images: values.length,
    meanMs: values.reduce((s, v) => s + v, 0) / values.length,
    medianMs: at(0.5),
    p95Ms: at(0.95),
  };
}

interface Scored {
  sample: DatasetSample;
  entry: CachedImage;
  maps: Record<Method, Float32Array>;
  cached: boolean;
}

/** Re-throws a pipeline error with the images of the batch named; keeps the error's name for the CLI. */
async function named<T>(paths: readonly string[], run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    const which = paths.length === 1 ? paths[0] : `one of ${paths.join(', ')}`;
    const e = new Error(`${which}: ${err.message}`, { cause: err });
    e.name = err.name;
    throw e;
  }
}

async function fileSha256(path: string): Promise<string> {
  try {
    return createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  } catch (err) {
    throw new Error(`cannot read test image ${path}: ${(err as Error).message}`);
  }
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

/** Runs the pipeline (or reads the cache) for a list of images, in batches. */
async function scoreImages(
  pipeline: EvalPipeline,
  math: MapMath,
  cache: EvalCache,
  samples: readonly DatasetSample[],
  s: EvalSettings,
  progress: ProgressBar,
): Promise<Scored[]> {
  const { scoring, input } = pipeline.manifest;
  const mh = scoring.mapHeight;
  const mw = scoring.mapWidth;
  const out: Scored[] = [];
  const keyOf = async (sample: DatasetSample) =>
    cacheKey({
      bundleSha256: pipeline.bundleSha256,
      imageSha256: await fileSha256(sample.imagePath),
      seed: s.seed,
      steps: s.steps ?? null,
      startStep: s.startStep ?? null,
      draws: s.draws ?? null,
      methods: s.methods,
    });
  const pending: Array<{ sample: DatasetSample; key: string }> = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const jobs = pending.splice(0, pending.length);
    const batch = jobs.map((j) => j.sample);
    const paths = batch.map((b) => b.imagePath);
    const common = { seed: s.seed, steps: s.steps, startStep: s.startStep, draws: s.draws };
    const t0 = performance.now();
    const diad = await named(paths, () =>
      pipeline.runBatch(paths, { ...common, mode: 'diad', keepTensors: s.methods.includes('pixel') }),
    );
    const diadMs = (performance.now() - t0) / batch.length;
    let ae: Awaited<ReturnType<EvalPipeline['runBatch']>> | null = null;
    let aeMs = 0;
    if (s.methods.includes('autoencoder')) {
      const t1 = performance.now();
      ae = await named(paths, () => pipeline.runBatch(paths, { ...common, mode: 'autoencoder' }));
      aeMs = (performance.now() - t1) / batch.length;
    }
    for (let i = 0; i < batch.length; i++) {
      const d = diad[i];
      if (d.mapWidth !== mw || d.mapHeight !== mh) {
        throw new Error(
          `pipeline returned a ${d.mapWidth}x${d.mapHeight} map, the manifest says ${mw}x${mh}`,
        );
      }
      const maps = {} as Record<Method, Float32Array>;
      const scores: Partial<Record<Method, number>> = {};
      // own copies: a pipeline may reuse its output buffers on the next call
      maps.diad = Float32Array.from(d.map);
      scores.diad = d.score;
      if (ae) {
        maps.autoencoder = Float32Array.from(ae[i].map);
        scores.autoencoder = ae[i].score;
      }
      if (s.methods.includes('pixel')) {
        if (!d.input || !d.reconstruction)
          throw new Error('pipeline did not return input/reconstruction tensors (keepTensors)');
        const raw = pixelDistanceMap(d.input, d.reconstruction, 3, input.height, input.width);
        const sized = math.resize(raw, input.height, input.width, mh, mw);
        maps.pixel = math.blur(sized, mh, mw, scoring.sigma, scoring.truncate);
        scores.pixel = math.poolScore(maps.pixel, mh, mw, scoring.poolKernel, scoring.poolRounds);
      }
      const ms: Partial<Record<Method, number>> = { diad: diadMs };
      if (ae) ms.autoencoder = aeMs;
      const entry: CachedImage = {
        key: jobs[i].key,
        imagePath: batch[i].imagePath,
        scores,
        ms,
        mapWidth: mw,
        mapHeight: mh,
      };
      await cache.put(entry, s.methods, maps);
      out.push({ sample: batch[i], entry, maps, cached: false });
      progress.tick(`${batch[i].category}/${batch[i].defect}/${basename(batch[i].imagePath)}`, diadMs + aeMs);
    }
  };
  for (const sample of samples) {
    const key = await keyOf(sample);
    const hit = s.fresh ? null : await cache.get(key, s.methods);
    if (hit) {
      out.push({ sample, entry: hit.entry, maps: hit.maps, cached: true });
      progress.tick(`${sample.category}/${sample.defect}/${basename(sample.imagePath)}`, 0);
      continue;
    }
    pending.push({ sample, key });
    if (pending.length >= s.batch) await flush();
  }
  await flush();
  return out;
}

function pickForHeatmaps(scored: readonly Scored[], n: number | 'all'): Scored[] {
  if (n === 'all') return [...scored];
  const perDefect = new Map<string, number>();
  return scored.filter((x) => {
    const c = perDefect.get(x.sample.defect) ?? 0;
    perDefect.set(x.sample.defect, c + 1);
    return c < n;
  });
}

async function writeHeatmaps(
  category: string,
  chosen: readonly Scored[],
  masks: Map<Scored, Uint8Array>,
  scale: number,
  mw: number,
  mh: number,
  outDir: string,
): Promise<string[]> {
  const written: string[] = [];
  if (chosen.length === 0) return written;
  const dir = join(outDir, 'heatmaps', safe(category));
  await mkdir(dir, { recursive: true });
  for (const x of chosen) {
    const rgb = await sharp(x.sample.imagePath)
      .removeAlpha()
      .toColourspace('srgb')
      .resize(mw, mh, { fit: 'fill' })
      .raw()
      .toBuffer();
    const mask = masks.get(x) ?? new Uint8Array(mw * mh);
    const panel = composePanel(new Uint8Array(rgb), x.maps.diad, mask, mw, mh, scale);
    const name = `${safe(x.sample.defect)}_${safe(basename(x.sample.imagePath, extname(x.sample.imagePath)))}.png`;
    const png = await sharp(Buffer.from(panel.data), {
      raw: { width: panel.width, height: panel.height, channels: 3 },
    })
      .png()
      .toBuffer();
    await writeFile(join(dir, name), png);
    written.push(join('heatmaps', safe(category), name));
  }
  return written;
}

/**
 * Scores every sample with DiAD and the baselines, one category at a time (maps of one category in memory),
 * and computes the paper's metrics, plots, review panels and threshold suggestions.
 */
export async function runEvaluation(
  pipeline: EvalPipeline,
  math: MapMath,
  samples: readonly DatasetSample[],
  s: EvalSettings,
  stderr: NodeJS.WritableStream,
): Promise<EvalResult> {
  if (samples.length === 0) throw new RangeError('no test images to evaluate');
  const cache = await EvalCache.open(s.cacheDir ?? join(s.outDir, 'cache'));
  await mkdir(join(s.outDir, 'plots'), { recursive: true });
  const { mapWidth: mw, mapHeight: mh } = pipeline.manifest.scoring;
  const progress = new ProgressBar(samples.length, stderr);
  const categories = [...new Set(samples.map((x) => x.category))];
  const parts: Record<Method, EvaluationReport[]> = { diad: [], autoencoder: [], pixel: [] };
  const result: EvalResult = {
    methods: {},
    images: [],
    calibration: {
      perCategory: {},
      pooled: null,
      bundleThreshold: { threshold: pipeline.manifest.calibration.imageThreshold, perCategory: {} },
      pixelF1Threshold: {},
    },
    timing: {},
    plots: [],
    heatmaps: [],
    noPixelMetrics: {},
    cacheHits: 0,
  };
  const allGood: number[] = [];
  const allBad: number[] = [];
  for (const category of categories) {
    const mine = samples.filter((x) => x.category === category);
    const good = mine.filter((x) => x.label === 0).length;
    if (good === 0 || good === mine.length) {
      throw new RangeError(
        `category ${category} needs both good and defective test images to be evaluated, got ${mine.length} ${good === 0 ? 'defective' : 'good'} only`,
      );
    }
    const scored = await scoreImages(pipeline, math, cache, mine, s, progress);
    const missingMask = scored.find((x) => x.sample.label === 1 && x.sample.maskPath === null);
    const masks = new Map<Scored, Uint8Array>();
    if (missingMask) {
      result.noPixelMetrics[category] = `no ground-truth mask for ${missingMask.sample.imagePath}`;
    } else {
      for (const x of scored) masks.set(x, await loadMask(x.sample.maskPath, mw, mh));
    }
    const labels = Uint8Array.from(scored, (x) => x.sample.label);
    const rocSeries: Series[] = [];
    const proSeries: Series[] = [];
    for (const method of s.methods) {
      const records: EvaluationRecord[] = scored.map((x) => ({
        category,
        score: x.entry.scores[method]!,
        label: x.sample.label,
        ...(masks.size > 0
          ? {
              map: { width: mw, height: mh, data: x.maps[method] },
              mask: { width: mw, height: mh, data: masks.get(x)! },
            }
          : {}),
      }));
      const report = evaluate(records, { fprLimit: s.fprLimit });
      parts[method].push(report);
      const c = report.categories[0];
      const roc = rocCurve(
        Float64Array.from(records, (r) => r.score),
        labels,
      );
      rocSeries.push({
        name: `${METHOD_LABELS[method]} (AUROC ${(100 * c.image.auroc).toFixed(1)})`,
        x: roc.fpr,
        y: roc.tpr,
      });
      if (masks.size > 0 && c.pixel) {
        const curve = proCurve(
          records.map((r) => r.map!),
          records.map((r) => r.mask!),
          { fprLimit: s.fprLimit },
        );
        proSeries.push({
          name: `${METHOD_LABELS[method]} (AUPRO ${(100 * c.pixel.aupro).toFixed(1)})`,
          x: curve.fpr,
          y: curve.pro,
        });
      }
    }
    const rocFile = join('plots', `roc_${safe(category)}.png`);
    await writeFile(
      join(s.outDir, rocFile),
      await chartPng({
        title: `${category}: image-level ROC`,
        xLabel: 'False positive rate',
        yLabel: 'True positive rate',
        xMax: 1,
        series: rocSeries,
        diagonal: true,
      }),
    );
    result.plots.push(rocFile);
    if (proSeries.length > 0) {
      const proFile = join('plots', `pro_${safe(category)}.png`);
      await writeFile(
        join(s.outDir, proFile),
        await chartPng({
          title: `${category}: per-region overlap (PRO)`,
          xLabel: 'False positive rate (pixels)',
          yLabel: 'PRO',
          xMax: s.fprLimit,
          series: proSeries,
        }),
      );
      result.plots.push(proFile);
    }
    // calibration on DiAD scores
    const goodScores = scored.filter((x) => x.sample.label === 0).map((x) => x.entry.scores.diad!);
    const badScores = scored.filter((x) => x.sample.label === 1).map((x) => x.entry.scores.diad!);
    allGood.push(...goodScores);
    allBad.push(...badScores);
    result.calibration.perCategory[category] = suggestThresholds(goodScores, badScores, s.targetFrr);
    result.calibration.bundleThreshold.perCategory[category] = pointAt(
      pipeline.manifest.calibration.imageThreshold,
      goodScores,
      badScores,
    );
    const diadPixel = parts.diad[parts.diad.length - 1].categories[0].pixel;
    if (diadPixel) result.calibration.pixelF1Threshold[category] = diadPixel.f1Threshold;
    const scale = diadPixel
      ? 2 * diadPixel.f1Threshold
      : Math.max(...scored.map((x) => x.maps.diad.reduce((m, v) => Math.max(m, v), 0)));
    result.heatmaps.push(
      ...(await writeHeatmaps(category, pickForHeatmaps(scored, s.heatmaps), masks, scale, mw, mh, s.outDir)),
    );
    for (const x of scored) {
      if (x.cached) result.cacheHits++;
      result.images.push({
        category,
        defect: x.sample.defect,
        imagePath: x.sample.imagePath,
        label: x.sample.label,
        scores: x.entry.scores,
        ms: x.entry.ms,
        cached: x.cached,
      });
    }
  }
  for (const method of s.methods) {
    result.methods[method] = combineReports(parts[method]);
    const stats = timingStats(
      result.images.map((i) => i.ms[method]).filter((v): v is number => typeof v === 'number'),
    );
    if (stats) result.timing[method] = stats;
  }
  if (categories.length > 1) result.calibration.pooled = suggestThresholds(allGood, allBad, s.targetFrr);
  return result;
}
