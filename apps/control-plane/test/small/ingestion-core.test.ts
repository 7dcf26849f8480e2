import { uuidv7 } from '@diad/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/common/metrics.js';
import { IngestionCore, type IngestionCoreDeps } from '../../src/results/ingestion/ingestion-core.js';
import type { Delivery } from '../../src/results/ingestion/transport.js';

const address = { site: 's', line: 'l', station: 'st' };
const device = { ...address, disabled: false };

function result(over: Record<string, unknown> = {}) {
  const now = new Date().toISOString();
  return {
    schema: 'diad.result/v1',
    resultId: uuidv7(),
    ...address,
    camera: 'cam1',
    deviceId: 'dev1',
    partId: 'p',
    capturedAt: now,
    inspectedAt: now,
    state: 'ok',
    verdict: 'OK',
    score: 0.1,
    normalizedScore: 0.2,
    defectAreaPx: 0,
    thresholds: { version: 0, image: 0.5, pixel: 0.3 },
    model: null,
    provider: 'cpu',
    timingsMs: { total: 1 },
    error: null,
    imageRef: null,
    heatmapRef: null,
    shadow: null,
    ...over,
  };
}

async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

class FakeDelivery implements Delivery {
  transport = 'test';
  topic = 'diad/s/l/st/result';
  address = address;
  payload: Uint8Array;
  state: 'open' | 'acked' | 'nacked' = 'open';
  constructor(body: unknown) {
    this.payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  }
  ack() {
    expect(this.state).toBe('open');
    this.state = 'acked';
  }
  nack() {
    this.state = 'nacked';
  }
}

