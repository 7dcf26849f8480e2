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

/**
 * Shadow evidence: the candidate ran in shadow beside the active model on the same live parts. Per active model,
 * the verdicts of both on those parts, split by the supervisors' labels where there are some (labelled OK =
 * confirmed_ok or false_alarm; labelled NOK = confirmed_defect or missed_defect).
 */
export interface ShadowCounts {
  /** The active model, name@version. */
  activeModel: string;
  /** normal | defect (by label) | null (not labelled). */
  truth: 'normal' | 'defect' | null;
  parts: number;
  /** Parts where both verdicts agree. */
  agree: number;
  activeNok: number;
  candidateNok: number;
}

export interface ShadowSide {
  /** Labelled-OK parts called NOK, as a share of them (0 when none is labelled OK). */
  falseAlarmRate: number;
  falseAlarms: number;
  /** Labelled-NOK parts called OK. */
  missedDefects: number;
}

export interface ShadowComparison {
  activeModel: string;
  parts: number;
  agreementRate: number;
  /** Labelled-OK and labelled-NOK parts among them. */
  normals: number;
  defects: number;
  candidate: ShadowSide;
  active: ShadowSide;
}

/** Sums the per-label counts into one comparison per active model (sorted by model). */
export function summariseShadow(rows: ShadowCounts[]): ShadowComparison[] {
  const by = new Map<string, ShadowCounts[]>();
  for (const r of rows) by.set(r.activeModel, [...(by.get(r.activeModel) ?? []), r]);
  return [...by.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([activeModel, rs]) => {
      const sum = (f: (r: ShadowCounts) => number, truth?: 'normal' | 'defect') =>
        rs.filter((r) => truth === undefined || r.truth === truth).reduce((s, r) => s + f(r), 0);
      const parts = sum((r) => r.parts);
      const normals = sum((r) => r.parts, 'normal');
      const defects = sum((r) => r.parts, 'defect');
      const side = (nok: (r: ShadowCounts) => number): ShadowSide => {
        const falseAlarms = sum(nok, 'normal');
        return {
          falseAlarmRate: normals ? falseAlarms / normals : 0,
          falseAlarms,
          missedDefects: defects - sum(nok, 'defect'),
        };
      };
      return {
        activeModel,
        parts,
        agreementRate: parts ? sum((r) => r.agree) / parts : 0,
        normals,
        defects,
        candidate: side((r) => r.candidateNok),
        active: side((r) => r.activeNok),
      };
    });
}

export interface ShadowRule {
  /** Fewest labelled parts (OK + NOK) the comparison must rest on. */
  minLabelled: number;
  /** Optional floor on the share of parts where both models agree. */
  minAgreement?: number;
}

/**
 * The rule on live parts: enough labelled parts, no more false alarms on labelled-OK parts and no more missed
 * defects on labelled-NOK parts than the active model on the same parts, and (when asked) enough agreement.
 */
export function shadowEvidenceVerdict(c: ShadowComparison, rule: ShadowRule): EvidenceVerdict {
  const reasons: string[] = [];
  const labelled = c.normals + c.defects;
  if (labelled < rule.minLabelled)
    reasons.push(
      `only ${labelled} labelled part(s) among ${c.parts} shadow results beside ${c.activeModel} (at least ${rule.minLabelled} required)`,
    );
  if (c.candidate.falseAlarmRate > c.active.falseAlarmRate + EPS)
    reasons.push(
      `false-alarm rate on labelled-OK parts ${(c.candidate.falseAlarmRate * 100).toFixed(1)} % is above ${c.activeModel}'s ${(c.active.falseAlarmRate * 100).toFixed(1)} % (${c.candidate.falseAlarms} vs ${c.active.falseAlarms} of ${c.normals})`,
    );
  if (c.candidate.missedDefects > c.active.missedDefects)
    reasons.push(
      `missed ${c.candidate.missedDefects} of ${c.defects} labelled-NOK parts, ${c.activeModel} missed ${c.active.missedDefects}`,
    );
  if (rule.minAgreement !== undefined && c.agreementRate + EPS < rule.minAgreement)
    reasons.push(
      `agreement with ${c.activeModel} ${(c.agreementRate * 100).toFixed(1)} % is below ${(rule.minAgreement * 100).toFixed(1)} %`,
    );
  return { ok: reasons.length === 0, reasons };
}
