import { EventEmitter } from 'node:events';
import type { InspectionResult } from '@diad/protocol';
import { describe, expect, it } from 'vitest';
import { PublishRefusedError } from '../src/mqtt/link.js';
import { OutboxDrainer } from '../src/outbox/drainer.js';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { FakeClock, fakeResult, silent, waitFor } from './helpers.js';

/** A sink that answers like an MQTT 5 broker: PUBACK 0x10 while nobody subscribes, 0x00 once someone does. */
class RefusingSink extends EventEmitter {
  connected = true;
  subscribed = false;
  inflightNow = 0;
  maxInflightWhileRefusing = 0;
  delivered: string[] = [];

  publishResult(r: InspectionResult): Promise<void> {
    this.inflightNow++;
    if (!this.subscribed)
      this.maxInflightWhileRefusing = Math.max(this.maxInflightWhileRefusing, this.inflightNow);
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        this.inflightNow--;
        if (!this.subscribed) return reject(new PublishRefusedError(0x10));
        this.delivered.push(r.partId);
        resolve();
      }),
    );
  }
}

describe('OutboxDrainer and broker refusals', () => {
  it('keeps refused results, backs off (bounded), probes one at a time, then delivers all once, in order', async () => {
    const clock = new FakeClock();
    const outbox = new MemoryOutbox(1 << 20);
    const sink = new RefusingSink();
    const refused: string[] = [];
    const drainer = new OutboxDrainer({
      outbox,
      station: 's1',
      sink,
      clock,
      backoff: { initialMs: 200, maxMs: 1600 },
      inflight: 8,
      logger: silent,
      random: () => 1,
      onBrokerRefused: (r) => refused.push(r),
    });
    const rs = Array.from({ length: 20 }, (_, i) => fakeResult('s1', i));
    for (const r of rs) outbox.append(r);
    drainer.start();
    // The first window (8) is refused as a whole; after that, one probe per backoff.
    const delays: number[] = [];
    for (let k = 0; k < 6; k++) {
      await waitFor(() => clock.pending === 1, 5000, 'retry scheduled');
      delays.push(...clock.pendingDelays());
      clock.fireAll();
    }
    expect(refused.length).toBe(8 + 5);
    expect(new Set(refused)).toEqual(new Set(['no_matching_subscribers']));
    expect(delays).toEqual([200, 400, 800, 1600, 1600, 1600]);
    expect(outbox.depth()).toBe(20);
    expect(sink.delivered).toEqual([]);

    sink.maxInflightWhileRefusing = 0;
    await waitFor(() => clock.pending === 1, 5000, 'retry scheduled');
    clock.fireAll();
    await waitFor(() => clock.pending === 1, 5000, 'retry scheduled');
    expect(sink.maxInflightWhileRefusing).toBe(1);

    sink.subscribed = true;
    clock.fireAll();
    await waitFor(() => outbox.depth() === 0, 5000, 'all delivered');
    expect(sink.delivered).toEqual(rs.map((r) => r.partId));
    await drainer.stop();
  });
});
