import { TOPIC_ROOT } from '@diad/protocol';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from '../../common/logger.js';
import type { Metrics } from '../../common/metrics.js';
import type { Delivery, DeliverySink, IngestionTransport, TransportHealth } from './transport.js';

export interface MqttTransportOptions {
  url: string;
  protocolVersion: 4 | 5;
  /** Stable per replica: the broker keeps the session (subscriptions, queued and in-flight messages). */
  clientId: string;
  /** false (default): persistent session. */
  clean: boolean;
  sessionExpirySeconds: number;
  username?: string;
  password?: string;
  /** Shared-subscription group; '' subscribes without $share (one replica, or brokers without it). */
  group: string;
  /** Canary interval; 0 turns the liveness probe off. */
  probeMs: number;
  /** Delay between reconnect attempts. */
  reconnectMs: number;
  /** Agent status messages (acknowledged when this resolves or fails: status is advisory). */
  onStatus(topic: string, payload: Buffer): Promise<void>;
  metrics: Metrics;
  log: Logger;
}

/** Handed to mqtt.js instead of an error-free callback: tells it to send no PUBACK (we send it after commit). */
class DeferredAck extends Error {}
const DEFERRED = new DeferredAck('acknowledged after commit');

const CANARY_SITE = '_canary';

/**
 * Results over MQTT: a persistent session subscribed (every connect, whatever the session-present flag says) to
 * `$share/<group>/diad/+/+/+/result` and the status topics. A result's PUBACK is sent only when the ingestion core
 * acknowledges the delivery, i.e. after its row is committed; a delivery of an earlier connection is never
 * acknowledged on a later one (the broker redelivers it, and the duplicate is harmless).
 *
 * Liveness probe: every `probeMs` the transport publishes a canary to `diad/_canary/<clientId>/probe/result`,
 * which the shared subscription routes to some replica of the group; the replica that gets someone else's canary
 * echoes it to `diad/_canary/<sender>/echo`. A canary not back (directly or as an echo) one interval later means
 * the group's subscription is not delivering: the transport subscribes again, counts it, logs it, and reports it
 * in its health until a canary comes back.
 */
export class MqttTransport implements IngestionTransport {
  readonly name = 'mqtt';
  private client: MqttClient | null = null;
  private sink: DeliverySink | null = null;
  private generation = 0;
  private connected = false;
  private subscribed = false;
  /**
   * Results are arriving on this connection from the broker's stored session. After a restart with a backlog, the
   * broker sends the queued messages before it answers our SUBSCRIBE, and we read packets in order (each result is
   * buffered before the next is read), so the SUBACK can wait behind thousands of results: those results prove the
   * session's subscription works, and the transport counts as attached meanwhile.
   */
  private delivering = false;
  private subscribing = false;
  private lastError: string | undefined;
  private stalled: string | undefined;
  private probeTimer: NodeJS.Timeout | null = null;
  private canarySeq = 0;
  private outstanding: { seq: number; sentAt: number } | null = null;
  private readonly resultFilter: string;
  private readonly statusFilter: string;
  private readonly echoTopic: string;
  private readonly canaryTopic: string;

  constructor(private readonly o: MqttTransportOptions) {
    const share = (f: string) => (o.group ? `$share/${o.group}/${f}` : f);
    this.resultFilter = share(`${TOPIC_ROOT}/+/+/+/result`);
    this.statusFilter = share(`${TOPIC_ROOT}/+/+/+/status`);
    this.canaryTopic = `${TOPIC_ROOT}/${CANARY_SITE}/${o.clientId}/probe/result`;
    this.echoTopic = `${TOPIC_ROOT}/${CANARY_SITE}/${o.clientId}/echo`;
  }

  health(): TransportHealth {
    return {
      attached: this.connected && (this.subscribed || this.delivering),
      stalled: this.stalled,
      detail: this.connected
        ? this.subscribed
          ? `subscribed to ${this.resultFilter} on ${this.o.url}`
          : this.delivering
            ? `delivering from the stored session on ${this.o.url}; SUBACK not yet read (queued results ahead of it)`
            : `connected to ${this.o.url}, subscription not confirmed${this.lastError ? `: ${this.lastError}` : ''}`
        : `not connected to ${this.o.url}${this.lastError ? `: ${this.lastError}` : ''}`,
    };
  }

