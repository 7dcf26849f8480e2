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
  SetResourceless(on: boolean): void;
  StartTo(ip: string, cb: (err?: unknown) => void): void;
  Stop(cb: (err?: unknown) => void): void;
  ClientsCount(): number;
  on(
    e: 'readWrite',
    fn: (sender: string, op: number, tag: Snap7Tag, buf: Buffer, cb: (b?: Buffer) => void) => void,
  ): void;
  LocalPort: number;
  operationRead: number;
  operationWrite: number;
}
interface Snap7Tag {
  Area: number;
  DBNumber: number;
  Start: number;
  Size: number;
  WordLen: number;
}

const SLOTS = 4;
/** Area code of data blocks in S7 requests (the server API's srvAreaDB is a different numbering). */
const S7_AREA_DB = 0x84;
const DB = 10;

/**
 * A PLC stand-in: snap7's S7 server (the real S7 protocol over ISO-on-TCP) in resourceless mode, DB10 kept
 * in a buffer here so every write is seen with its bytes.
 */
class FakePlc {
  readonly server: Snap7Server;
  readonly db = Buffer.alloc(dbBytes(SLOTS));
  /** Every record write, in arrival order: counter and part id as the PLC would read them. */
  readonly recordWrites: { counter: number; partId: string }[] = [];
  constructor(readonly port: number) {
    const snap7 = require('node-snap7');
    this.server = new snap7.S7Server() as Snap7Server;
    const s = this.server;
    s.SetResourceless(true);
    s.SetParam(s.LocalPort, port);
    s.on('readWrite', (_sender, op, tag, buf, cb) => {
      if (tag.Area !== S7_AREA_DB || tag.DBNumber !== DB || tag.Start + tag.Size > this.db.length) {
        return op === s.operationRead ? cb(buf) : cb();
      }
      if (op === s.operationRead) {
        this.db.copy(buf, 0, tag.Start, tag.Start + tag.Size);
        return cb(buf);
      }
      buf.copy(this.db, tag.Start, 0, tag.Size);
      if (tag.Start >= HEADER_BYTES && tag.Size === RECORD_BYTES) {
        const r = decodeRecord(this.db, (tag.Start - HEADER_BYTES) / RECORD_BYTES);
        this.recordWrites.push({ counter: r.counter, partId: r.partId });
      }
      return cb();
    });
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
    for (let i = 4; i <= 9; i++) out.enqueue(fakeResult('st1', i));
    await waitFor(() => !out.connection.connected, 20_000, 'link down');
    expect(out.depth()).toBe(6);
    expect(out.linkState()).toMatchObject({ connected: false, pending: 6 });
    expect(decodeHeader(plc.db).writeCounter).toBe(3);

    await link.open();
    await waitFor(() => decodeHeader(plc.db).writeCounter === 9 && out.depth() === 0, 30_000, 'redelivery');
    const after = plc.recordWrites.filter((w) => w.counter > 3);
    // At least once: a write cut by the outage may be repeated, never reordered or skipped.
    const firsts = after.filter((w, i) => after.findIndex((x) => x.counter === w.counter) === i);
    expect(firsts.map((w) => w.partId)).toEqual(['part-4', 'part-5', 'part-6', 'part-7', 'part-8', 'part-9']);
    for (const w of after) expect(w.partId).toBe(`part-${w.counter}`);
    // The ring holds the last SLOTS results; the PLC reads them oldest to newest from WriteCounter.
    const h = decodeHeader(plc.db);
    const ring = Array.from({ length: SLOTS }, (_, k) =>
      decodeRecord(plc.db, (h.writeCounter - SLOTS + k) % SLOTS),
    );
    expect(ring.map((x) => x.partId)).toEqual(['part-6', 'part-7', 'part-8', 'part-9']);
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
