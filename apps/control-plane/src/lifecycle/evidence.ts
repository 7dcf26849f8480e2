/**
 * The rule a candidate model must meet on a line's own evidence before it may replace the model running there:
 * at least the same image AUROC on the labelled validation set, and no more false alarms at its threshold. Missed
 * defects are reported beside them. Pure, so the rule can be read and tested on its own.
 */
export interface EvaluationReport {
  auroc: number;
  /** Normal images called NOK, as a share of the normal images. */
  falseAlarmRate: number;
  /** Defective images called OK. */
  missedDefects: number;
  normals: number;
  defects: number;
}

export interface EvidenceVerdict {
  ok: boolean;
  reasons: string[];
}

/** Tolerance for comparing rates measured on the same images: equal within rounding counts as equal. */
const EPS = 1e-9;

export function evidenceVerdict(candidate: EvaluationReport, current: EvaluationReport): EvidenceVerdict {
  const reasons: string[] = [];
  if (candidate.normals !== current.normals || candidate.defects !== current.defects)
    reasons.push(
      `evaluated on different images (${candidate.normals}+${candidate.defects} vs ${current.normals}+${current.defects})`,
    );
  if (candidate.auroc + EPS < current.auroc)
    reasons.push(
      `AUROC ${candidate.auroc.toFixed(4)} is below the current model's ${current.auroc.toFixed(4)}`,
    );
  if (candidate.falseAlarmRate > current.falseAlarmRate + EPS)
    reasons.push(
      `false-alarm rate ${(candidate.falseAlarmRate * 100).toFixed(1)} % is above the current model's ${(current.falseAlarmRate * 100).toFixed(1)} %`,
    );
  return { ok: reasons.length === 0, reasons };
}
