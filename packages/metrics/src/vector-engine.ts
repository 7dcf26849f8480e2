import type { GroupSink } from './sink.js';
import { checkBothClasses } from './validate.js';

/**
 * Streams a score vector to sinks by distinct score, decreasing. Positives and negatives are sorted
 * separately with the native numeric sort (no comparator) and merged, so ties across classes stay together.
 */
export function sweepVector(
  scores: Float32Array | Float64Array,
  labels: Uint8Array,
  sinks: readonly GroupSink[],
  labelsName: string,
): void {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i];
  const negatives = labels.length - positives;
  checkBothClasses(negatives, positives, labelsName);
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  let p = 0;
  let n = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] === 1) pos[p++] = scores[i];
    else neg[n++] = scores[i];
  }
  pos.sort();
  neg.sort();
  const min = Math.min(pos[0], neg[0]);
  const max = Math.max(pos[positives - 1], neg[negatives - 1]);
  for (const sink of sinks) sink.begin({ negatives, positives, regions: 0, min, max });
  let i = negatives - 1;
  let j = positives - 1;
  while (i >= 0 || j >= 0) {
    const value = i < 0 ? pos[j] : j < 0 ? neg[i] : Math.max(neg[i], pos[j]);
    let cn = 0;
    let cp = 0;
    while (i >= 0 && neg[i] === value) {
      i--;
      cn++;
    }
    while (j >= 0 && pos[j] === value) {
      j--;
      cp++;
    }
    // -0 === 0: report the tie as 0 so thresholds never print as -0.
    const threshold = value === 0 ? 0 : value;
    for (const sink of sinks) sink.group(threshold, cn, cp, 0);
  }
}
