import type { InspectionResult } from '@diad/protocol';
import type { Logger } from 'pino';
import { backoffDelay, type Clock } from '../clock.js';
import { type Outbox, RefusedResultError } from './types.js';

/** A sink error that means the receiver answered but did not take the result (MQTT 5 PUBACK 0x10, >= 0x80). */
function refusalReason(err: Error): string | null {
  if (err.name !== 'PublishRefusedError') return null;
  const r = (err as Error & { reason?: unknown }).reason;
  return typeof r === 'string' ? r : 'refused';
}

/** Where results go: resolves once the receiver acknowledged (MQTT PUBACK). */
export interface ResultSink {
  readonly connected: boolean;
  publishResult(result: InspectionResult): Promise<void>;
  on(event: 'up' | 'down', fn: () => void): unknown;
  off(event: 'up' | 'down', fn: () => void): unknown;
}

export interface DrainerOptions {
  outbox: Outbox;
  /** Drain only this station's results (one drainer per station keeps each station independent and in order). */
  station?: string;
  sink: ResultSink;
  clock: Clock;
  backoff: { initialMs: number; maxMs: number };
  /** Publishes awaiting acknowledgement at once. */
  inflight: number;
  logger: Logger;
  random?: () => number;
  onAcked?: (n: number, latencyMs: number) => void;
  /** After acknowledged entries were deleted (outbox gauges, alarm). */
  onDeleted?: () => void;
  onFailure?: (err: Error) => void;
  /** A result the receiver refused for good (set aside in the outbox). */
  onRefused?: (err: RefusedResultError) => void;
  /** The broker refused a publish (reason label, e.g. no_matching_subscribers); the entry stays in the outbox. */
  onBrokerRefused?: (reason: string) => void;
}

/**
 * Drains the outbox at least once, in outbox order, with a window of unacknowledged publishes. A failed publish
 * stops the window, waits for everything in flight to settle, then rewinds to the oldest undelivered entry
 * after an exponential backoff with jitter. Entries are deleted only after acknowledgement.
 */
export class OutboxDrainer {
  private lastSent = 0;
  private inflight = 0;
  private failed = false;
  private attempt = 0;
  private timer: unknown = null;
  private running = false;
  private idle: (() => void)[] = [];
  private acked: number[] = [];
  private flushScheduled = false;
  /**
   * After a refusal, send one entry at a time until one is taken again: while nobody subscribes, a full window
   * would be refused anyway, and a subscriber that attaches mid-window could take later entries before the
   * refused earlier one is resent (out of order). Probing with one keeps per-station order across that moment.
   */
  private probing = false;
  /** One warning per run of refusals (each retry is logged by the backoff warning anyway). */
  private refusalLogged = false;
  private readonly onUp = () => this.kick();

  constructor(private readonly o: DrainerOptions) {}

  start() {
    this.running = true;
    this.o.sink.on('up', this.onUp);
    this.kick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.o.sink.off('up', this.onUp);
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    while (this.inflight > 0) await new Promise<void>((r) => this.idle.push(r));
    this.flushAcks();
  }

  /** New results were stored, or the sink came back: send what fits in the window. */
  kick() {
    if (!this.running || this.failed || this.timer || !this.o.sink.connected) return;
    const room = (this.probing ? 1 : this.o.inflight) - this.inflight;
    if (room <= 0) return;
    const batch = this.o.outbox.peek(room, this.lastSent, this.o.station);
    for (const e of batch) {
      this.lastSent = e.seq;
      this.inflight++;
      const t0 = performance.now();
      this.o.sink.publishResult(e.result).then(
        () => {
          this.ackLater(e.seq);
          this.attempt = 0;
          this.probing = false;
          this.refusalLogged = false;
          this.o.onAcked?.(1, performance.now() - t0);
          this.settle();
        },
        (err: Error) => {
          if (err instanceof RefusedResultError) {
            // A poison result: set it aside with the reason and keep delivering the others.
            this.o.outbox.setAside(e.seq, err.reason);
            this.o.onRefused?.(err);
            this.o.logger.error(
              { station: this.o.station, resultId: err.resultId, reason: err.reason },
              'result refused; set aside',
            );
            this.settle();
            return;
          }
          this.failed = true;
          const reason = refusalReason(err);
          if (reason) {
            this.probing = true;
            this.o.onBrokerRefused?.(reason);
            if (!this.refusalLogged)
              this.o.logger.warn(
                { station: this.o.station, resultId: e.result.resultId, reason },
                'broker refused the result (not delivered); it stays in the outbox and is retried',
              );
            this.refusalLogged = true;
          }
          this.o.onFailure?.(err);
          this.settle();
        },
      );
    }
  }

  /**
   * Deletes acknowledged entries in one transaction per event-loop turn: one fsync for a burst of PUBACKs
   * instead of one each. A delete lost in a crash only means that result is sent again (at least once).
   */
  private ackLater(seq: number) {
    this.acked.push(seq);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushAcks());
  }

  private flushAcks() {
    this.flushScheduled = false;
    const batch = this.acked.splice(0);
    if (batch.length) this.o.outbox.ack(batch);
    this.o.onDeleted?.();
  }

  private settle() {
    this.inflight--;
    if (this.inflight === 0) {
      for (const r of this.idle.splice(0)) r();
    }
    if (this.failed) {
      if (this.inflight > 0 || this.timer || !this.running) return;
      // Everything in flight has settled: restart from the oldest undelivered entry after a backoff.
      this.flushAcks();
      this.lastSent = 0;
      const delay = backoffDelay(
        this.attempt++,
        this.o.backoff.initialMs,
        this.o.backoff.maxMs,
        this.o.random,
      );
      this.o.logger.warn(
        { station: this.o.station, retryInMs: delay },
        'publish failed; retrying from the outbox',
      );
      this.timer = this.o.clock.setTimeout(() => {
        this.timer = null;
        this.failed = false;
        this.kick();
      }, delay);
      return;
    }
    this.kick();
  }
}
