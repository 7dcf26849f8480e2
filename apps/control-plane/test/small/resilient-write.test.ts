import type { InspectionResult } from '@diad/protocol';
import { describe, expect, it } from 'vitest';
import { type ResilientWriteDeps, writeResilient } from '../../src/results/resilient-write.js';

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ resultId: `r${i}` }) as InspectionResult);

function deps(over: Partial<ResilientWriteDeps> & { log: string[] }): ResilientWriteDeps {
  return {
    write: async () => {},
    healthy: async () => true,
    sleep: async (ms) => void over.log.push(`sleep ${ms}`),
    onDropped: (r) => void over.log.push(`dropped ${r.resultId}`),
    onRetry: (_e, n) => void over.log.push(`retry ${n}`),
    stopping: () => false,
    ...over,
  };
}

describe('writeResilient', () => {
  it('waits out a database outage with growing backoff and then writes the whole batch', async () => {
    const log: string[] = [];
    let up = false;
    let calls = 0;
    const d = deps({
      log,
      write: async (b) => {
        calls++;
        if (!up) throw new Error('connection refused');
        log.push(`wrote ${b.length}`);
      },
      healthy: async () => up,
      sleep: async (ms) => {
        log.push(`sleep ${ms}`);
        if (calls === 3) up = true;
      },
    });
    expect(await writeResilient(rows(5), d)).toBe('written');
    expect(log).toEqual(['retry 1', 'sleep 100', 'retry 2', 'sleep 200', 'retry 3', 'sleep 400', 'wrote 5']);
  });

  it('drops only the rows the database itself refuses', async () => {
    const log: string[] = [];
    const d = deps({
      log,
      write: async (b) => {
        if (b.some((r) => r.resultId === 'r2')) throw new Error('integer out of range');
        log.push(`wrote ${b.map((r) => r.resultId).join(',')}`);
      },
    });
    expect(await writeResilient(rows(4), d)).toBe('written');
    expect(log.filter((l) => !l.startsWith('retry'))).toEqual([
      'wrote r0',
      'wrote r1',
      'dropped r2',
      'wrote r3',
    ]);
  });

  it('reports the batch lost when stopping while the database is down', async () => {
    const log: string[] = [];
    const d = deps({
      log,
      write: async () => {
        throw new Error('down');
      },
      healthy: async () => false,
      stopping: () => true,
    });
    expect(await writeResilient(rows(3), d)).toBe('lost');
  });
});
