import type { InspectionResult } from '@diad/protocol';
import { describe, expect, it } from 'vitest';
import { IngestBuffer, type Timers } from '../../src/results/ingest-buffer.js';

class FakeTimers implements Timers {
  pending: Array<{ fn: () => void; id: number }> = [];
  private n = 0;
  setTimeout(fn: () => void) {
    const id = ++this.n;
    this.pending.push({ fn, id });
    return id;
  }
  clearTimeout(h: unknown) {
    this.pending = this.pending.filter((p) => p.id !== h);
  }
  fire() {
    const p = this.pending;
    this.pending = [];
    for (const x of p) x.fn();
  }
}

const r = (i: number) => ({ resultId: String(i) }) as InspectionResult;

describe('IngestBuffer', () => {
  it('writes a full batch at once and waits for it (back-pressure)', async () => {
    const written: string[][] = [];
    let release: () => void = () => {};
    const buf = new IngestBuffer(
      (b) => {
        written.push(b.map((x) => x.resultId));
        return new Promise<void>((res) => {
          release = res;
        });
      },
      3,
      20,
      new FakeTimers(),
    );
    await buf.add(r(1));
    await buf.add(r(2));
    let done = false;
    const third = buf.add(r(3)).then(() => {
      done = true;
    });
    await new Promise((res) => setImmediate(res));
    expect(written).toEqual([['1', '2', '3']]);
    expect(done).toBe(false);
    release();
    await third;
    expect(done).toBe(true);
  });

  it('flushes a partial batch when the timer fires, in order', async () => {
    const timers = new FakeTimers();
    const written: string[][] = [];
    const buf = new IngestBuffer(async (b) => void written.push(b.map((x) => x.resultId)), 100, 20, timers);
    await buf.add(r(1));
    await buf.add(r(2));
    expect(timers.pending).toHaveLength(1);
    timers.fire();
    await buf.flush();
    await buf.add(r(3));
    await buf.flush();
    expect(written).toEqual([['1', '2'], ['3']]);
  });

  it('reports a failed write and keeps going', async () => {
    const errors: number[] = [];
    const buf = new IngestBuffer(
      async () => {
        throw new Error('disk full');
      },
      2,
      20,
      new FakeTimers(),
      (_e, b) => errors.push(b.length),
    );
    await buf.add(r(1));
    await buf.add(r(2));
    await buf.add(r(3));
    await buf.flush();
    expect(errors).toEqual([2, 1]);
    expect(() => new IngestBuffer(async () => {}, 0, 1)).toThrow(RangeError);
  });
});
