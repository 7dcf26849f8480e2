import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { SqliteOutbox } from '../src/outbox/sqlite.js';
import { dbBytes, decodeHeader, decodeRecord, HEADER_BYTES, RECORD_BYTES } from '../src/plc/s7-layout.js';
import { S7Output } from '../src/plc/s7-output.js';
import { fakeResult, silent, tmp, waitFor } from './helpers.js';
import { freePort, stopSnap7, TcpCut } from './plc-helpers.js';

const require = createRequire(import.meta.url);

interface Snap7Server {
  SetParam(p: number, v: number): void;
  RegisterArea(area: number, index: number, buf: Buffer): void;
  GetArea(area: number, index: number): Buffer;
  EventText(e: unknown): string;
  StartTo(ip: string, cb: (err?: unknown) => void): void;
  Stop(cb: (err?: unknown) => void): void;
  ClientsCount(): number;
  on(e: 'event', fn: (e: unknown) => void): void;
  LocalPort: number;
  srvAreaDB: number;
}

const SLOTS = 4;
const DB = 10;

/**
 * A PLC stand-in: snap7's S7 server (the real S7 protocol over ISO-on-TCP) holding DB10 itself. Its event
 * log gives every write request in arrival order (offset and size).
 */
class FakePlc {
  readonly server: Snap7Server;
  readonly writes: { start: number; size: number }[] = [];
  constructor(readonly port: number) {
    const snap7 = require('node-snap7');
    this.server = new snap7.S7Server() as Snap7Server;
    const s = this.server;
    s.SetParam(s.LocalPort, port);
    s.RegisterArea(s.srvAreaDB, DB, Buffer.alloc(dbBytes(SLOTS)));
    s.on('event', (e) => {
      const m = /Write request, Area : DB(\d+), Start : (\d+), Size : (\d+)/.exec(s.EventText(e));
      if (m && Number(m[1]) === DB) this.writes.push({ start: Number(m[2]), size: Number(m[3]) });
    });
  }
  /** The data block as the PLC program sees it now. */
  get db(): Buffer {
    return this.server.GetArea(this.server.srvAreaDB, DB);
  }
  /** Ring slots of the record writes, in arrival order. */
  recordSlots(from = 0): number[] {
    return this.writes
      .slice(from)
      .filter((w) => w.start >= HEADER_BYTES && w.size === RECORD_BYTES)
      .map((w) => (w.start - HEADER_BYTES) / RECORD_BYTES);
  }
  start() {
    return new Promise<void>((resolve, reject) =>
      this.server.StartTo('127.0.0.1', (err) => (err ? reject(err) : resolve())),
    );
  }
  stop() {
    return stopSnap7(this.server);
  }
}

describe('S7 output: results written into a data block of a real S7 server (snap7)', () => {
  let plc: FakePlc;
  // The agent talks to the PLC through this forwarder; cutting it takes the PLC off the network.
  let link: TcpCut;
  let out: S7Output;
  let outbox: SqliteOutbox;

  beforeAll(async () => {
    plc = new FakePlc(await freePort());
    await plc.start();
    link = new TcpCut(await freePort(), plc.port);
    await link.open();
    outbox = new SqliteOutbox(join(tmp(), 's7-outbox.db'), { capacityBytes: 1 << 22 });
    out = new S7Output({
      host: '127.0.0.1',
      port: link.port,
      rack: 0,
      slot: 1,
      timeoutMs: 2000,
      backoff: { initialMs: 100, maxMs: 400 },
      stations: [{ station: 'st1', db: DB, slots: SLOTS }],
      outbox,
      clock: systemClock,
      logger: silent,
    });
    out.start();
  });
  afterAll(async () => {
    await out?.stop();
    await link?.close();
    await plc?.stop();
    outbox?.close();
  });

  it('writes each result into the next ring slot, then raises WriteCounter', async () => {
    await waitFor(() => out.connection.connected, 20_000, 'S7 connection');
    for (let i = 1; i <= 3; i++) out.enqueue(fakeResult('st1', i));
    expect(out.enqueue(fakeResult('other-station', 1))).toBe(false);
    await waitFor(() => decodeHeader(plc.db).writeCounter === 3 && out.depth() === 0, 20_000, 'three writes');
    expect(decodeHeader(plc.db)).toEqual({ writeCounter: 3, slots: SLOTS, lastSlot: 2 });
    const r = decodeRecord(plc.db, 2);
    expect(r).toMatchObject({ counter: 3, partId: 'part-3', state: 1, verdict: 1, errorCode: 0 });
    expect(r.score).toBeCloseTo(0.003, 6);
    expect(r.resultId).toHaveLength(36);
  });

  it('a write while the PLC is down is kept in the outbox and delivered, in order, when it returns', async () => {
    await link.close();
    const before = plc.writes.length;
    for (let i = 4; i <= 9; i++) out.enqueue(fakeResult('st1', i));
    await waitFor(() => !out.connection.connected, 20_000, 'link down');
    expect(out.depth()).toBe(6);
    expect(out.linkState()).toMatchObject({ connected: false, pending: 6 });
    expect(decodeHeader(plc.db).writeCounter).toBe(3);

    await link.open();
    await waitFor(() => decodeHeader(plc.db).writeCounter === 9 && out.depth() === 0, 30_000, 'redelivery');
    // Record writes after the outage went to the slots of counters 4..9 in that order; a write cut by the
    // outage may be repeated (at least once), never reordered or skipped.
    const slots = plc.recordSlots(before).filter((x, i, all) => i === 0 || all[i - 1] !== x);
    expect(slots).toEqual([3, 0, 1, 2, 3, 0]);
    // The ring holds the last SLOTS results; the PLC reads them oldest to newest from WriteCounter.
    const h = decodeHeader(plc.db);
    const ring = Array.from({ length: SLOTS }, (_, k) =>
      decodeRecord(plc.db, (h.writeCounter - SLOTS + k) % SLOTS),
    );
    expect(ring.map((x) => [x.counter, x.partId])).toEqual([
      [6, 'part-6'],
      [7, 'part-7'],
      [8, 'part-8'],
      [9, 'part-9'],
    ]);
    expect(out.linkState().connected).toBe(true);
  });

  it('continues from the WriteCounter the data block holds after an agent restart', async () => {
    await out.stop();
    const out2 = new S7Output({
      host: '127.0.0.1',
      port: link.port,
      rack: 0,
      slot: 1,
      timeoutMs: 2000,
      backoff: { initialMs: 100, maxMs: 400 },
      stations: [{ station: 'st1', db: DB, slots: SLOTS }],
      outbox,
      clock: systemClock,
      logger: silent,
    });
    out = out2;
    out2.start();
    out2.enqueue(fakeResult('st1', 10));
    await waitFor(() => decodeHeader(plc.db).writeCounter === 10, 20_000, 'write after restart');
    expect(decodeRecord(plc.db, (10 - 1) % SLOTS)).toMatchObject({ counter: 10, partId: 'part-10' });
  });
});
