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

  async ingest(results: InspectionResult[], transport: 'http' | 'mqtt'): Promise<IngestOutcome> {
    if (results.length === 0) return { accepted: 0, duplicates: 0 };
    const end = this.metrics.ingestBatchSeconds.startTimer();
    const inserted = await this.db.prisma.$queryRawUnsafe<Array<{ result_id: string }>>(
      INSERT_RESULTS_SQL,
      JSON.stringify(results.map(toRow)),
    );
    end();
    const ids = new Set(inserted.map((r) => r.result_id));
    const duplicates = results.length - ids.size;
    this.metrics.resultsIngested.inc({ transport }, ids.size);
    if (duplicates > 0) this.metrics.resultsDuplicate.inc({ transport }, duplicates);
    this.events.publish(results.filter((r) => ids.has(r.resultId)));
    return { accepted: ids.size, duplicates };
  }
}
