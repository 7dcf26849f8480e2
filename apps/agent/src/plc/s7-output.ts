import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { InspectionResult } from '@diad/protocol';
import type { Logger } from 'pino';
import { backoffDelay, type Clock } from '../clock.js';
import { OutboxDrainer, type ResultSink } from '../outbox/drainer.js';
import type { Outbox } from '../outbox/types.js';
import { encodeHeader, encodeRecord, HEADER_BYTES, RECORD_BYTES, slotOf } from './s7-layout.js';

// nodes7 is CommonJS without typings.
const require = createRequire(import.meta.url);

interface NodeS7Client {
  initiateConnection(p: Record<string, unknown>, cb: (err?: unknown) => void): void;
  dropConnection(cb?: () => void): void;
  setTranslationCB(cb: (tag: string) => string): void;
  writeItems(items: string[], values: unknown[], cb: (anythingBad: boolean) => void): number;
  addItems(items: string[]): void;
  removeItems(items?: string[]): void;
  readAllItems(cb: (anythingBad: boolean, values: Record<string, unknown>) => void): void;
}

export interface S7ConnectionOptions {
  host: string;
  port: number;
  rack: number;
  slot: number;
  timeoutMs: number;
  backoff: { initialMs: number; maxMs: number };
  clock: Clock;
  logger: Logger;
}

export interface S7LinkState {
  connected: boolean;
  lastError: string | null;
  lastWriteAt: number | null;
  reconnects: number;
}

/**
 * One ISO-on-TCP connection to the PLC (nodes7). Reconnects with exponential backoff after a failed connect or
 * any failed request; emits 'up' and 'down'. Requests are serialised (nodes7 allows one write at a time).
 */
export class S7Connection extends EventEmitter {
  private client: NodeS7Client | null = null;
  private up = false;
  private closed = false;
  private attempt = 0;
  private timer: unknown = null;
  private chain: Promise<unknown> = Promise.resolve();
  private connecting = false;
  readonly state: S7LinkState = { connected: false, lastError: null, lastWriteAt: null, reconnects: 0 };

  constructor(private readonly o: S7ConnectionOptions) {
    super();
  }

  get connected(): boolean {
    return this.up;
  }

  start() {
    this.closed = false;
    this.connect();
  }

  private connect() {
    if (this.closed || this.connecting || this.up) return;
    this.connecting = true;
    const NodeS7 = require('nodes7') as new (opts: { silent: boolean }) => NodeS7Client;
    const client = new NodeS7({ silent: true });
    client.setTranslationCB((t) => t);
    let settled = false;
    const guard = this.o.clock.setTimeout(
      () => finish(new Error('connect timed out')),
      this.o.timeoutMs + 500,
    );
    const finish = (err: unknown) => {
      if (settled) return;
      settled = true;
      this.o.clock.clearTimeout(guard);
      this.connecting = false;
      if (err || this.closed) {
        client.dropConnection();
        if (!this.closed) this.failed(err instanceof Error ? err.message : String(err ?? 'closed'));
        return;
      }
      this.client = client;
      this.up = true;
      this.attempt = 0;
      this.state.connected = true;
      this.o.logger.info({ host: this.o.host, port: this.o.port }, 'S7 connection up');
      this.emit('up');
    };
    client.initiateConnection(
      {
        host: this.o.host,
        port: this.o.port,
        rack: this.o.rack,
        slot: this.o.slot,
        timeout: this.o.timeoutMs,
        doNotOptimize: true,
      },
      (err) => finish(err),
    );
  }

