export { aupro, pixelMetrics, proCurve } from './pixel.js';
export { auroc, averagePrecision, f1Max, prCurve, rankingMetrics, rocCurve } from './ranking.js';
export { RegionLabeller } from './regions.js';
export type * from './types.js';
