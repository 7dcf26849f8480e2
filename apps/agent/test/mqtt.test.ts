import { join } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../src/mqtt/broker.js';
import { StationPublisher } from '../src/mqtt/publisher.js';
import { OutboxDrainer } from '../src/outbox/drainer.js';
import { SqliteOutbox } from '../src/outbox/sqlite.js';
import { RefusedResultError } from '../src/outbox/types.js';
import { FakeClock, fakeResult, silent, tmp, waitFor } from './helpers.js';
import { Downstream } from './mqtt-harness.js';

const status = (station: string) => () => ({
  deviceId: 'dev1',
  state: 'online' as const,
  model: null,
  provider: 'cpu',
  queueDepth: 0,
  outboxDepth: 0,
  station,
});

function wire(url: string, station: string, outbox: SqliteOutbox, clock: FakeClock) {
  const pub = new StationPublisher({
    address: { site: 'site1', line: 'line1', station },
    connection: {
      url,
      backoff: { initialMs: 500, maxMs: 8000 },
      random: () => 1,
      clientId: `agent-${station}-${Math.random().toString(36).slice(2, 6)}`,
    },
    deviceId: 'dev1',
    status: status(station),
    clock,
    logger: silent,
  });
  const drainer = new OutboxDrainer({
    outbox,
    station,
    sink: pub,
    clock,
    backoff: { initialMs: 200, maxMs: 5000 },
    inflight: 64,
    logger: silent,
  });
  return { pub, drainer };
}

async function roundTrip(url: string) {
  const clock = new FakeClock();
  const outbox = new SqliteOutbox(join(tmp(), 'o.db'), { capacityBytes: 1 << 24 });
  const down = new Downstream(url);
  await waitFor(() => down.ready, 5000, 'downstream subscribed');
  const { pub, drainer } = wire(url, `st-${Math.random().toString(36).slice(2, 6)}`, outbox, clock);
  pub.start();
  drainer.start();
  await waitFor(() => pub.connected, 5000, 'publisher connected');
  const rs: InspectionResult[] = [];
  for (let i = 0; i < 200; i++) {
    const r = fakeResult(pub.resultTopic.split('/')[3], i);
    rs.push(r);
    outbox.append(r);
    drainer.kick();
  }
  await waitFor(() => outbox.depth() === 0 && down.ids.size >= 200, 10_000, 'all delivered');
  expect(down.duplicates).toBe(0);
  expect([...down.byStation.values()][0]).toEqual(rs.map((r) => r.partId));
  await waitFor(() => down.retained.has(pub.statusTopic), 5000, 'status');
  expect(down.retained.get(pub.statusTopic)).toMatchObject({ schema: 'diad.status/v1', state: 'online' });
  await drainer.stop();
  await pub.close();
  await down.close();
  outbox.close();
}

const BROKERS = [
  { name: 'the embedded aedes broker', url: null as string | null },
  ...(process.env.MQTT_URL ? [{ name: 'Mosquitto (MQTT_URL)', url: process.env.MQTT_URL }] : []),
];

describe.each(BROKERS)('MQTT publishing against $name', ({ url: external }) => {
  let broker: EmbeddedBroker | null = null;
  let url: string;
  const sid = () => `st-${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(async () => {
    if (external) url = external;
    else {
      broker = await EmbeddedBroker.start('127.0.0.1', 0);
      url = `mqtt://127.0.0.1:${broker.port}`;
    }
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('delivers results in order with a retained birth status', () => roundTrip(url));

  it('rejects an invalid result before publishing it', async () => {
    const clock = new FakeClock();
    const { pub } = wire(url, sid(), new SqliteOutbox(':memory:', { capacityBytes: 1 << 20 }), clock);
    pub.start();
    await waitFor(() => pub.connected);
    // Refused for good (set aside by the drainer), not retried.
    await expect(pub.publishResult({ ...fakeResult('x', 1), resultId: 'not-a-uuid' })).rejects.toThrow(
      RefusedResultError,
    );
    await pub.close();
  });

  it('publishes the last will (offline, retained) when the agent connection dies', async () => {
    const clock = new FakeClock();
    const down = new Downstream(url);
    await waitFor(() => down.ready);
    const { pub } = wire(url, sid(), new SqliteOutbox(':memory:', { capacityBytes: 1 << 20 }), clock);
    pub.start();
    await waitFor(
      () => (down.retained.get(pub.statusTopic) as { state?: string })?.state === 'online',
      5000,
      'birth',
    );
    pub.link.kill();
    await waitFor(
      () => (down.retained.get(pub.statusTopic) as { state?: string })?.state === 'offline',
      5000,
      'will',
    );
    await pub.link.close();
    await down.close();
  });
});

