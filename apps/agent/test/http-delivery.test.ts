import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxDrainer } from '../src/outbox/drainer.js';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { ControlPlaneClient } from '../src/sync/client.js';
import { HttpResultSink } from '../src/sync/http-result-sink.js';
import { FakeControlPlane } from './fake-control-plane.js';
import { FakeClock, fakeResult, silent, waitFor } from './helpers.js';

describe('HTTP delivery of results to the control plane (no MQTT)', () => {
  const cp = new FakeControlPlane();
  beforeAll(() => cp.start());
  afterAll(() => cp.close());

  it('posts the outbox in batches, in order, through an outage, without duplicates', async () => {
    const outbox = new MemoryOutbox(1 << 24);
    const clock = new FakeClock();
    let cred: string | null = null;
    const sink = new HttpResultSink(new ControlPlaneClient(cp.url), () => cred);
    const drainers = ['a', 'b'].map(
      (station) =>
        new OutboxDrainer({
          outbox,
          station,
          sink,
          clock,
          backoff: { initialMs: 100, maxMs: 1000 },
          inflight: 50,
          logger: silent,
        }),
    );
    for (const d of drainers) d.start();
    const produced = Array.from({ length: 300 }, (_, i) => fakeResult(i % 2 ? 'a' : 'b', i));
    for (const r of produced) outbox.append(r);
    cp.resultsStatus = 503;
    cred = cp.credential;
    sink.enrolled();
    await waitFor(() => clock.pending === 2, 5000, 'both drainers backing off');
    expect(outbox.depth()).toBe(300);
    cp.resultsStatus = 200;
    clock.fireAll();
    await waitFor(() => outbox.depth() === 0, 10_000, 'drained');
    for (const d of drainers) await d.stop();
    expect(cp.results.length).toBe(300);
    expect(cp.resultBatches).toBeLessThan(300 / 10);
    for (const s of ['a', 'b']) {
      expect(cp.results.filter((r) => r.station === s).map((r) => r.partId)).toEqual(
        produced.filter((r) => r.station === s).map((r) => r.partId),
      );
    }
  });
});
