import { describe, expect, it } from 'vitest';
import {
  type EvaluationReport,
  evidenceVerdict,
  shadowEvidenceVerdict,
  summariseShadow,
} from '../src/lifecycle/evidence.js';

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

describe('shadow evidence (candidate beside the active model on the same live parts)', () => {
  const rows = [
    { activeModel: 'm@1', truth: 'normal' as const, parts: 10, agree: 9, activeNok: 1, candidateNok: 0 },
    { activeModel: 'm@1', truth: 'defect' as const, parts: 4, agree: 3, activeNok: 3, candidateNok: 4 },
    { activeModel: 'm@1', truth: null, parts: 6, agree: 6, activeNok: 2, candidateNok: 2 },
    { activeModel: 'a@9', truth: null, parts: 2, agree: 0, activeNok: 0, candidateNok: 2 },
  ];

  it('sums parts per active model, with rates on the labelled parts only', () => {
    const [a, m] = summariseShadow(rows);
    expect(a).toMatchObject({ activeModel: 'a@9', parts: 2, normals: 0, defects: 0, agreementRate: 0 });
    expect(a.candidate).toEqual({ falseAlarmRate: 0, falseAlarms: 0, missedDefects: 0 });
    expect(m).toEqual({
      activeModel: 'm@1',
      parts: 20,
      agreementRate: 0.9,
      normals: 10,
      defects: 4,
      candidate: { falseAlarmRate: 0, falseAlarms: 0, missedDefects: 0 },
      active: { falseAlarmRate: 0.1, falseAlarms: 1, missedDefects: 1 },
    });
    expect(shadowEvidenceVerdict(m, { minLabelled: 14 })).toEqual({ ok: true, reasons: [] });
  });

  it('refuses too few labelled parts, more false alarms, more missed defects, too little agreement', () => {
    const [, m] = summariseShadow(rows);
    const worse = { ...m, candidate: { falseAlarmRate: 0.2, falseAlarms: 2, missedDefects: 2 } };
    expect(shadowEvidenceVerdict(worse, { minLabelled: 15, minAgreement: 0.95 }).reasons).toEqual([
      'only 14 labelled part(s) among 20 shadow results beside m@1 (at least 15 required)',
      "false-alarm rate on labelled-OK parts 20.0 % is above m@1's 10.0 % (2 vs 1 of 10)",
      'missed 2 of 4 labelled-NOK parts, m@1 missed 1',
      'agreement with m@1 90.0 % is below 95.0 %',
    ]);
  });
});
