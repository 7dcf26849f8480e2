import { InspectionResult } from '@diad/protocol';
import type { Logger } from '../../common/logger.js';
import type { Metrics } from '../../common/metrics.js';
import type { DeviceAddress } from '../../fleet/device-directory.js';
import { outOfRange } from '../result-row.js';
import type {
  Delivery,
  DeliverySink,
  IngestionTransport,
  Refusal,
  ResultCheck,
  TransportHealth,
} from './transport.js';

export interface IngestionCoreDeps {
  /** Inserts the rows in one committed statement; resolves with the ids actually inserted (not duplicates). */
  insert(results: InspectionResult[]): Promise<Set<string>>;
  /** True when the database answers: tells a row the database refuses from an outage. */
  healthy(): Promise<boolean>;
  lookupDevice(deviceId: string): Promise<DeviceAddress | undefined>;
  /** Called with what was committed (new rows only), e.g. for the live stream. */
  onCommitted?(results: InspectionResult[]): void;
  metrics: Metrics;
  log: Logger;
  /** Extra validation steps run after the built-in ones (e.g. signature verification). */
  checks?: ResultCheck[];
  batchSize: number;
  /** Longest a result waits for more to fill its batch; 0: group commit (write whenever the writer is free). */
  flushMs: number;
  /** Deliveries held in memory (buffered + being written) before `deliver` waits; default 4 × batchSize. */
  maxBuffered?: number;
  sleep?(ms: number): Promise<void>;
  now?(): number;
}

interface Pending {
  result: InspectionResult;
  delivery: Delivery;
}

/**
 * The transport-independent ingestion core: validate → buffer → commit a batch → only then acknowledge every
 * delivery of the batch. A delivery refused for good (invalid JSON or schema, unknown device, wrong topic, a
 * failing extra check) is acknowledged at once and counted by reason. While the database is down a batch is
 * retried with backoff (nothing acknowledged; `deliver` pushes back once the buffer is full); at shutdown what
 * cannot be committed is handed back with `nack()`.
 */
