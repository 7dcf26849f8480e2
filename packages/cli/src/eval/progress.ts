/** Progress bar with throughput and ETA for long evaluation runs, written to stderr. */

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/**
 * One progress line. `computed` counts images actually run (cached ones are instant and would make the ETA
 * optimistic), `elapsedMs` is the time spent on them.
 */
export function formatProgress(
  done: number,
  total: number,
  computed: number,
  elapsedMs: number,
  width = 24,
): string {
  const frac = total === 0 ? 1 : done / total;
  const filled = Math.floor(frac * width);
  const bar =
    `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (done === total ? '=' : '>') : ''}`.padEnd(width);
  const perImage = computed > 0 ? elapsedMs / 1000 / computed : Number.NaN;
  const eta = computed > 0 ? perImage * (total - done) : Number.NaN;
  const rate = computed > 0 ? `${perImage.toFixed(2)} s/img` : '-- s/img';
  return `[${bar}] ${done}/${total} ${String(Math.floor(frac * 100)).padStart(3)}%  ${rate}  ETA ${formatDuration(eta)}`;
}

export class ProgressBar {
  private done = 0;
  private computed = 0;
  private computeMs = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private lastPercentLine = -1;

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** One image finished; `ms` is its compute time, 0 for a cache hit. */
  tick(label: string, ms: number): void {
    this.done++;
    if (ms > 0) {
      this.computed++;
      this.computeMs += ms;
    }
    const line = formatProgress(this.done, this.total, this.computed, this.computeMs);
    if (this.out.isTTY) {
      const t = this.now();
      if (t - this.lastDraw < 200 && this.done < this.total) return;
      this.lastDraw = t;
      this.out.write(`\r${line}  ${label.slice(-40).padEnd(40)}`);
      if (this.done === this.total) this.out.write('\n');
      return;
    }
    // logs and pipes get a line every 10%
    const tenth = Math.floor((10 * this.done) / Math.max(1, this.total));
    if (tenth !== this.lastPercentLine) {
      this.lastPercentLine = tenth;
      this.out.write(`${line}\n`);
    }
  }
}
