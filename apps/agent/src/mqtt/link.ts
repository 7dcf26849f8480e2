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
    return new Promise((resolve, reject) => {
      c.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (err) =>
        err ? reject(err) : resolve(),
      );
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
      protocolVersion: 4,
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
    view.publish = (topic, payload, opts) =>
      new Promise((resolve, reject) =>
        c.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    return view;
  }
}