function core(over: Partial<IngestionCoreDeps> = {}) {
  const metrics = new Metrics();
  const stored = new Set<string>();
  const c = new IngestionCore({
    insert: async (rs) => {
      const fresh = new Set<string>();
      for (const r of rs) if (!stored.has(r.resultId)) fresh.add(r.resultId);
      for (const id of fresh) stored.add(id);
      return fresh;
    },
    healthy: async () => true,
    lookupDevice: async (id) => (id === 'dev1' ? device : undefined),
    metrics,
    log: pino({ level: 'silent' }),
    batchSize: 3,
    flushMs: 5,
    sleep: async () => {},
    ...over,
  });
  const count = async (name: string) =>
    (await metrics.registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#'));
  return { c, stored, metrics, count };
}

describe('IngestionCore', () => {
  it('acknowledges a delivery only after the batch holding it is committed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[][] = [];
    const { c } = core({
      insert: async (rs) => {
        seen.push(rs.map((r) => r.resultId));
        await gate;
        return new Set(rs.map((r) => r.resultId));
      },
    });
    const ds = [1, 2, 3].map(() => new FakeDelivery(result()));
    for (const d of ds) await c.deliver(d);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toHaveLength(1);
    expect(ds.map((d) => d.state)).toEqual(['open', 'open', 'open']);
    release();
    await c.flush();
    expect(ds.map((d) => d.state)).toEqual(['acked', 'acked', 'acked']);
  });

  it('acknowledges refusals at once and counts them by reason; duplicates are acknowledged', async () => {
    const { c, count, stored } = core();
    const bad = [
      new FakeDelivery('{not json'),
      new FakeDelivery({ hello: 1 }),
      new FakeDelivery(result({ deviceId: 'nobody' })),
      new FakeDelivery(result({ station: 'other' })),
    ];
    for (const d of bad) await c.deliver(d);
    expect(bad.map((d) => d.state)).toEqual(['acked', 'acked', 'acked', 'acked']);
    const r = result();
    const twice = [new FakeDelivery(r), new FakeDelivery(r)];
    for (const d of twice) await c.deliver(d);
    await c.flush();
    expect(twice.map((d) => d.state)).toEqual(['acked', 'acked']);
    expect(stored.size).toBe(1);
    const rejected = (await count('diad_results_rejected_total')).join('\n');
    for (const reason of ['invalid-json', 'invalid', 'unknown-device', 'topic-mismatch'])
      expect(rejected).toContain(`reason="${reason}"`);
    expect((await count('diad_results_duplicate_total')).join('\n')).toContain('} 1');
  });

  it('runs extra checks (e.g. signatures): a refusal is acknowledged, a check that throws hands the delivery back', async () => {
    const { c } = core();
    c.addCheck((r) => (r.partId === 'forged' ? { reason: 'bad-signature' } : null));
    c.addCheck((r) => {
      if (r.partId === 'keys-down') throw new Error('key store unreachable');
      return null;
    });
    const forged = new FakeDelivery(result({ partId: 'forged' }));
    const later = new FakeDelivery(result({ partId: 'keys-down' }));
    await c.deliver(forged);
    await c.deliver(later);
    expect(forged.state).toBe('acked');
    expect(later.state).toBe('nacked');
  });

  it('while the database is down retries without acknowledging; at shutdown hands the batch back', async () => {
    let attempts = 0;
    let stop!: Promise<void>;
    const { c } = core({
      insert: async () => {
        attempts++;
        if (attempts === 3) stop = c.stop();
        throw new Error('connection refused');
      },
      healthy: async () => false,
    });
    const ds = [1, 2].map(() => new FakeDelivery(result()));
    for (const d of ds) await c.deliver(d);
    await c.flush();
    await stop;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(ds.map((d) => d.state)).toEqual(['nacked', 'nacked']);
    // After stop nothing more is taken in.
    const late = new FakeDelivery(result());
    await c.deliver(late);
    expect(late.state).toBe('nacked');
  });

  it('keeps the rows of a batch the database accepts when it refuses one row', async () => {
    const { c, count } = core({
      insert: async (rs) => {
        if (rs.some((r) => r.partId === 'poison')) throw new Error('value out of range');
        return new Set(rs.map((r) => r.resultId));
      },
    });
    const ds = [result(), result({ partId: 'poison' }), result()].map((r) => new FakeDelivery(r));
    for (const d of ds) await c.deliver(d);
    await c.flush();
    expect(ds.map((d) => d.state)).toEqual(['acked', 'acked', 'acked']);
    expect((await count('diad_results_rejected_total')).join('\n')).toContain('database-refused');
    expect((await count('diad_results_ingested_total')).join('\n')).toContain('} 2');
  });

  it('with flushMs 0 writes as soon as the writer is free (group commit)', async () => {
    const batches: number[] = [];
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const { c } = core({
      flushMs: 0,
      batchSize: 100,
      insert: async (rs) => {
        batches.push(rs.length);
        await gate;
        return new Set(rs.map((r) => r.resultId));
      },
    });
    const first = new FakeDelivery(result());
    await c.deliver(first);
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([1]);
    // Three arrive while the first write is in progress: one batch right after it.
    const more = [1, 2, 3].map(() => new FakeDelivery(result()));
    for (const d of more) await c.deliver(d);
    const r1 = release;
    gate = Promise.resolve();
    r1();
    await until(() => more.every((d) => d.state === 'acked'));
    expect(batches).toEqual([1, 3]);
    expect(first.state).toBe('acked');
  });

  it('pushes back once the buffer is full', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { c } = core({
      insert: async (rs) => {
        await gate;
        return new Set(rs.map((r) => r.resultId));
      },
      maxBuffered: 4,
    });
    let taken = 0;
    const all = Array.from({ length: 6 }, () => new FakeDelivery(result()));
    const feeding = (async () => {
      for (const d of all) {
        await c.deliver(d);
        taken++;
      }
    })();
    await new Promise((r) => setTimeout(r, 30));
    expect(taken).toBeLessThan(6);
    release();
    await feeding;
    await c.flush();
    expect(all.every((d) => d.state === 'acked')).toBe(true);
  });
});
