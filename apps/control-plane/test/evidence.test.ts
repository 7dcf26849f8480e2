import { describe, expect, it } from 'vitest';
import { type EvaluationReport, evidenceVerdict } from '../src/lifecycle/evidence.js';

const report = (o: Partial<EvaluationReport> = {}): EvaluationReport => ({
  auroc: 0.9,
  falseAlarmRate: 0.05,
  missedDefects: 2,
  normals: 40,
  defects: 20,
  ...o,
});

describe('evidence rule (candidate vs the model it replaces)', () => {
  it('accepts a candidate at least as good on AUROC and false alarms', () => {
    expect(evidenceVerdict(report(), report())).toEqual({ ok: true, reasons: [] });
    expect(evidenceVerdict(report({ auroc: 0.95, falseAlarmRate: 0.025 }), report()).ok).toBe(true);
  });

  it('refuses a lower AUROC or more false alarms, naming both numbers', () => {
    expect(evidenceVerdict(report({ auroc: 0.85 }), report())).toEqual({
      ok: false,
      reasons: ["AUROC 0.8500 is below the current model's 0.9000"],
    });
    expect(evidenceVerdict(report({ falseAlarmRate: 0.1 }), report()).reasons).toEqual([
      "false-alarm rate 10.0 % is above the current model's 5.0 %",
    ]);
  });

  it('refuses evaluations made on different images', () => {
    expect(evidenceVerdict(report({ normals: 39 }), report()).reasons[0]).toContain(
      'different images (39+20 vs 40+20)',
    );
  });
});
