/** Threshold suggestions from evaluated image scores (verdict rule: score >= threshold is NOK). */

export interface ThresholdPoint {
  threshold: number;
  /** Good parts rejected (false rejects / good parts). */
  falseRejectRate: number;
  /** Defective parts passed (misses / defective parts). */
  escapeRate: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface CalibrationSuggestion {
  good: number;
  defective: number;
  /** Threshold that maximises F1 on this test set. */
  atMaxF1: ThresholdPoint;
  /** Lowest threshold that keeps false rejects of good parts at or below the target rate. */
  atTargetFrr: ThresholdPoint & { targetFrr: number };
}

function checkScores(scores: readonly number[], name: string): void {
  if (!Array.isArray(scores)) throw new TypeError(`${name} must be an array of numbers`);
  for (let i = 0; i < scores.length; i++) {
    if (typeof scores[i] !== 'number' || !Number.isFinite(scores[i])) {
      throw new RangeError(`${name}[${i}] must be a finite number, got ${scores[i]}`);
    }
  }
}

export function pointAt(threshold: number, good: readonly number[], bad: readonly number[]): ThresholdPoint {
  const falseRejects = good.filter((s) => s >= threshold).length;
  const caught = bad.filter((s) => s >= threshold).length;
  const flagged = falseRejects + caught;
  const precision = flagged === 0 ? 1 : caught / flagged;
  const recall = bad.length === 0 ? 0 : caught / bad.length;
  return {
    threshold,
    falseRejectRate: good.length === 0 ? 0 : falseRejects / good.length,
    escapeRate: bad.length === 0 ? 0 : 1 - recall,
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
  };
}

/** A threshold strictly above `v` and at most `above` (when given): the midpoint, or just above v. */
function justAbove(v: number, above?: number): number {
  if (above !== undefined && above > v) return v + (above - v) / 2;
  return v + Math.max(Math.abs(v) * 1e-6, 1e-9);
}

export function suggestThresholds(
  good: readonly number[],
  bad: readonly number[],
  targetFrr: number,
): CalibrationSuggestion {
  checkScores(good, 'good');
  checkScores(bad, 'bad');
  if (good.length === 0) throw new RangeError('good must hold at least one score of a good part');
  if (bad.length === 0) throw new RangeError('bad must hold at least one score of a defective part');
  if (typeof targetFrr !== 'number' || !(targetFrr >= 0 && targetFrr < 1)) {
    throw new RangeError(`targetFrr must be in [0, 1), got ${targetFrr}`);
  }
  // candidate thresholds: every distinct score (flag it and everything above)
  const candidates = [...new Set([...good, ...bad])].sort((a, b) => a - b);
  let best = pointAt(candidates[0], good, bad);
  for (const t of candidates) {
    const p = pointAt(t, good, bad);
    if (p.f1 > best.f1 || (p.f1 === best.f1 && t > best.threshold)) best = p;
  }
  const desc = [...good].sort((a, b) => b - a);
  // k good parts may be rejected; the threshold sits just above the (k+1)-th highest good score
  const k = Math.floor(targetFrr * good.length + 1e-9);
  const t = justAbove(desc[k], k > 0 ? desc[k - 1] : undefined);
  return {
    good: good.length,
    defective: bad.length,
    atMaxF1: best,
    atTargetFrr: { ...pointAt(t, good, bad), targetFrr },
  };
}
