import type { InspectionResult } from '@diad/protocol';

/** Running tally of the agent's results for the demo's live line. */
export class LiveSummary {
  inspected = 0;
  ok = 0;
  nok = 0;
  errors = 0;
  /** Defective test parts judged NOK / good test parts judged OK (ground truth from the synthetic set). */
  caught = 0;
  defective = 0;
  passed = 0;
  good = 0;
  private latencies: number[] = [];
  lastLatencyMs: number | null = null;
  private readonly truth = new Map<string, boolean>();

  /** Remembers whether the part fed under this id is defective. */
  expect(partId: string, defective: boolean): void {
    this.truth.set(partId, defective);
  }

  add(r: InspectionResult): void {
    this.inspected++;
    if (r.verdict === 'OK') this.ok++;
    else if (r.verdict === 'NOK') this.nok++;
    else this.errors++;
    const total = r.timingsMs.total ?? Date.parse(r.inspectedAt) - Date.parse(r.capturedAt);
    if (Number.isFinite(total)) {
      this.lastLatencyMs = total;
      this.latencies.push(total);
      if (this.latencies.length > 500) this.latencies.shift();
    }
    const defective = this.truth.get(r.partId);
    if (defective === undefined || r.verdict === null) return;
    this.truth.delete(r.partId);
    if (defective) {
      this.defective++;
      if (r.verdict === 'NOK') this.caught++;
    } else {
      this.good++;
      if (r.verdict === 'OK') this.passed++;
    }
  }

  percentile(p: number): number | null {
    if (this.latencies.length === 0) return null;
    const s = [...this.latencies].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  }

  line(extra: { stored: number; outbox: number; model: string }): string {
    const ms = (v: number | null) => (v === null ? '-' : `${v.toFixed(0)} ms`);
    return (
      `inspected ${this.inspected}  OK ${this.ok}  NOK ${this.nok}  errors ${this.errors}  ` +
      `latency last ${ms(this.lastLatencyMs)} p50 ${ms(this.percentile(50))} p95 ${ms(this.percentile(95))}  ` +
      `defects caught ${this.caught}/${this.defective}  good passed ${this.passed}/${this.good}  ` +
      `in history ${extra.stored}  outbox ${extra.outbox}  model ${extra.model}`
    );
  }
}
