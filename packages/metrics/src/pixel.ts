import { OfficialProSweep } from './official-pro.js';
import { sweepPixels } from './pixel-engine.js';
import { ProSweep } from './pro-sweep.js';
import { RankingSweep } from './ranking-sweep.js';
import type { GroupSink } from './sink.js';
import type { AuproOptions, MaskMap, PixelMetrics, ProCurve, ScoreMap } from './types.js';
import { checkMaps } from './validate.js';

interface CheckedOptions {
  readonly fprLimit: number;
  readonly variant: 'exact' | 'official';
  readonly thresholds: number;
}

export function checkOptions(options: unknown): CheckedOptions {
  if (options === undefined) return { fprLimit: 0.3, variant: 'exact', thresholds: 200 };
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      `options must be an object like { fprLimit: 0.3 }, got ${options === null ? 'null' : typeof options}`,
    );
  }
  const o = options as AuproOptions;
  const fprLimit = o.fprLimit ?? 0.3;
  if (typeof fprLimit !== 'number')
    throw new TypeError(`options.fprLimit must be a number, got ${typeof fprLimit}`);
  if (!(fprLimit > 0 && fprLimit <= 1))
    throw new RangeError(`options.fprLimit must be in (0, 1], got ${fprLimit}`);
  const variant = o.variant ?? 'exact';
  if (variant !== 'exact' && variant !== 'official') {
    throw new RangeError(`options.variant must be 'exact' or 'official', got ${String(variant)}`);
  }
  const thresholds = o.thresholds ?? 200;
  if (typeof thresholds !== 'number')
    throw new TypeError(`options.thresholds must be a number, got ${typeof thresholds}`);
  if (!Number.isInteger(thresholds) || thresholds < 2) {
    throw new RangeError(`options.thresholds must be an integer >= 2, got ${thresholds}`);
  }
  return { fprLimit, variant, thresholds };
}

function sweepMaps(maps: readonly ScoreMap[], masks: readonly MaskMap[], sinks: readonly GroupSink[]): void {
  const checked = checkMaps(maps, masks);
  sweepPixels(
    {
      scores: checked.scores,
      masks: checked.masks,
      widths: checked.widths,
      heights: checked.heights,
      nameOf: (c, i) => `maps[${c}].data[${i}]`,
      masksName: 'masks',
    },
    true,
    sinks,
  );
}

/**
 * Area under the per-region-overlap curve up to options.fprLimit (default 0.3), divided by the limit.
 * Regions are the 8-connected components of each mask; every region weighs the same; FPR counts every
 * normal pixel of every image. Maps are evaluated at float32 precision.
 */
export function aupro(maps: readonly ScoreMap[], masks: readonly MaskMap[], options?: AuproOptions): number {
  const o = checkOptions(options);
  if (o.variant === 'official') {
    const sweep = new OfficialProSweep(o.fprLimit, o.thresholds);
    sweepMaps(maps, masks, [sweep]);
    return sweep.aupro;
  }
  const sweep = new ProSweep(o.fprLimit);
  sweepMaps(maps, masks, [sweep]);
  return sweep.aupro;
}

/**
 * The PRO curve behind aupro() with the same options. Exact variant: (0, 0) then one point per distinct
 * threshold, decreasing, the last one cut at fprLimit. Official variant: the kept points with FPR rescaled
 * by its maximum, in increasing threshold order as the official code has them.
 */
export function proCurve(
  maps: readonly ScoreMap[],
  masks: readonly MaskMap[],
  options?: AuproOptions,
): ProCurve {
  const o = checkOptions(options);
  if (o.variant === 'official') {
    const sweep = new OfficialProSweep(o.fprLimit, o.thresholds);
    sweepMaps(maps, masks, [sweep]);
    return sweep.points();
  }
  const sweep = new ProSweep(o.fprLimit, true);
  sweepMaps(maps, masks, [sweep]);
  return sweep.points();
}

/** Pixel AUROC, AP, F1max and AUPRO of a test set in one sweep over its pixels. */
export function pixelMetrics(
  maps: readonly ScoreMap[],
  masks: readonly MaskMap[],
  options?: AuproOptions,
): PixelMetrics {
  const o = checkOptions(options);
  const ranking = new RankingSweep();
  if (o.variant === 'official') {
    const pro = new OfficialProSweep(o.fprLimit, o.thresholds);
    sweepMaps(maps, masks, [ranking, pro]);
    return {
      auroc: ranking.auroc,
      averagePrecision: ranking.averagePrecision,
      f1Max: ranking.f1Max,
      aupro: pro.aupro,
    };
  }
  const pro = new ProSweep(o.fprLimit);
  sweepMaps(maps, masks, [ranking, pro]);
  return {
    auroc: ranking.auroc,
    averagePrecision: ranking.averagePrecision,
    f1Max: ranking.f1Max,
    aupro: pro.aupro,
  };
}
