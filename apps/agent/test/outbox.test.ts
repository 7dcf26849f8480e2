import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { SqliteOutbox } from '../src/outbox/sqlite.js';
import { OutboxFullError } from '../src/outbox/types.js';
import { fakeResult, tmp } from './helpers.js';
import { outboxContract } from './outbox.contract.js';

outboxContract('memory', (cap) => ({ outbox: new MemoryOutbox(cap) }));
outboxContract('sqlite', (cap) => {
  const path = join(tmp(), 'outbox.db');
  return {
    outbox: new SqliteOutbox(path, { capacityBytes: cap }),
    reopen: () => new SqliteOutbox(path, { capacityBytes: cap }),
  };
});

describe('SqliteOutbox durability', () => {
  it('keeps pending results, order and byte accounting across reopen, in WAL mode', () => {
    const path = join(tmp(), 'sub', 'outbox.db');
    const a = new SqliteOutbox(path, { capacityBytes: 1 << 20 });
    const rs = [0, 1, 2].map((i) => fakeResult('a', i));
    const seqs = rs.map((r) => a.append(r));
    a.ack([seqs[0]]);
    const used = a.usedBytes();
    a.close();
    expect(existsSync(path)).toBe(true);
    const b = new SqliteOutbox(path, { capacityBytes: 1 << 20 });
    expect(b.peek(10).map((e) => e.result.resultId)).toEqual([rs[1].resultId, rs[2].resultId]);
    expect(b.usedBytes()).toBe(used);
    expect(b.depth()).toBe(2);
    const s = b.append(fakeResult('a', 3));
    expect(s).toBeGreaterThan(seqs[2]);
    b.close();
  });
});

describe('SqliteOutbox on a full disk and a damaged file', () => {
  it('turns SQLITE_FULL into OutboxFullError and keeps every stored result', () => {
    const path = join(tmp(), 'full.db');
    const o = new SqliteOutbox(path, { capacityBytes: 1 << 30, maxPages: 12 });
    const stored: string[] = [];
    let err: unknown;
    for (let i = 0; i < 10_000 && !err; i++) {
      const r = fakeResult('a', i);
      try {
        o.append(r);
        stored.push(r.resultId);
      } catch (e) {
        err = e;
      }
    }
    expect(err).toBeInstanceOf(OutboxFullError);
    expect((err as OutboxFullError).reason).toBe('disk full');
    expect(o.peek(100_000).map((e) => e.result.resultId)).toEqual(stored);
    // Delivery frees whole pages again.
    o.ack(o.peek(Math.ceil(stored.length / 2)).map((e) => e.seq));
    expect(() => o.append(fakeResult('a', -1))).not.toThrow();
    o.close();
  });

  it('moves an unreadable database aside and starts a new outbox', () => {
    const dir = tmp();
    const path = join(dir, 'outbox.db');
    writeFileSync(path, Buffer.alloc(8192, 0x41));
    const moved: string[] = [];
    const o = new SqliteOutbox(path, { capacityBytes: 1 << 20, onQuarantine: (to) => moved.push(to) });
    expect(moved).toHaveLength(1);
    expect(readFileSync(moved[0]).subarray(0, 4).toString()).toBe('AAAA');
    o.append(fakeResult('a', 1));
    expect(o.depth()).toBe(1);
    o.close();
  });
});