  async start(sink: DeliverySink): Promise<void> {
    this.sink = sink;
    const o = this.o;
    const client = mqtt.connect(o.url, {
      protocolVersion: o.protocolVersion,
      clientId: o.clientId,
      clean: o.clean,
      ...(o.protocolVersion === 5
        ? {
            properties: {
              ...(o.clean ? {} : { sessionExpiryInterval: o.sessionExpirySeconds }),
              // In-flight results awaiting their commit; the core's buffer bounds what we hold.
              receiveMaximum: 65535,
            },
          }
        : {}),
      username: o.username,
      password: o.password,
      reconnectPeriod: o.reconnectMs,
      connectTimeout: 10_000,
      // We subscribe ourselves on every connect and check the SUBACK.
      resubscribe: false,
      // Never queue packets (our PUBACKs above all) for a later connection.
      queueQoSZero: false,
    });
    this.client = client;
    client.handleMessage = (packet, done) => this.onPublish(packet, done);
    let first = true;
    client.on('connect', (ack) => {
      this.generation++;
      this.connected = true;
      this.subscribed = false;
      this.delivering = false;
      this.outstanding = null;
      o.metrics.mqttConnected.set(1);
      if (!o.clean && !ack.sessionPresent && !first) {
        o.metrics.mqttSessionLost.inc();
        o.log.warn(
          { clientId: o.clientId },
          'MQTT broker had no session for this replica: results published while it was away may not have been queued for it',
        );
      }
      o.log.info({ url: o.url, sessionPresent: ack.sessionPresent, clientId: o.clientId }, 'MQTT connected');
      first = false;
      void this.subscribe(this.generation);
    });
    client.on('close', () => {
      if (this.connected) o.log.warn({ url: o.url }, 'MQTT connection closed');
      this.connected = false;
      this.subscribed = false;
      this.delivering = false;
      o.metrics.mqttConnected.set(0);
    });
    client.on('error', (err) => {
      this.lastError = err.message;
      o.log.warn({ err: err.message }, 'MQTT error');
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const check = setInterval(() => {
          if (this.subscribed || this.delivering) done();
        }, 20);
        const t = setTimeout(() => {
          if (this.connected) {
            // Connected but the SUBACK has not come yet: not a reason to exit (a restarted replica would only come
            // back to the same backlog). The subscription keeps being retried and /readyz reports it meanwhile.
            o.log.warn({ url: o.url }, 'MQTT subscription not confirmed within 15 s; still trying');
            done();
          } else
            done(
              new Error(
                `MQTT: no connection to ${o.url} within 15 s${this.lastError ? ` (${this.lastError})` : ''}`,
              ),
            );
        }, 15_000);
        t.unref?.();
        function done(err?: Error) {
          clearTimeout(t);
          clearInterval(check);
          if (err) reject(err);
          else resolve();
        }
      });
    } catch (e) {
      this.client = null;
      await client.endAsync(true);
      throw e;
    }
    if (o.probeMs > 0) {
      this.probeTimer = setInterval(() => this.probe(), o.probeMs);
      this.probeTimer.unref();
    }
  }

  /** Subscribes (again) on the current connection and checks the broker granted every filter. */
  private async subscribe(gen: number): Promise<void> {
    const c = this.client;
    if (!c || this.subscribing) return;
    this.subscribing = true;
    try {
      for (let attempt = 1; c === this.client && gen === this.generation && this.connected; attempt++) {
        try {
          const granted = await c.subscribeAsync([this.resultFilter, this.statusFilter, this.echoTopic], {
            qos: 1,
          });
          const refused = granted.filter((g) => g.qos > 2);
          if (refused.length) throw new Error(`SUBACK refused ${refused.map((g) => g.topic).join(', ')}`);
          if (gen !== this.generation) return;
          this.subscribed = true;
          this.lastError = undefined;
          return;
        } catch (err) {
          this.lastError = (err as Error).message;
          this.o.metrics.mqttSubscribeFailures.inc();
          this.o.log.error({ err: (err as Error).message, attempt }, 'MQTT subscribe failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
        }
      }
    } finally {
      this.subscribing = false;
    }
  }

  private onPublish(packet: IPublishPacket, done: (err?: Error) => void): void {
    const topic = packet.topic;
    const parts = topic.split('/');
    if (parts[1] === CANARY_SITE) {
      this.onCanary(parts, packet.payload as Buffer);
      done();
      return;
    }
    // Only the group's subscription routes results and status to us: their arrival proves it (see `delivering`).
    if (parts[4] === 'result' || parts[4] === 'status') this.delivering = true;
    if (parts[4] === 'status') {
      this.o.onStatus(topic, packet.payload as Buffer).then(
        () => done(),
        (err) => {
          this.o.log.warn({ err, topic }, 'agent status not recorded');
          done();
        },
      );
      return;
    }
    if (parts[4] !== 'result' || packet.qos === 0 || packet.messageId === undefined) {
      // QoS 0 results cannot be acknowledged after commit; they are taken as they come.
      if (parts[4] === 'result' && this.sink) void this.sink.deliver(this.delivery(packet, parts, null));
      done();
      return;
    }
    const gen = this.generation;
    const messageId = packet.messageId;
    const d = this.delivery(packet, parts, () => this.puback(gen, messageId));
    // No PUBACK now (DEFERRED); mqtt.js reads the next packet once `deliver` has buffered this one (back-pressure).
    this.sink!.deliver(d).then(
      () => done(DEFERRED),
      () => done(DEFERRED),
    );
  }

  private delivery(packet: IPublishPacket, parts: string[], ack: (() => void) | null): Delivery {
    let settled = false;
    const props = packet.properties?.userProperties;
    const headers: Record<string, string> | undefined = props
      ? Object.fromEntries(
          Object.entries(props).map(([k, v]) => [
            k.toLowerCase(),
            Array.isArray(v) ? v.join(',') : String(v),
          ]),
        )
      : undefined;
    return {
      transport: 'mqtt',
      topic: packet.topic,
      address: parts.length === 5 ? { site: parts[1], line: parts[2], station: parts[3] } : undefined,
      payload: packet.payload as Buffer,
      headers,
      redelivered: packet.dup,
      ack: () => {
        if (settled) return;
        settled = true;
        ack?.();
      },
      nack: () => {
        // MQTT has no negative acknowledgement: no PUBACK means the broker redelivers on the next connection.
        settled = true;
      },
    };
  }

  private puback(gen: number, messageId: number): void {
    const c = this.client;
    // A packet id belongs to one connection; on a later one it may name another message.
    if (!c || gen !== this.generation || !this.connected) return;
    (c as unknown as { _sendPacket(p: object, cb?: () => void): void })._sendPacket(
      { cmd: 'puback', messageId, reasonCode: 0 },
      () => {},
    );
  }

  private probe(): void {
    const c = this.client;
    if (!c || !this.connected || !this.subscribed) return;
    const now = Date.now();
    if (this.outstanding) {
      const missed = this.outstanding;
      this.outstanding = null;
      const reason = `MQTT canary ${missed.seq} did not come back through ${this.resultFilter} within ${this.o.probeMs} ms`;
      this.stalled = reason;
      this.o.metrics.mqttCanaryMissed.inc();
      this.o.metrics.mqttResubscribes.inc();
      this.o.log.error({ clientId: this.o.clientId }, `${reason}: subscribing again`);
      this.subscribed = false;
      void this.subscribe(this.generation);
      return;
    }
    const seq = ++this.canarySeq;
    this.outstanding = { seq, sentAt: now };
    c.publish(
      this.canaryTopic,
      JSON.stringify({ canary: true, replica: this.o.clientId, seq, sentAt: now }),
      { qos: 1 },
      () => {},
    );
  }

  private onCanary(parts: string[], payload: Buffer): void {
    let msg: { replica?: string; seq?: number; sentAt?: number };
    try {
      msg = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    const replica = parts[2];
    if (parts[3] === 'probe' && replica !== this.o.clientId) {
      // Someone else's canary reached us through the shared subscription: the group delivers; tell the sender.
      this.client?.publish(`${TOPIC_ROOT}/${CANARY_SITE}/${replica}/echo`, payload, { qos: 0 }, () => {});
      return;
    }
    const out = this.outstanding;
    if (replica !== this.o.clientId || !out || msg.seq !== out.seq) return;
    this.o.metrics.mqttCanaryLatency.observe((Date.now() - out.sentAt) / 1000);
    this.outstanding = null;
    if (this.stalled) {
      this.o.log.info({ clientId: this.o.clientId }, 'MQTT subscription delivering again (canary back)');
      this.stalled = undefined;
    }
  }

  /** For tests: drops this replica's result subscription behind its back (as a broker restart can). */
  async dropSubscriptionForTest(): Promise<void> {
    await this.client?.unsubscribeAsync(this.resultFilter);
  }

  async stop(): Promise<void> {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
    const c = this.client;
    this.client = null;
    this.connected = false;
    this.subscribed = false;
    this.o.metrics.mqttConnected.set(0);
    // A DISCONNECT without UNSUBSCRIBE: the persistent session keeps the subscription and queues for us.
    if (c) await c.endAsync().catch(() => {});
  }
}
