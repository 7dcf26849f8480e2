import { describe, expect, it } from 'vitest';
import type { Outbox } from '../src/outbox/types.js';
import { OutboxFullError } from '../src/outbox/types.js';
import { fakeResult } from './helpers.js';

/** The outbox contract; every Outbox implementation runs it (see outbox.test.ts). */
export function outboxContract(
  name: string,
  make: (capacityBytes: number) => { outbox: Outbox; reopen?: () => Outbox },
) {
  describe(`Outbox contract: ${name}`, () => {
    it('returns entries oldest first and removes only acknowledged ones', () => {
      const { outbox } = make(1 << 20);
      const rs = [0, 1, 2, 3].map((i) => fakeResult(i % 2 ? 'a' : 'b', i));
      const seqs = rs.map((r) => outbox.append(r));
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(outbox.peek(10).map((e) => e.result.resultId)).toEqual(rs.map((r) => r.resultId));
      outbox.ack([seqs[1], 9999]);
      expect(outbox.depth()).toBe(3);
      expect(outbox.peek(10).map((e) => e.result.partId)).toEqual(['part-0', 'part-2', 'part-3']);
      outbox.close();
    });

    it('pages with afterSeq and filters by station, keeping order', () => {
      const { outbox } = make(1 << 20);
      const seqs = [0, 1, 2, 3, 4, 5].map((i) => outbox.append(fakeResult(i % 2 ? 'a' : 'b', i)));
      expect(outbox.peek(2).map((e) => e.seq)).toEqual(seqs.slice(0, 2));
      expect(outbox.peek(2, seqs[1]).map((e) => e.seq)).toEqual(seqs.slice(2, 4));
      expect(outbox.peek(10, 0, 'a').map((e) => e.result.partId)).toEqual(['part-1', 'part-3', 'part-5']);
      expect(outbox.depth('a')).toBe(3);
      outbox.close();
    });

    it('is idempotent on resultId', () => {
      const { outbox } = make(1 << 20);
      const r = fakeResult('a', 1);
      const s1 = outbox.append(r);
      const s2 = outbox.append({ ...r });
      expect(s2).toBe(s1);
      expect(outbox.depth()).toBe(1);
      outbox.close();
    });

    it('round-trips the result exactly', () => {
      const { outbox } = make(1 << 20);
      const r = {
        ...fakeResult('a', 7),
        shadow: { model: fakeResult('a', 1).model!, score: 0.25, verdict: 'OK' as const },
      };
      outbox.append(r);
      expect(outbox.peek(1)[0].result).toEqual(r);
      outbox.close();
    });

    it('refuses appends beyond capacity without evicting undelivered results, and frees space on ack', () => {
      const { outbox } = make(4096);
      const seqs: number[] = [];
      let err: unknown;
      for (let i = 0; i < 100; i++) {
        try {
          seqs.push(outbox.append(fakeResult('a', i)));
        } catch (e) {
          err = e;
          break;
        }
      }
      expect(err).toBeInstanceOf(OutboxFullError);
      expect(seqs.length).toBeGreaterThan(2);
      expect(outbox.depth()).toBe(seqs.length);
      expect(outbox.usedBytes()).toBeLessThanOrEqual(4096);
      outbox.ack([seqs[0]]);
      expect(() => outbox.append(fakeResult('a', 1000))).not.toThrow();
      outbox.close();
    });

    it('rejects a capacity below 1 KiB', () => {
      expect(() => make(10)).toThrow(RangeError);
    });
  });
}
