import { EventEmitter } from 'node:events';
import { InspectionResult, type StationAddress, topics } from '@diad/protocol';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { ResultSink } from '../outbox/drainer.js';

export interface JetStreamSinkOptions {
  servers: string[];
  user?: string;
  password?: string;
  address: StationAddress;
  logger: Logger;
  /** How long to wait for the stream's publish acknowledgement before the outbox retries. */
  ackTimeoutMs?: number;
  /** Signs a result with the device key, as on MQTT (the control plane verifies it at ingestion). */
  sign?: <T extends object>(payload: T) => T;
}

/**
 * Results published straight into NATS JetStream, for a site broker that is a NATS cluster.
 *
 * NATS' MQTT listener (2.9) sends the QoS 1 PUBACK without waiting for JetStream: a message the stream refuses
 * (full with discard new, no quorum while a leader is elected) is acknowledged all the same and lost, and the
 * agent's outbox has already deleted it. A JetStream publish resolves only with the stream's acknowledgement
 * (stored, on a quorum of replicas), so the outbox deletes an entry only once it is stored. The message id header
 * (`Nats-Msg-Id` = result id) lets the stream drop a resend inside its duplicate window; the control plane's
 * idempotent insert handles the rest. The subject is the MQTT result topic with '/' as '.'.
 */
export class JetStreamSink extends EventEmitter<{ up: []; down: [] }> implements ResultSink {
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private up = false;
  private closed = false;
  readonly subject: string;

  constructor(private readonly o: JetStreamSinkOptions) {
    super();
    this.subject = topics.result(o.address).replaceAll('/', '.');
  }

  get connected(): boolean {
    return this.up;
  }

  /** Connects in the background, retrying for ever; 'up' once connected. */
  start(): void {
    void this.connectLoop();
  }

  /**
   * Logs in with another user and password (the broker login handed out at enrolment): a live connection is drained
   * and made again with the new login.
   */
  setCredentials(user: string | undefined, password: string | undefined): void {
    if (this.o.user === user && this.o.password === password) return;
    this.o.user = user;
    this.o.password = password;
    const nc = this.nc;
    if (nc) void nc.drain().catch(() => nc.close());
  }

  private async connectLoop(): Promise<void> {
    // One pass per connection: a connection closed for new credentials (setCredentials) is made again.
    while (!this.closed) {
      while (!this.closed && !this.nc) {
        try {
          this.nc = await connect({
            servers: this.o.servers,
            user: this.o.user,
            pass: this.o.password,
            maxReconnectAttempts: -1,
            reconnectTimeWait: 500,
            name: `diad-agent-${this.o.address.station}`,
          });
        } catch (err) {
          this.o.logger.warn({ err }, 'nats: connect failed; retrying');
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      const nc = this.nc;
      if (!nc) return;
      this.js = nc.jetstream({ timeout: this.o.ackTimeoutMs ?? 10_000 });
      this.setUp(true);
      // The status iterator does not end when the connection closes: it is stopped below.
      const status = nc.status();
      void (async () => {
        for await (const s of status) {
          if (s.type === 'disconnect') this.setUp(false);
          if (s.type === 'reconnect') this.setUp(true);
        }
      })();
      await nc.closed();
      (status as { stop?: () => void }).stop?.();
      this.setUp(false);
      if (this.nc === nc) {
        this.nc = null;
        this.js = null;
      }
    }
  }

  private setUp(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    this.emit(up ? 'up' : 'down');
  }

  async publishResult(result: InspectionResult): Promise<void> {
    const parsed = InspectionResult.safeParse(result);
    if (!parsed.success) throw new TypeError(`result ${result.resultId}: ${parsed.error.issues[0].message}`);
    if (!this.js) throw new Error('nats: not connected');
    // Rejects unless the stream stored it (no stream, stream full, no quorum, timeout).
    const payload = this.o.sign ? this.o.sign(parsed.data) : parsed.data;
    await this.js.publish(this.subject, JSON.stringify(payload), { msgID: parsed.data.resultId });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.setUp(false);
    await this.nc?.drain().catch(() => this.nc?.close());
  }
}
