import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { backoffDelay, type Clock } from '../clock.js';

export interface MqttLinkOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  keepaliveS?: number;
  /**
   * 5 (MQTT 5) lets the broker refuse a publish in its PUBACK (0x10 "no matching subscribers", >= 0x80
   * errors): publish() then rejects with PublishRefusedError. 4 (MQTT 3.1.1, the default of this class) for
   * brokers without MQTT 5; a 3.1.1 PUBACK carries no reason, so every PUBACK counts as delivered.
   */
  protocolVersion?: 4 | 5;
  backoff: { initialMs: number; maxMs: number };
  /** Last will, computed at each connect. */
  will?: () => { topic: string; payload: Buffer | string; retain: boolean; qos: 0 | 1 };
  /** Called after each successful connect, before publishing resumes (birth messages). */
  onConnect?: (link: MqttLink) => Promise<void> | void;
  /** Topics subscribed (QoS 1) on every connect, before onConnect runs. */
  subscribe?: string[];
  onMessage?: (topic: string, payload: Buffer) => void;
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

/** PUBACK reason codes (MQTT 5) that mean the broker did not take the message for delivery. */
export const REFUSAL_REASONS: Record<number, string> = {
  16: 'no_matching_subscribers',
  128: 'unspecified_error',
  131: 'implementation_specific_error',
  135: 'not_authorized',
  144: 'topic_name_invalid',
  145: 'packet_identifier_in_use',
  151: 'quota_exceeded',
  153: 'payload_format_invalid',
};

/** The broker answered a QoS 1 publish with a PUBACK that says it was not delivered (0x10 or >= 0x80). */
export class PublishRefusedError extends Error {
  override readonly name = 'PublishRefusedError';
  readonly reason: string;
  constructor(readonly reasonCode: number) {
    const reason = REFUSAL_REASONS[reasonCode] ?? `0x${reasonCode.toString(16).padStart(2, '0')}`;
    super(`mqtt: publish refused by the broker (PUBACK 0x${reasonCode.toString(16)} ${reason})`);
    this.reason = reason;
  }
}

/** True for the PUBACK reason codes that mean "not delivered". */
export function isRefusal(reasonCode: number | undefined): reasonCode is number {
  return reasonCode === 0x10 || (reasonCode !== undefined && reasonCode >= 0x80);
}

/**
 * One MQTT connection with our own reconnect loop (exponential backoff + jitter on the injected clock).
 * Each attempt uses a fresh mqtt.js client, so messages that were in flight when a connection died are
 * failed back to the caller (which republishes them from the outbox) and never also resent by mqtt.js
 * from its own store: that is what keeps the normal reconnect path free of duplicates.
 */
export class MqttLink extends EventEmitter<{ up: []; down: [] }> {
  private client: MqttClient | null = null;
  private attempt = 0;
  private timer: unknown = null;
  private closed = false;
  private up = false;
  /** PUBACK reason codes seen on the current client, by message id, until the publish callback reads them. */
  private pubackCodes = new Map<number, number>();

  constructor(private readonly o: MqttLinkOptions) {
    super();
  }

  get connected(): boolean {
    return this.up && !!this.client?.connected;
  }

  start() {
    this.closed = false;
    this.connectOnce();
  }

  /**
   * Logs in with another user name and password from the next connection on (the broker login handed out at
   * enrolment). A live connection is closed cleanly (no last will) and made again with the new login at once.
   */
  setCredentials(username: string | undefined, password: string | undefined) {
    if (this.o.username === username && this.o.password === password) return;
    this.o.username = username;
    this.o.password = password;
    if (this.closed) return;
    const c = this.client;
    if (c) {
      // 'close' runs fail(), which schedules the reconnect; the attempt counter starts over.
      this.attempt = 0;
      c.end(false);
    } else this.retryNow();
  }

  /** Skips the remaining backoff and tries now (tests, and "broker is back" hints). */
  retryNow() {
    if (this.closed || this.client) return;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    this.connectOnce();
  }

  publish(topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    const c = this.client;
    if (!c || !this.connected) return Promise.reject(new Error('mqtt: not connected'));
    return this.publishOn(c, topic, payload, opts);
  }

  /** The protocol level in use: 5 or 4. */
  get protocolVersion(): 4 | 5 {
    return this.o.protocolVersion ?? 4;
  }

