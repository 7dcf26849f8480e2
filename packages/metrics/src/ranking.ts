import { sweepPixels } from './pixel-engine.js';
import { CurveRecorder, RankingSweep } from './ranking-sweep.js';
import type { GroupSink } from './sink.js';
import type { F1MaxResult, Labels, PrCurve, RocCurve, Scores } from './types.js';
import { checkLabels, checkScores } from './validate.js';
import { sweepVector } from './vector-engine.js';

/** Large float32 vectors take the linear-time radix path; both paths give identical groups. */
const RADIX_MIN_LENGTH = 65536;

function sweepScores(scores: Scores, labels: Labels, sinks: readonly GroupSink[]): void {
  const values = checkScores(scores, 'scores');
  const classes = checkLabels(labels, 'labels', values.length, 'scores');
  if (values instanceof Float32Array && values.length >= RADIX_MIN_LENGTH) {
    sweepPixels(
      { scores: [values], masks: [classes], nameOf: (_c, i) => `scores[${i}]`, masksName: 'labels' },
      false,
      sinks,
    );
  } else sweepVector(values, classes, sinks, 'labels');
}

function ranking(scores: Scores, labels: Labels): RankingSweep {
  const sweep = new RankingSweep();
  sweepScores(scores, labels, [sweep]);
  return sweep;
}

/** Area under the ROC curve; every distinct score is a threshold (= scikit-learn roc_auc_score). */
export function auroc(scores: Scores, labels: Labels): number {
  return ranking(scores, labels).auroc;
}

/** Step-wise average precision (= scikit-learn average_precision_score). */
export function averagePrecision(scores: Scores, labels: Labels): number {
  return ranking(scores, labels).averagePrecision;
}

/** Best F1 over all thresholds, a score >= threshold being anomalous; ties go to the highest threshold. */
export function f1Max(scores: Scores, labels: Labels): F1MaxResult {
  return ranking(scores, labels).f1Max;
}

/** AUROC, AP and F1max of one input in a single sweep. */
export function rankingMetrics(
  scores: Scores,
  labels: Labels,
): { auroc: number; averagePrecision: number; f1Max: F1MaxResult } {
  const sweep = ranking(scores, labels);
  return { auroc: sweep.auroc, averagePrecision: sweep.averagePrecision, f1Max: sweep.f1Max };
}

/** ROC curve at every distinct threshold, starting at (0, 0) with threshold +Infinity. */
export function rocCurve(scores: Scores, labels: Labels): RocCurve {
  const recorder = new CurveRecorder();
  sweepScores(scores, labels, [recorder]);
  return recorder.roc();
}

/** Precision and recall at every distinct threshold, in decreasing threshold order. */
export function prCurve(scores: Scores, labels: Labels): PrCurve {
  const recorder = new CurveRecorder();
  sweepScores(scores, labels, [recorder]);
  return recorder.pr();
}
