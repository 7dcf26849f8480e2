import { checkOptions, pixelMetrics } from './pixel.js';
import { rankingMetrics } from './ranking.js';
import type { AuproOptions, MaskMap, ScoreMap } from './types.js';

/** One test image. Records of a category either all carry map and mask or none does. */
export interface EvaluationRecord {
  /** Product category, e.g. "bottle"; one table row per category, in order of first appearance. */
  readonly category: string;
  /** Image-level anomaly score (larger = more anomalous). */
  readonly score: number;
  /** Whether the image is anomalous (ground truth). */
  readonly label: boolean | 0 | 1;
  /** Pixel anomaly map, for the pixel-level columns. */
  readonly map?: ScoreMap;
  /** Ground-truth mask (non-zero = defect), required with map; all-zero for good images. */
  readonly mask?: MaskMap;
}

export interface ImageLevelMetrics {
  readonly auroc: number;
  readonly averagePrecision: number;
  readonly f1Max: number;
  readonly f1Threshold: number;
}

export interface PixelLevelMetrics {
  readonly auroc: number;
  readonly averagePrecision: number;
  readonly f1Max: number;
  readonly f1Threshold: number;
  readonly aupro: number;
}

export interface CategoryMetrics {
  readonly category: string;
  readonly images: number;
  readonly anomalousImages: number;
  readonly image: ImageLevelMetrics;
  /** null when the category's records carry no maps. */
  readonly pixel: PixelLevelMetrics | null;
}

export interface MeanMetrics {
  readonly image: Omit<ImageLevelMetrics, 'f1Threshold'>;
  /** Mean over categories; null unless every category has pixel metrics. */
  readonly pixel: Omit<PixelLevelMetrics, 'f1Threshold'> | null;
}

export interface EvaluationReport {
  readonly categories: readonly CategoryMetrics[];
  /** Unweighted mean over categories, as in the DiAD / UniAD tables. */
  readonly mean: MeanMetrics;
  readonly aupro: { readonly fprLimit: number; readonly variant: 'exact' | 'official' };
}

function kind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function checkRecord(record: unknown, i: number): EvaluationRecord {
  const name = `records[${i}]`;
  if (typeof record !== 'object' || record === null)
    throw new TypeError(`${name} must be an object, got ${kind(record)}`);
  const r = record as EvaluationRecord;
  if (typeof r.category !== 'string')
    throw new TypeError(`${name}.category must be a string, got ${kind(r.category)}`);
  if (r.category.length === 0) throw new RangeError(`${name}.category must not be empty`);
  if (typeof r.score !== 'number')
    throw new TypeError(`${name}.score must be a number, got ${kind(r.score)}`);
  if (!Number.isFinite(r.score))
    throw new RangeError(`${name}.score must be a finite number, got ${r.score}`);
  if (typeof r.label !== 'boolean' && r.label !== 0 && r.label !== 1) {
    if (typeof r.label === 'number') throw new RangeError(`${name}.label must be 0 or 1, got ${r.label}`);
    throw new TypeError(`${name}.label must be a boolean or 0/1, got ${kind(r.label)}`);
  }
  if ((r.map === undefined) !== (r.mask === undefined)) {
    throw new RangeError(
      `${name} must have both map and mask or neither, got only ${r.map === undefined ? 'mask' : 'map'}`,
    );
  }
  return r;
}

/** Re-words errors of the map checks so they name records[i].map / .mask instead of a per-category index. */
function renameMapErrors<T>(indices: readonly number[], category: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
    const message = error.message
      .replace(
        /\b(maps|masks)\[(\d+)\]/g,
        (_m, which: string, k: string) =>
          `records[${indices[Number(k)]}].${which === 'maps' ? 'map' : 'mask'}`,
      )
      .replace(/^masks must contain/, `the masks of category "${category}" must contain`);
    throw error instanceof TypeError ? new TypeError(message) : new RangeError(message);
  }
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/**
 * Image-level AUROC / AP / F1max and pixel-level AUROC / AP / F1max / AUPRO per category, plus their mean
 * over categories: the layout of the DiAD paper's tables. Render with toMarkdown, toCsv or toJson.
 */
export function evaluate(records: readonly EvaluationRecord[], options?: AuproOptions): EvaluationReport {
  if (!Array.isArray(records))
    throw new TypeError(`records must be an array of EvaluationRecord, got ${kind(records)}`);
  if (records.length === 0) throw new RangeError('records must not be empty');
  const checkedOptions = checkOptions(options);
  const byCategory = new Map<string, number[]>();
  records.forEach((record, i) => {
    const r = checkRecord(record, i);
    const list = byCategory.get(r.category);
    if (list) list.push(i);
    else byCategory.set(r.category, [i]);
  });

  const categories: CategoryMetrics[] = [];
  for (const [category, indices] of byCategory) {
    const scores = Float64Array.from(indices, (i) => records[i].score);
    const labels = Uint8Array.from(indices, (i) =>
      records[i].label === true || records[i].label === 1 ? 1 : 0,
    );
    const anomalousImages = labels.reduce((sum, l) => sum + l, 0);
    if (anomalousImages === 0 || anomalousImages === indices.length) {
      throw new RangeError(
        `the records of category "${category}" must contain both normal and anomalous images, got ${indices.length} ${anomalousImages === 0 ? 'normal' : 'anomalous'} only`,
      );
    }
    const ranking = rankingMetrics(scores, labels);
    const image: ImageLevelMetrics = {
      auroc: ranking.auroc,
      averagePrecision: ranking.averagePrecision,
      f1Max: ranking.f1Max.f1,
      f1Threshold: ranking.f1Max.threshold,
    };
    const withMaps = indices.filter((i) => records[i].map !== undefined);
    if (withMaps.length !== 0 && withMaps.length !== indices.length) {
      const missing = indices.find((i) => records[i].map === undefined);
      throw new RangeError(
        `records[${missing}] must have a map and mask like the other records of category "${category}" (all or none)`,
      );
    }
    let pixel: PixelLevelMetrics | null = null;
    if (withMaps.length > 0) {
      const maps = indices.map((i) => records[i].map as ScoreMap);
      const masks = indices.map((i) => records[i].mask as MaskMap);
      const result = renameMapErrors(indices, category, () => pixelMetrics(maps, masks, options));
      pixel = {
        auroc: result.auroc,
        averagePrecision: result.averagePrecision,
        f1Max: result.f1Max.f1,
        f1Threshold: result.f1Max.threshold,
        aupro: result.aupro,
      };
    }
    categories.push({ category, images: indices.length, anomalousImages, image, pixel });
  }

  const pixelRows = categories.map((c) => c.pixel);
  const allPixel = pixelRows.every((p): p is PixelLevelMetrics => p !== null);
  return {
    categories,
    mean: {
      image: {
        auroc: mean(categories.map((c) => c.image.auroc)),
        averagePrecision: mean(categories.map((c) => c.image.averagePrecision)),
        f1Max: mean(categories.map((c) => c.image.f1Max)),
      },
      pixel: allPixel
        ? {
            auroc: mean(pixelRows.map((p) => p.auroc)),
            averagePrecision: mean(pixelRows.map((p) => p.averagePrecision)),
            f1Max: mean(pixelRows.map((p) => p.f1Max)),
            aupro: mean(pixelRows.map((p) => p.aupro)),
          }
        : null,
    },
    aupro: { fprLimit: checkedOptions.fprLimit, variant: checkedOptions.variant },
  };
}