  /**
   * Publishes on one client. mqtt.js resolves a PUBACK with 0x10 as success and hands the callback the stored
   * PUBLISH rather than the PUBACK, so the reason code comes from the 'packetreceive' event (emitted before the
   * callback runs), keyed by message id. 0x10 and codes >= 0x80 reject with PublishRefusedError.
   */
  private publishOn(
    c: MqttClient,
    topic: string,
    payload: string | Buffer,
    opts: { qos: 0 | 1; retain?: boolean },
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      c.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (err, packet) => {
        const id = packet?.messageId;
        const code = id === undefined ? undefined : this.pubackCodes.get(id);
        if (id !== undefined) this.pubackCodes.delete(id);
        const errCode = (err as { code?: unknown } | undefined)?.code;
        if (err && typeof errCode === 'number' && isRefusal(errCode))
          reject(new PublishRefusedError(errCode));
        else if (err) reject(err);
        // A retained message with no subscriber is still stored by the broker: 0x10 is not a loss there.
        else if (isRefusal(code) && !(code === 0x10 && opts.retain)) reject(new PublishRefusedError(code));
        else resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    const c = this.client;
    this.client = null;
    this.up = false;
    if (c) await c.endAsync().catch(() => {});
  }

  /** Drops the connection without a DISCONNECT, so the broker sends the last will (tests). */
  kill() {
    this.client?.stream?.destroy();
  }

  private connectOnce() {
    this.timer = null;
    const o = this.o;
    const opts: IClientOptions = {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      keepalive: o.keepaliveS ?? 30,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      clean: true,
      protocolVersion: this.protocolVersion,
    };
    if (o.tls) {
      if (o.tls.ca) opts.ca = readFileSync(o.tls.ca);
      if (o.tls.cert) opts.cert = readFileSync(o.tls.cert);
      if (o.tls.key) opts.key = readFileSync(o.tls.key);
      opts.rejectUnauthorized = o.tls.rejectUnauthorized;
    }
    const will = o.will?.();
    if (will)
      opts.will = {
        topic: will.topic,
        payload: Buffer.from(will.payload),
        retain: will.retain,
        qos: will.qos,
      };
    const c = mqtt.connect(o.url, opts);
    this.client = c;
    this.pubackCodes.clear();
    if (this.protocolVersion === 5)
      c.on('packetreceive', (p) => {
        if (p.cmd === 'puback' && p.messageId !== undefined && p.reasonCode !== undefined)
          this.pubackCodes.set(p.messageId, p.reasonCode);
      });
    let failed = false;
    const fail = (why: string) => {
      if (failed) return;
      failed = true;
      const wasUp = this.up;
      this.up = false;
      c.removeAllListeners();
      c.on('error', () => {});
      c.end(true);
      if (this.client === c) this.client = null;
      if (wasUp) this.emit('down');
      if (this.closed) return;
      if (this.protocolVersion === 5 && /protocol version/i.test(why))
        o.logger.error(
          { clientId: o.clientId, url: o.url },
          'the broker refuses MQTT 5; set mqtt.protocolVersion: 4 for brokers without MQTT 5',
        );
      const delay = backoffDelay(this.attempt++, o.backoff.initialMs, o.backoff.maxMs, o.random);
      o.logger.warn({ clientId: o.clientId, why, retryInMs: delay }, 'mqtt connection lost or refused');
      this.timer = o.clock.setTimeout(() => this.connectOnce(), delay);
    };
    if (o.onMessage) c.on('message', (topic, payload) => o.onMessage?.(topic, payload));
    c.on('connect', async () => {
      try {
        if (o.subscribe?.length) await c.subscribeAsync(o.subscribe, { qos: 1 });
        await o.onConnect?.(this.asConnecting(c));
      } catch (e) {
        o.logger.warn({ err: (e as Error).message }, 'mqtt birth publish failed');
      }
      if (failed || this.client !== c) return;
      this.attempt = 0;
      this.up = true;
      o.logger.info({ clientId: o.clientId, url: o.url }, 'mqtt connected');
      this.emit('up');
    });
    c.on('error', (e) => fail(e.message));
    c.on('close', () => fail('closed'));
    c.on('offline', () => fail('offline'));
  }

  /** During onConnect the link is not "up" yet; births publish through this view. */
  private asConnecting(c: MqttClient): MqttLink {
    const view = Object.create(this) as MqttLink;
    view.publish = (topic, payload, opts) => this.publishOn(c, topic, payload, opts);
    return view;
  }
}
