import {
  AckPolicy,
  type ConsumerMessages,
  connect,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
} from 'nats';
import type { Logger } from '../../common/logger.js';
import type { Delivery, DeliverySink, IngestionTransport, TransportHealth } from './transport.js';

export interface NatsTransportOptions {
  /** NATS servers (a cluster: several, the client fails over between them). */
  servers: string[];
  /** JetStream stream holding result messages; created at start when missing. */
  stream: string;
  /** First subject token; results are `<root>.<site>.<line>.<station>.result` (MQTT `diad/…/result`). */
  subjectRoot: string;
  /** Durable pull consumer shared by every control-plane replica. */
  consumer: string;
  /** Stream replicas (3 on a 3-node cluster; 1 on a single server). */
  replicas: number;
  /** How long the stream keeps a result nobody acknowledged. */
  maxAgeSeconds: number;
  /** Stream size limit in bytes (-1: none). When full, new messages are refused, never old ones dropped. */
  maxBytes: number;
  /** How long a delivered message waits for its acknowledgement before it is redelivered. */
  ackWaitSeconds: number;
  /** Messages delivered and not yet acknowledged, over all replicas. */
  maxAckPending: number;
  /** Messages one replica asks for at a time. */
  pullBatch: number;
  user?: string;
  pass?: string;
  /** Agent status messages (`<root>.<site>.<line>.<station>.status`), one replica each (queue group). */
  onStatus?(payload: Uint8Array): Promise<void>;
  log: Logger;
}

/**
 * Ingestion from a NATS JetStream stream (agents publish over NATS' MQTT listener or straight to JetStream).
 *
 * At start it creates the stream (work-queue retention: a message is deleted once acknowledged; file storage;
 * discard new when full) and the durable pull consumer (explicit acks, unlimited redelivery) if they are missing,
 * and leaves existing ones as they are. Every replica pulls from the same durable consumer, so each message goes
 * to one replica and is redelivered to any replica when the one holding it dies before acknowledging. The core
 * acknowledges only after the row is committed.
 */
export class NatsTransport implements IngestionTransport {
  readonly name = 'nats';
  private nc: NatsConnection | null = null;
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private attached = false;
  private lastError: string | undefined;

  constructor(private readonly o: NatsTransportOptions) {}

  get subjects(): string {
    return `${this.o.subjectRoot}.*.*.*.result`;
  }

  async start(sink: DeliverySink): Promise<void> {
    this.nc = await connect({
      servers: this.o.servers,
      user: this.o.user,
      pass: this.o.pass,
      name: `diad-control-plane-${process.pid}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: true,
    });
    void (async () => {
      for await (const s of this.nc!.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect')
          this.o.log.info({ event: s.type, server: s.data }, 'nats connection');
      }
    })().catch(() => {});
    await ensureStreamAndConsumer(await this.nc.jetstreamManager(), this.o, this.subjects);
    if (this.o.onStatus) {
      const onStatus = this.o.onStatus;
      const sub = this.nc.subscribe(`${this.o.subjectRoot}.*.*.*.status`, { queue: this.o.consumer });
      void (async () => {
        for await (const m of sub)
          await onStatus(m.data).catch((err) => this.o.log.warn({ err }, 'agent status not recorded'));
      })();
    }
    this.loop = this.run(sink);
    this.attached = true;
  }

  /** Pulls until stopped; a consumer that goes away (stream leader lost, consumer deleted) is fetched again. */
  private async run(sink: DeliverySink): Promise<void> {
    const js = this.nc!.jetstream();
    while (!this.stopping) {
      try {
        const consumer = await js.consumers.get(this.o.stream, this.o.consumer);
        this.messages = await consumer.consume({ max_messages: this.o.pullBatch });
        this.attached = true;
        for await (const m of this.messages) {
          await sink.deliver(this.delivery(m));
          if (this.stopping) break;
        }
      } catch (err) {
        this.lastError = (err as Error).message;
        if (this.stopping) break;
        this.attached = false;
        this.o.log.warn({ err }, 'nats consumer interrupted; attaching again');
        try {
          await ensureStreamAndConsumer(await this.nc!.jetstreamManager(), this.o, this.subjects);
        } catch {
          // The cluster may be electing a leader: try again after a pause.
        }
      }
      if (!this.stopping) await new Promise((r) => setTimeout(r, 500));
    }
  }

  private delivery(m: JsMsg): Delivery {
    const t = m.subject.split('.');
    const headers: Record<string, string> = {};
    if (m.headers) for (const [k, v] of m.headers) headers[k.toLowerCase()] = v.join(',');
    let settled = false;
    return {
      transport: 'nats',
      topic: m.subject,
      address: t.length === 5 ? { site: t[1], line: t[2], station: t[3] } : undefined,
      payload: m.data,
      headers,
      redelivered: m.redelivered,
      ack: () => {
        if (settled) return;
        settled = true;
        try {
          m.ack();
        } catch {
          // Connection gone: the message is redelivered after AckWait; harmless (idempotent rows).
        }
      },
      nack: () => {
        if (settled) return;
        settled = true;
        try {
          m.nak();
        } catch {
          // As above.
        }
      },
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    await this.loop?.catch(() => {});
    this.attached = false;
    // drain() flushes the acknowledgements already sent before closing.
    await this.nc?.drain().catch(() => this.nc?.close());
  }

  health(): TransportHealth {
    return {
      attached: this.attached && !!this.nc && !this.nc.isClosed(),
      detail: `${this.o.servers.join(',')} stream ${this.o.stream} consumer ${this.o.consumer}${this.lastError ? ` (last error: ${this.lastError})` : ''}`,
    };
  }
}

function notFound(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number }; message?: string };
  return (
    e.api_error?.err_code === 10059 || e.api_error?.err_code === 10014 || /not found/i.test(e.message ?? '')
  );
}

/** Creates the stream and the durable consumer when missing; existing ones are left unchanged. Idempotent. */
export async function ensureStreamAndConsumer(
  jsm: JetStreamManager,
  o: Pick<
    NatsTransportOptions,
    'stream' | 'consumer' | 'replicas' | 'maxAgeSeconds' | 'maxBytes' | 'ackWaitSeconds' | 'maxAckPending'
  >,
  subjects: string,
): Promise<{ createdStream: boolean; createdConsumer: boolean }> {
  let createdStream = false;
  let createdConsumer = false;
  try {
    await jsm.streams.info(o.stream);
  } catch (err) {
    if (!notFound(err)) throw err;
    try {
      await jsm.streams.add({
        name: o.stream,
        subjects: [subjects],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        num_replicas: o.replicas,
        max_age: nanos(o.maxAgeSeconds * 1000),
        max_bytes: o.maxBytes,
        discard: DiscardPolicy.New,
        duplicate_window: nanos(120_000),
      });
      createdStream = true;
    } catch (e) {
      // Another replica created it meanwhile.
      await jsm.streams.info(o.stream).catch(() => {
        throw e;
      });
    }
  }
  try {
    await jsm.consumers.info(o.stream, o.consumer);
  } catch (err) {
    if (!notFound(err)) throw err;
    try {
      await jsm.consumers.add(o.stream, {
        durable_name: o.consumer,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(o.ackWaitSeconds * 1000),
        max_ack_pending: o.maxAckPending,
        max_deliver: -1,
      });
      createdConsumer = true;
    } catch (e) {
      await jsm.consumers.info(o.stream, o.consumer).catch(() => {
        throw e;
      });
    }
  }
  return { createdStream, createdConsumer };
}
