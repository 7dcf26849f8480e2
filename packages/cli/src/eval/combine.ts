import type { CategoryMetrics, EvaluationReport } from '@diad/metrics';

const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / values.length;

/**
 * Joins per-category reports (evaluated one category at a time to bound memory) into one report with the
 * unweighted mean over categories, as @diad/metrics' evaluate() and the DiAD tables define it.
 */
export function combineReports(parts: readonly EvaluationReport[]): EvaluationReport {
  if (parts.length === 0) throw new RangeError('parts must hold at least one report');
  const categories: CategoryMetrics[] = parts.flatMap((p) => [...p.categories]);
  const pixels = categories.map((c) => c.pixel);
  const allPixel = pixels.every((p) => p !== null);
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
            auroc: mean(pixels.map((p) => p!.auroc)),
            averagePrecision: mean(pixels.map((p) => p!.averagePrecision)),
            f1Max: mean(pixels.map((p) => p!.f1Max)),
            aupro: mean(pixels.map((p) => p!.aupro)),
          }
        : null,
    },
    aupro: parts[0].aupro,
  };
}
