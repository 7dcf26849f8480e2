export type {
  CategoryMetrics,
  EvaluationRecord,
  EvaluationReport,
  ImageLevelMetrics,
  MeanMetrics,
  PixelLevelMetrics,
} from './evaluate.js';
export { evaluate } from './evaluate.js';
export { aupro, pixelMetrics, proCurve } from './pixel.js';
export { auroc, averagePrecision, f1Max, prCurve, rankingMetrics, rocCurve } from './ranking.js';
export { RegionLabeller } from './regions.js';
export type { MarkdownOptions } from './render.js';
export { toCsv, toJson, toMarkdown } from './render.js';
export type * from './types.js';
