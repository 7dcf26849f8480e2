import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { SqliteOutbox } from '../src/outbox/sqlite.js';
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
