/**
 * Poison results (#20): a result the receiver will never take (invalid before sending, or refused by the control
 * plane for itself) is set aside in the outbox with its reason and counted; the results behind it keep flowing.
 * On the old code the agent retried such a batch forever and the station's results stopped.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxDrainer } from '../src/outbox/drainer.js';
import { SqliteOutbox } from '../src/outbox/sqlite.js';
import { ControlPlaneClient } from '../src/sync/client.js';
import { HttpResultSink } from '../src/sync/http-result-sink.js';
import { FakeControlPlane } from './fake-control-plane.js';
import { FakeClock, fakeResult, silent, tmp, waitFor } from './helpers.js';

describe('poison results are set aside, the others delivered', () => {
  const cp = new FakeControlPlane();
  beforeAll(() => cp.start());
  afterAll(() => cp.close());

  it('sets aside an invalid result and one the control plane refuses, and delivers the rest in order', async () => {
    const path = join(tmp(), 'outbox.db');
    const outbox = new SqliteOutbox(path, { capacityBytes: 1 << 24 });
    const clock = new FakeClock();
    const sink = new HttpResultSink(new ControlPlaneClient(cp.url), () => cp.credential);
    const refusedSeen: string[] = [];
    cp.refuseResult = (r) => (r.partId === 'refused-by-cp' ? 'database refused it' : null);
    const drainer = new OutboxDrainer({
      outbox,
      station: 'st1',
      sink,
      clock,
      backoff: { initialMs: 100, maxMs: 1000 },
      inflight: 4,
      logger: silent,
      onRefused: (e) => refusedSeen.push(e.resultId),
    });
    const results = Array.from({ length: 20 }, (_, i) => fakeResult('st1', i));
    // An outbox written by an older agent can hold what today's schema refuses: a NUL in a part id.
    results[3] = { ...results[3], partId: 'bad\u0000id' };
    results[11] = { ...results[11], partId: 'refused-by-cp' };
    for (const r of results) outbox.append(r);
    drainer.start();
    await waitFor(() => outbox.depth() === 0, 10_000, 'outbox drained');
    await drainer.stop();
    expect(clock.pending).toBe(0); // never backed off
    const delivered = cp.results.map((r) => r.resultId);
    expect(delivered).toEqual(results.filter((_, i) => i !== 3 && i !== 11).map((r) => r.resultId));
    expect(refusedSeen.sort()).toEqual([results[3].resultId, results[11].resultId].sort());
    expect(outbox.setAsideCount()).toBe(2);
    const aside = outbox.setAsideList();
    expect(aside.find((a) => a.resultId === results[3].resultId)?.reason).toMatch(
      /partId: control characters/,
    );
    expect(aside.find((a) => a.resultId === results[11].resultId)?.reason).toMatch(
      /HTTP 400: database refused it/,
    );
    outbox.close();
    // Set aside survives a restart, and is not sent again.
    const again = new SqliteOutbox(path, { capacityBytes: 1 << 24 });
    expect(again.setAsideCount()).toBe(2);
    expect(again.depth()).toBe(0);
    again.close();
    cp.refuseResult = null;
  });
});
