import { Inject, Injectable } from '@nestjs/common';
import type { BlobStore } from '../blob/blob-store.js';
import type { Logger } from '../common/logger.js';
import { Metrics } from '../common/metrics.js';
import { BLOB_STORE, CLOCK, type Clock, CONFIG, LOGGER } from '../common/tokens.js';
import type { ControlPlaneConfig } from '../config.js';
import { Database } from '../db/database.js';

export interface RetentionPolicy {
  /** Newest images kept per station; 0 = no bound. */
  maxPerStation: number;
  /** Bytes kept per station (newest first); 0 = no bound. */
  maxBytesPerStation: number;
  /** Images of parts inspected longer ago are removed; 0 = no bound. */
  maxAgeDays: number;
}

export interface SweepReport {
  removed: number;
  bytes: number;
  /** Removed images by the bound that removed them. */
  byReason: Record<'age' | 'count' | 'bytes', number>;
}

const BATCH = 1000;

/**
 * The selection, in one statement: the OK-sample images of each station (`image` artifacts of OK results), newest
 * first, less the ones that are evidence (in any dataset version, or of a labelled result), numbered and summed
 * per station; an image beyond the count, beyond the bytes or older than the cut-off goes. Evidence images are
 * kept on top of the bound: a dataset that was frozen must stay exportable, and a label is worth its picture.
 * The DELETE checks the dataset condition again, so an image frozen into a dataset meanwhile stays.
 */
const SWEEP_SQL = `
WITH ranked AS (
  SELECT a.result_id, a.blob_key, a.bytes, r.inspected_at,
         row_number() OVER w AS n, sum(a.bytes) OVER w AS cum
    FROM result_artifacts a
    JOIN results r ON r.result_id = a.result_id
   WHERE a.kind = 'image' AND r.verdict = 'OK'
     AND NOT EXISTS (SELECT 1 FROM dataset_items d WHERE d.image_ref = a.blob_key)
     AND NOT EXISTS (SELECT 1 FROM result_labels l WHERE l.result_id = a.result_id)
  WINDOW w AS (PARTITION BY r.site, r.line, r.station ORDER BY r.inspected_at DESC, a.result_id DESC)
), doomed AS (
  SELECT result_id, blob_key,
         CASE WHEN $3::timestamptz IS NOT NULL AND inspected_at < $3::timestamptz THEN 'age'
              WHEN $1::int > 0 AND n > $1::int THEN 'count'
              ELSE 'bytes' END AS reason
    FROM ranked
   WHERE ($3::timestamptz IS NOT NULL AND inspected_at < $3::timestamptz)
      OR ($1::int > 0 AND n > $1::int)
      OR ($2::bigint > 0 AND cum > $2::bigint)
   LIMIT $4
)
DELETE FROM result_artifacts a
 USING doomed
 WHERE a.result_id = doomed.result_id AND a.kind = 'image' AND a.blob_key = doomed.blob_key
   AND NOT EXISTS (SELECT 1 FROM dataset_items d WHERE d.image_ref = a.blob_key)
RETURNING a.blob_key, a.bytes, doomed.reason`;

/** Keeps the control plane's store of uploaded OK-sample images bounded per station (docs/lifecycle.md). */
@Injectable()
export class OkImageRetention {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  get policy(): RetentionPolicy {
    return {
      maxPerStation: this.config.okImageMaxPerStation,
      maxBytesPerStation: this.config.okImageMaxBytesPerStation,
      maxAgeDays: this.config.okImageRetentionDays,
    };
  }

  /** One pass: rows first (so nothing points at a missing blob), then the blobs; in batches until none is left. */
  async sweep(policy: RetentionPolicy = this.policy): Promise<SweepReport> {
    const report: SweepReport = { removed: 0, bytes: 0, byReason: { age: 0, count: 0, bytes: 0 } };
    const cutoff =
      policy.maxAgeDays > 0 ? new Date(this.clock.now().getTime() - policy.maxAgeDays * 86_400_000) : null;
    for (;;) {
      const rows = await this.db.prisma.$queryRawUnsafe<
        Array<{ blob_key: string; bytes: number; reason: 'age' | 'count' | 'bytes' }>
      >(SWEEP_SQL, policy.maxPerStation, policy.maxBytesPerStation, cutoff, BATCH);
      for (const r of rows) {
        await this.blobs.delete(r.blob_key);
        report.removed++;
        report.bytes += Number(r.bytes);
        report.byReason[r.reason]++;
        this.metrics.okImagesSwept.inc({ reason: r.reason });
        this.metrics.okImageBytesSwept.inc(Number(r.bytes));
      }
      if (rows.length < BATCH) break;
    }
    this.metrics.okImageLastSweep.set(this.clock.now().getTime() / 1000);
    if (report.removed) this.log.info(report, 'uploaded OK images swept');
    return report;
  }

  /** Runs a sweep now and then every `okImageSweepMs`; returns the stop function. */
  schedule(): () => void {
    const every = this.config.okImageSweepMs;
    if (every <= 0) return () => {};
    let running = false;
    const run = () => {
      if (running) return;
      running = true;
      this.sweep()
        .catch((e) => this.log.error({ err: e }, 'OK image sweep failed'))
        .finally(() => {
          running = false;
        });
    };
    run();
    const timer = setInterval(run, every);
    timer.unref();
    return () => clearInterval(timer);
  }
}