  /** Drops the connection and schedules a reconnect. */
  private failed(message: string) {
    const wasUp = this.up;
    this.up = false;
    this.state.connected = false;
    this.state.lastError = message;
    const c = this.client;
    this.client = null;
    c?.dropConnection();
    if (wasUp) {
      this.o.logger.warn({ err: message }, 'S7 connection down');
      this.emit('down');
    }
    if (this.closed || this.timer) return;
    const delay = backoffDelay(this.attempt++, this.o.backoff.initialMs, this.o.backoff.maxMs);
    this.state.reconnects++;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private serial<T>(fn: (c: NodeS7Client) => Promise<T>): Promise<T> {
    const run = async () => {
      const c = this.client;
      if (!this.up || !c) throw new Error('S7 connection is down');
      try {
        return await this.withTimeout(fn(c));
      } catch (e) {
        if (this.client === c) this.failed((e as Error).message);
        throw e;
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => {});
    return p;
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = this.o.clock.setTimeout(() => reject(new Error('S7 request timed out')), this.o.timeoutMs);
      p.then(
        (v) => {
          this.o.clock.clearTimeout(t);
          resolve(v);
        },
        (e) => {
          this.o.clock.clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  /** Writes items in one request; rejects unless every item was written with quality OK. */
  write(items: string[], values: unknown[]): Promise<void> {
    return this.serial(
      (c) =>
        new Promise<void>((resolve, reject) => {
          const queued = c.writeItems(items, values, (bad) => {
            if (bad) reject(new Error(`S7 write of ${items.join(', ')} failed`));
            else {
              this.state.lastWriteAt = Date.now();
              resolve();
            }
          });
          if (queued !== 0) reject(new Error('S7 write refused: another write in progress'));
        }),
    );
  }

  read(items: string[]): Promise<Record<string, unknown>> {
    return this.serial(
      (c) =>
        new Promise((resolve, reject) => {
          c.addItems(items);
          c.readAllItems((bad, values) => {
            c.removeItems(items);
            if (bad) reject(new Error(`S7 read of ${items.join(', ')} failed`));
            else resolve(values);
          });
        }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.chain;
    const c = this.client;
    this.client = null;
    this.up = false;
    this.state.connected = false;
    if (c) await new Promise<void>((r) => c.dropConnection(() => r()));
  }
}

/**
 * Result sink for one station's data block: writes the record into the next ring slot, then raises the
 * header's WriteCounter. The counter continues from what the DB holds when the connection comes up, so a PLC
 * that tracks WriteCounter sees every result once, in order, across agent restarts.
 */
export class S7StationSink extends EventEmitter implements ResultSink {
  private counter: number | null = null;

  constructor(
    private readonly conn: S7Connection,
    readonly db: number,
    readonly slots: number,
  ) {
    super();
    conn.on('up', () => {
      this.counter = null;
      this.emit('up');
    });
    conn.on('down', () => this.emit('down'));
  }

  get connected(): boolean {
    return this.conn.connected;
  }

  async publishResult(result: InspectionResult): Promise<void> {
    if (this.counter === null) {
      const tag = `DB${this.db},DINT0`;
      const v = await this.conn.read([tag]);
      const n = Number(v[tag]);
      this.counter = Number.isFinite(n) && n > 0 ? n : 0;
    }
    const next = this.counter >= 0x7fffffff ? 1 : this.counter + 1;
    const at = HEADER_BYTES + slotOf(next, this.slots) * RECORD_BYTES;
    await this.conn.write(
      [`DB${this.db},BYTE${at}.${RECORD_BYTES}`],
      [Array.from(encodeRecord(next, result))],
    );
    await this.conn.write(
      [`DB${this.db},BYTE0.8`],
      [Array.from(encodeHeader(next, this.slots).subarray(0, 8))],
    );
    this.counter = next;
  }
}

export interface S7OutputOptions extends Omit<S7ConnectionOptions, 'clock' | 'logger'> {
  stations: { station: string; db: number; slots: number }[];
  /** Its own outbox: entries are deleted once written to the PLC, independently of MQTT delivery. */
  outbox: Outbox;
  clock: Clock;
  logger: Logger;
}

/** The S7 output: an outbox of results per station, drained in order into each station's data block. */
export class S7Output {
  readonly connection: S7Connection;
  private readonly drainers = new Map<string, OutboxDrainer>();
  written = 0;

  constructor(private readonly o: S7OutputOptions) {
    this.connection = new S7Connection(o);
    for (const s of o.stations) {
      const sink = new S7StationSink(this.connection, s.db, s.slots);
      sink.setMaxListeners(0);
      this.drainers.set(
        s.station,
        new OutboxDrainer({
          outbox: o.outbox,
          station: s.station,
          sink,
          clock: o.clock,
          backoff: o.backoff,
          // One write at a time per station keeps the records in order in the ring.
          inflight: 1,
          logger: o.logger,
          onAcked: (n) => {
            this.written += n;
          },
        }),
      );
    }
  }

  start() {
    this.connection.start();
    for (const d of this.drainers.values()) d.start();
  }

  /** Stores a result for the PLC (durably, before returning) and starts its delivery. */
  enqueue(result: InspectionResult): boolean {
    const d = this.drainers.get(result.station);
    if (!d) return false;
    this.o.outbox.append(result);
    d.kick();
    return true;
  }

  depth(): number {
    return this.o.outbox.depth();
  }

  linkState() {
    return { ...this.connection.state, pending: this.depth() };
  }

  async stop(): Promise<void> {
    for (const d of this.drainers.values()) await d.stop();
    await this.connection.close();
  }
}