describe('fault: broker down while 1,000 results are produced, then back', () => {
  it('delivers all 1,000 exactly once by id, in order per station, with exponential backoff', async () => {
    let broker = await EmbeddedBroker.start('127.0.0.1', 0);
    const port = broker.port;
    const url = `mqtt://127.0.0.1:${port}`;
    const clock = new FakeClock();
    const outbox = new SqliteOutbox(join(tmp(), 'fault.db'), { capacityBytes: 1 << 26 });
    const down = new Downstream(url);
    await waitFor(() => down.ready);
    const stations = ['s1', 's2'];
    const wires = stations.map((s) => wire(url, s, outbox, clock));
    for (const w of wires) {
      w.pub.start();
      w.drainer.start();
    }
    await waitFor(() => wires.every((w) => w.pub.connected), 5000, 'agents connected');

    await broker.close();
    await waitFor(() => wires.every((w) => !w.pub.connected) && clock.pending >= 2, 5000, 'agents noticed');

    const produced: InspectionResult[] = [];
    for (let i = 0; i < 1000; i++) {
      const r = fakeResult(stations[i % 2], i);
      produced.push(r);
      outbox.append(r);
      for (const w of wires) w.drainer.kick();
    }
    // Reconnect attempts while the broker is down back off exponentially (random=1 gives the ceiling).
    const seen: number[] = [];
    for (let k = 0; k < 4; k++) {
      seen.push(...clock.pendingDelays());
      clock.fireAll();
      await waitFor(() => clock.pending >= 2, 5000, 'next retry scheduled');
    }
    expect(Math.max(...clock.pendingDelays())).toBe(8000);
    expect(seen).toEqual(expect.arrayContaining([500, 1000, 2000, 4000]));
    expect(outbox.depth()).toBe(1000);

    broker = await EmbeddedBroker.start('127.0.0.1', port);
    await waitFor(() => down.ready, 5000, 'downstream back');
    clock.fireAll();
    await waitFor(() => down.ids.size === 1000 && outbox.depth() === 0, 20_000, 'all 1000 delivered');
    await new Promise((r) => setTimeout(r, 200));

    expect(down.duplicates).toBe(0);
    expect(new Set(produced.map((r) => r.resultId))).toEqual(down.ids);
    for (const s of stations) {
      expect(down.byStation.get(s)).toEqual(produced.filter((r) => r.station === s).map((r) => r.partId));
    }
    for (const w of wires) {
      await w.drainer.stop();
      await w.pub.close();
    }
    await down.close();
    await broker.close();
    outbox.close();
  });
});

describe('embedded broker with a login', () => {
  it('refuses clients without the configured user name and password', async () => {
    const broker = await EmbeddedBroker.start('127.0.0.1', 0, { username: 'diad', password: 'pw-embedded' });
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const clock = new FakeClock();
    const mk = (password?: string) =>
      new StationPublisher({
        address: { site: 'site1', line: 'line1', station: 'auth' },
        connection: { url, username: 'diad', password, backoff: { initialMs: 500, maxMs: 500 } },
        deviceId: 'dev1',
        status: status('auth'),
        clock,
        logger: silent,
      });
    const bad = mk('wrong');
    bad.start();
    await waitFor(() => clock.pending === 1, 5000, 'refused and retry scheduled');
    expect(bad.connected).toBe(false);
    await bad.link.close();
    const good = mk('pw-embedded');
    good.start();
    await waitFor(() => good.connected, 5000, 'accepted');
    await good.close();
    await broker.close();
  });
});
