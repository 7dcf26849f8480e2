import type { InspectionResult } from '@diad/protocol';

export interface ResilientWriteDeps {
  write(batch: InspectionResult[]): Promise<void>;
  /** True when the database answers; tells a data error (one bad row) from an outage. */
  healthy(): Promise<boolean>;
  sleep(ms: number): Promise<void>;
  /** Called for each row given up on (the database is up and refuses that row alone). */
  onDropped(row: InspectionResult, error: unknown): void;
  onRetry(error: unknown, attempt: number): void;
  /** Stop waiting for the database (shutdown); the batch is then reported lost. */
  stopping(): boolean;
}

/**
 * Writes a batch without losing it to a database outage: retries with backoff for as long as the database is
 * down (the caller's back-pressure holds the broker meanwhile). When the database is up but refuses the batch,
 * rows are written one by one and only the ones it refuses are dropped.
 */
export async function writeResilient(
  batch: InspectionResult[],
  d: ResilientWriteDeps,
): Promise<'written' | 'lost'> {
  for (let attempt = 1; ; attempt++) {
    try {
      await d.write(batch);
      return 'written';
    } catch (e) {
      d.onRetry(e, attempt);
      if (await d.healthy()) {
        if (batch.length === 1) {
          d.onDropped(batch[0], e);
          return 'written';
        }
        for (const row of batch) await writeResilient([row], d);
        return 'written';
      }
      if (d.stopping()) return 'lost';
      await d.sleep(Math.min(5000, 100 * 2 ** Math.min(attempt - 1, 6)));
    }
  }
}
