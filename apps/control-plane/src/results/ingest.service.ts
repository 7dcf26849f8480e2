import type { InspectionResult } from '@diad/protocol';
import { Inject, Injectable } from '@nestjs/common';
import { Metrics } from '../common/metrics.js';
import { Database } from '../db/database.js';
import { ResultEvents } from './result-events.js';
import { INSERT_RESULTS_SQL, toRow } from './result-row.js';

export interface IngestOutcome {
  accepted: number;
  duplicates: number;
}

/** Writes validated results in one statement per batch; idempotent on result id. */
@Injectable()
export class IngestService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(ResultEvents) private readonly events: ResultEvents,
  ) {}

  /** Unix ms of the last committed write of results on this replica (any transport), or of start-up. */
  lastCommitAt = Date.now();

  /**
   * One batch (an HTTP request) in one statement: when this resolves the rows are committed, so the caller may
   * acknowledge; when it throws nothing may be acknowledged.
   */
  async ingest(results: InspectionResult[], transport: string): Promise<IngestOutcome> {
    if (results.length === 0) return { accepted: 0, duplicates: 0 };
    const end = this.metrics.ingestBatchSeconds.startTimer();
    const ids = await this.insert(results);
    end();
    const duplicates = results.length - ids.size;
    this.metrics.resultsIngested.inc({ transport }, ids.size);
    if (duplicates > 0) this.metrics.resultsDuplicate.inc({ transport }, duplicates);
    this.published(results.filter((r) => ids.has(r.resultId)));
    return { accepted: ids.size, duplicates };
  }

  /** Inserts (autocommit, one statement) and returns the ids that were new; duplicates are skipped. */
  async insert(results: InspectionResult[]): Promise<Set<string>> {
    const inserted = await this.db.prisma.$queryRawUnsafe<Array<{ result_id: string }>>(
      INSERT_RESULTS_SQL,
      JSON.stringify(results.map(toRow)),
    );
    this.lastCommitAt = Date.now();
    return new Set(inserted.map((r) => r.result_id));
  }

  /** Hands committed results to the live stream. */
  published(results: InspectionResult[]): void {
    if (results.length) this.events.publish(results);
  }
}