export class IngestionCore implements DeliverySink {
  private pending: Pending[] = [];
  private writing = 0;
  private timer: NodeJS.Timeout | null = null;
  private soon = false;
  private chain: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];
  private stopping = false;
  private readonly transports: IngestionTransport[] = [];
  private readonly checks: ResultCheck[];
  private readonly maxBuffered: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  /** Time of the last commit of at least one delivery (any transport), or of start-up. */
  lastCommitAt: number;

  constructor(private readonly d: IngestionCoreDeps) {
    if (!Number.isInteger(d.batchSize) || d.batchSize < 1)
      throw new RangeError(`IngestionCore: batchSize: expected ≥ 1, got ${d.batchSize}`);
    this.checks = [...(d.checks ?? [])];
    this.maxBuffered = d.maxBuffered ?? 4 * d.batchSize;
    this.sleep = d.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = d.now ?? Date.now;
    this.lastCommitAt = this.now();
  }

  /** Adds a validation step (run in the order added, after the built-in ones). */
  addCheck(check: ResultCheck): void {
    this.checks.push(check);
  }

  attach(t: IngestionTransport): void {
    this.transports.push(t);
  }

  async start(): Promise<void> {
    for (const t of this.transports) await t.start(this);
  }

  health(): Array<TransportHealth & { name: string }> {
    return this.transports.map((t) => ({ name: t.name, ...t.health() }));
  }

  /** Deliveries taken in and not yet settled. */
  get inFlight(): number {
    return this.pending.length + this.writing;
  }

  async deliver(delivery: Delivery): Promise<void> {
    if (this.stopping) {
      delivery.nack();
      return;
    }
    let verdict: Refusal | InspectionResult;
    try {
      verdict = await this.validate(delivery);
    } catch (err) {
      // A check that could not decide (e.g. a key store unreachable): not a refusal; let the broker redeliver.
      this.d.log.warn({ err, topic: delivery.topic }, 'result validation failed; handed back');
      this.d.metrics.resultsHandedBack.inc({ transport: delivery.transport, cause: 'check-failed' });
      delivery.nack();
      return;
    }
    if ('reason' in verdict) {
      this.d.metrics.resultsRejected.inc({ transport: delivery.transport, reason: verdict.reason });
      this.d.log.debug(
        { topic: delivery.topic, reason: verdict.reason, detail: verdict.detail },
        'result refused',
      );
      delivery.ack();
      return;
    }
    if (this.stopping) {
      delivery.nack();
      return;
    }
    this.pending.push({ result: verdict, delivery });
    if (this.pending.length >= this.d.batchSize) this.flush();
    else if (this.d.flushMs > 0) this.timer ??= setTimeout(() => this.flush(), this.d.flushMs);
    else if (!this.soon) {
      // Group commit: write as soon as the writer is free; what arrives during a write goes in the next batch.
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        if (this.writing === 0) this.flush();
      });
    }
    if (this.inFlight >= this.maxBuffered) await new Promise<void>((r) => this.waiters.push(r));
  }

  private async validate(d: Delivery): Promise<Refusal | InspectionResult> {
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength).toString());
    } catch {
      return { reason: 'invalid-json' };
    }
    const r = InspectionResult.safeParse(json);
    if (!r.success) return { reason: 'invalid', detail: r.error.issues[0]?.message };
    const res = r.data;
    const range = outOfRange(res);
    if (range) return { reason: 'out-of-range', detail: range };
    const a = d.address;
    if (a && (a.site !== res.site || a.line !== res.line || a.station !== res.station))
      return { reason: 'topic-mismatch' };
    const dev = await this.d.lookupDevice(res.deviceId);
    if (!dev || dev.disabled) return { reason: 'unknown-device' };
    if (dev.site !== res.site || dev.line !== res.line || dev.station !== res.station)
      return { reason: 'address-mismatch' };
    for (const check of this.checks) {
      const refusal = await check(res, d);
      if (refusal) return refusal;
    }
    return res;
  }

  /** Queues what is buffered for writing; resolves when it (and everything before it) is settled. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return this.chain;
    this.writing += batch.length;
    this.chain = this.chain.then(async () => {
      try {
        await this.commit(batch);
      } catch (err) {
        // Not expected (commit handles its errors); never acknowledge what was not written.
        this.d.log.error({ err }, 'ingestion batch failed; handed back');
        for (const p of batch) p.delivery.nack();
      } finally {
        this.writing -= batch.length;
        this.release();
        if (this.d.flushMs === 0 && this.pending.length > 0 && this.writing === 0) this.flush();
      }
    });
    return this.chain;
  }

  private release(): void {
    while (this.waiters.length && this.inFlight < this.maxBuffered) this.waiters.shift()!();
    if (this.stopping) for (const w of this.waiters.splice(0)) w();
  }

  private async commit(batch: Pending[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const end = this.d.metrics.ingestBatchSeconds.startTimer();
        const ids = await this.d.insert(batch.map((p) => p.result));
        end();
        this.settle(batch, ids);
        return;
      } catch (err) {
        if (await this.d.healthy().catch(() => false)) {
          // The database is up and refuses this batch: find the row(s) it refuses, keep the others.
          if (batch.length === 1) {
            this.d.log.error({ err, resultId: batch[0].result.resultId }, 'database refused a result');
            this.d.metrics.resultsRejected.inc({
              transport: batch[0].delivery.transport,
              reason: 'database-refused',
            });
            batch[0].delivery.ack();
            return;
          }
          for (const p of batch) await this.commit([p]);
          return;
        }
        if (this.stopping) {
          this.d.log.warn({ results: batch.length }, 'database unreachable at shutdown: results handed back');
          for (const p of batch) {
            this.d.metrics.resultsHandedBack.inc({ transport: p.delivery.transport, cause: 'shutdown' });
            p.delivery.nack();
          }
          return;
        }
        this.d.log.warn({ err, attempt, results: batch.length }, 'writing results failed; retrying');
        await this.sleep(Math.min(5000, 100 * 2 ** Math.min(attempt - 1, 6)));
      }
    }
  }

  private settle(batch: Pending[], inserted: Set<string>): void {
    const byTransport = new Map<string, { stored: number; dup: number }>();
    const fresh: InspectionResult[] = [];
    const seen = new Set<string>();
    for (const p of batch) {
      const c = byTransport.get(p.delivery.transport) ?? { stored: 0, dup: 0 };
      const id = p.result.resultId;
      if (inserted.has(id) && !seen.has(id)) {
        c.stored++;
        seen.add(id);
        fresh.push(p.result);
      } else c.dup++;
      byTransport.set(p.delivery.transport, c);
    }
    this.lastCommitAt = this.now();
    // Acknowledge only now: every row of the batch is committed.
    for (const p of batch) p.delivery.ack();
    for (const [transport, c] of byTransport) {
      if (c.stored) this.d.metrics.resultsIngested.inc({ transport }, c.stored);
      if (c.dup) this.d.metrics.resultsDuplicate.inc({ transport }, c.dup);
    }
    this.d.metrics.lastCommitSeconds.set(this.lastCommitAt / 1000);
    if (fresh.length) this.d.onCommitted?.(fresh);
  }

  /**
   * Shutdown: refuses new deliveries (handed back), commits what is buffered (or hands it back if the database is
   * down), then stops the transports, which close their connections without acknowledging anything else.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.flush();
    this.release();
    for (const t of this.transports) {
      try {
        await t.stop();
      } catch (err) {
        this.d.log.warn({ err, transport: t.name }, 'stopping an ingestion transport failed');
      }
    }
  }
}
