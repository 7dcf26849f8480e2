import { EventEmitter } from 'node:events';
import { InspectionResult } from '@diad/protocol';
import type { ResultSink } from '../outbox/drainer.js';
import { RefusedResultError } from '../outbox/types.js';
import type { ControlPlaneClient } from './client.js';

/**
 * Delivers results to the control plane over HTTP (POST agentApi.results) for sites without an MQTT broker.
 * publishResult() calls made in the same event-loop turn (one drainer window) travel as one batch; all of them
 * resolve or fail together, so the drainer's in-order, at-least-once rules hold unchanged.
 */
export class HttpResultSink extends EventEmitter<{ up: []; down: [] }> implements ResultSink {
  private pending: { result: InspectionResult; resolve: () => void; reject: (e: Error) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly client: ControlPlaneClient,
    private readonly credential: () => string | null,
    private readonly maxBatch = 500,
  ) {
    super();
  }

  /** Sending needs a credential, i.e. a completed enrolment. */
  get connected(): boolean {
    return !!this.credential();
  }

  /** Call after enrolment so a waiting drainer starts. */
  enrolled() {
    this.emit('up');
  }

  publishResult(result: InspectionResult): Promise<void> {
    const parsed = InspectionResult.safeParse(result);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return Promise.reject(
        new RefusedResultError(result.resultId, `${issue.path.join('.')}: ${issue.message}`),
      );
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ result: parsed.data, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush() {
    this.scheduled = false;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      const cred = this.credential();
      try {
        if (!cred) throw new Error('not enrolled with the control plane');
        const out = await this.client.postResults(
          cred,
          batch.map((b) => b.result),
        );
        // The control plane judges each result alone: the ones it refused are set aside, the rest are delivered.
        const refused = new Map((out.refused ?? []).map((r) => [r.index, r]));
        batch.forEach((b, i) => {
          const r = refused.get(i);
          if (r) b.reject(new RefusedResultError(b.result.resultId, `HTTP ${r.status}: ${r.message}`));
          else b.resolve();
        });
      } catch (e) {
        for (const b of batch) b.reject(e as Error);
      }
    }
  }
}
