import type { InspectionResult } from '@diad/protocol';
import { Injectable } from '@nestjs/common';
import { Subject } from 'rxjs';

/** New results, as they are stored, for live streams (SSE) in this replica. */
@Injectable()
export class ResultEvents {
  readonly stream = new Subject<InspectionResult>();

  publish(results: InspectionResult[]): void {
    for (const r of results) this.stream.next(r);
  }

  /** Ends every open stream (graceful shutdown: open SSE responses would otherwise hold the server open). */
  close(): void {
    this.stream.complete();
  }
}
