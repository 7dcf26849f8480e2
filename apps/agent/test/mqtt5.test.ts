import { join } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../src/app.js';
import { systemClock } from '../src/clock.js';
import { parseConfig } from '../src/config.js';
import { makePpm } from '../src/inspector/pnm.js';
import { PublishRefusedError } from '../src/mqtt/link.js';
import { StationPublisher } from '../src/mqtt/publisher.js';
import { OutboxDrainer } from '../src/outbox/drainer.js';
import { SqliteOutbox } from '../src/outbox/sqlite.js';
import { fakeResult, silent, standInBundle, tmp, waitFor } from './helpers.js';
import { PrivateMosquitto } from './mosquitto.js';

// Result publishing over MQTT 5 against a private Mosquitto: a PUBACK with 0x10 ("no matching subscribers")
// means the broker dropped the result, so it must stay in the outbox and be sent again.

const status = (station: string) => () => ({
  deviceId: 'dev1',
  state: 'online' as const,
  model: null,
  provider: 'cpu',
  queueDepth: 0,
  outboxDepth: 0,
  station,
});

const uid = () => Math.random().toString(36).slice(2, 8);

function agent(url: string, station: string, outbox: SqliteOutbox, protocolVersion: 4 | 5 = 5) {
  const refused: string[] = [];
  const pub = new StationPublisher({
    address: { site: 'site1', line: 'line1', station },
    connection: {
      url,
      protocolVersion,
      backoff: { initialMs: 50, maxMs: 400 },
      clientId: `agent-${station}-${uid()}`,
    },
    deviceId: 'dev1',
    status: status(station),
    clock: systemClock,
    logger: silent,
  });
  const drainer = new OutboxDrainer({
    outbox,
    station,
    sink: pub,
    clock: systemClock,
    backoff: { initialMs: 50, maxMs: 400 },
    inflight: 16,
    logger: silent,
    onBrokerRefused: (reason) => refused.push(reason),
  });
  return { pub, drainer, refused };
}

/** Records results by id (duplicates counted) and the first-seen order per station. */
class Consumer {
  readonly ids = new Set<string>();
  readonly order = new Map<string, number[]>();
  duplicates = 0;
  client: MqttClient | null = null;

  record(payload: Buffer) {
    const r = JSON.parse(payload.toString()) as InspectionResult;
    if (this.ids.has(r.resultId)) {
      this.duplicates++;
      return;
    }
    this.ids.add(r.resultId);
    const l = this.order.get(r.station) ?? [];
    l.push(r.partId === undefined ? -1 : Number(String(r.partId).replace(/\D/g, '')));
    this.order.set(r.station, l);
  }

  /** Connects (MQTT 5) and subscribes; `persistent` keeps the session (and subscription) for an hour. */
  async attach(url: string, topic: string, clientId: string, persistent: boolean): Promise<void> {
    const c = mqtt.connect(url, {
      protocolVersion: 5,
      clientId,
      clean: !persistent,
      properties: persistent ? { sessionExpiryInterval: 3600 } : undefined,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    c.on('error', () => {});
    c.on('message', (_t, payload) => this.record(payload));
    this.client = c;
    await new Promise<void>((res, rej) => {
      c.once('connect', () => res());
      c.once('error', rej);
    });
    await c.subscribeAsync(topic, { qos: 1 });
  }

  async detach() {
    const c = this.client;
    this.client = null;
    if (c) await c.endAsync(true).catch(() => {});
  }
}

describe('MQTT 5 result publishing against a private Mosquitto', () => {
  let broker: PrivateMosquitto;
  beforeAll(async () => {
    broker = await PrivateMosquitto.start();
  }, 30_000);
  afterAll(async () => {
    await broker?.close();
  });

  it('a result nobody subscribes to is refused (0x10) and kept; delivered exactly once when a subscriber comes', async () => {
    const station = `st-${uid()}`;
    const outbox = new SqliteOutbox(join(tmp(), 'o.db'), { capacityBytes: 1 << 24 });
    const a = agent(broker.url, station, outbox);
    a.pub.start();
    await waitFor(() => a.pub.connected, 15_000, 'agent connected');

    // The link itself: the PUBACK's 0x10 surfaces as a refusal, not a success.
    const err = await a.pub.publishResult(fakeResult(station, 999)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishRefusedError);
    expect((err as PublishRefusedError).reasonCode).toBe(0x10);
    expect((err as PublishRefusedError).reason).toBe('no_matching_subscribers');

    const rs = Array.from({ length: 20 }, (_, i) => fakeResult(station, i));
    for (const r of rs) outbox.append(r);
    a.drainer.start();
    await waitFor(() => a.refused.length >= 3, 15_000, 'refusals while nobody subscribes');
    expect(outbox.depth(station)).toBe(20);
    expect(new Set(a.refused)).toEqual(new Set(['no_matching_subscribers']));

    const consumer = new Consumer();
    await consumer.attach(broker.url, `diad/site1/line1/${station}/result`, `cons-${uid()}`, false);
    await waitFor(
      () => consumer.ids.size === 20 && outbox.depth(station) === 0,
      20_000,
      'all 20 delivered after the subscriber attached',
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(consumer.duplicates).toBe(0);
    expect(consumer.ids).toEqual(new Set(rs.map((r) => r.resultId)));
    expect(consumer.order.get(station)).toEqual(rs.map((_, i) => i));

    await a.drainer.stop();
    await a.pub.close();
    await consumer.detach();
    outbox.close();
  }, 60_000);

  it('MQTT 3.1.1 (protocolVersion 4) cannot see the refusal: the same publish counts as delivered', async () => {
    const station = `st-${uid()}`;
    const outbox = new SqliteOutbox(join(tmp(), 'o4.db'), { capacityBytes: 1 << 24 });
    const a = agent(broker.url, station, outbox, 4);
    a.pub.start();
    await waitFor(() => a.pub.connected, 15_000, 'agent connected');
    await expect(a.pub.publishResult(fakeResult(station, 1))).resolves.toBeUndefined();
    await a.pub.close();
    outbox.close();
  }, 30_000);

  it('broker restart with a persistent $share subscriber that re-subscribes late: 0 results lost', async () => {
    const stations = [`st-${uid()}`, `st-${uid()}`];
    const group = `diad-cp-${uid()}`;
    const topic = `$share/${group}/diad/site1/line1/+/result`;
    const consumerId = `cp-${uid()}`;
    const consumer = new Consumer();
    await consumer.attach(broker.url, topic, consumerId, true);

    const outbox = new SqliteOutbox(join(tmp(), 'r.db'), { capacityBytes: 1 << 26 });
    const agents = stations.map((s) => agent(broker.url, s, outbox));
    for (const a of agents) {
      a.pub.start();
      a.drainer.start();
    }
    await waitFor(() => agents.every((a) => a.pub.connected), 15_000, 'agents connected');

    // Produce 600 results (300 per station) over ~3 s; the broker restarts in the middle and the shared
    // subscriber only comes back (same client id, same session) 1.5 s after the broker does.
    const produced: InspectionResult[] = [];
    let i = 0;
    const produce = (n: number) => {
      for (let k = 0; k < n; k++, i++) {
        const r = fakeResult(stations[i % 2], i);
        produced.push(r);
        outbox.append(r);
      }
      for (const a of agents) a.drainer.kick();
    };
    const producer = setInterval(() => i < 600 && produce(10), 50);
    try {
      await waitFor(() => i >= 200, 15_000, 'first third produced');
      // The consumer is connected when the broker goes down (as a control plane would be) and stays away.
      await broker.down();
      await consumer.detach();
      await broker.up();
      await waitFor(() => agents.every((a) => a.pub.connected), 15_000, 'agents reconnected');
      const refusedBefore = agents.reduce((n, a) => n + a.refused.length, 0);
      await new Promise((r) => setTimeout(r, 1500));
      const refusedDuringGap = agents.reduce((n, a) => n + a.refused.length, 0) - refusedBefore;
      await consumer.attach(broker.url, topic, consumerId, true);
      await waitFor(() => i >= 600, 20_000, 'all produced');
      await waitFor(
        () => outbox.depth() === 0 && consumer.ids.size >= 600,
        30_000,
        'all 600 delivered after the late re-subscribe',
      );
      const lost = produced.filter((r) => !consumer.ids.has(r.resultId)).length;
      console.log(
        `[mqtt5 restart] produced=${produced.length} delivered=${consumer.ids.size} lost=${lost} ` +
          `duplicates=${consumer.duplicates} refused(0x10) during the gap=${refusedDuringGap} ` +
          `total refused=${agents.reduce((n, a) => n + a.refused.length, 0)}`,
      );
      expect(lost).toBe(0);
      // Per station, results arrive in the order they were produced (first delivery of each id).
      for (const s of stations) {
        const want = produced
          .filter((r) => r.station === s)
          .map((r) => Number(String(r.partId).replace(/\D/g, '')));
        expect(consumer.order.get(s)).toEqual(want);
      }
    } finally {
      clearInterval(producer);
      for (const a of agents) {
        await a.drainer.stop();
        await a.pub.close();
      }
      await consumer.detach();
      outbox.close();
    }
  }, 90_000);
});

describe('MQTT 5 refusals >= 0x80 and the agent metric', () => {
  it('a publish the ACL denies (PUBACK 0x87 not authorized) stays in the outbox and is retried', async () => {
    const denied = `st-denied-${uid()}`;
    const broker = await PrivateMosquitto.start({
      acl: [`topic deny diad/site1/line1/${denied}/result`, 'topic readwrite #'],
    });
    const outbox = new SqliteOutbox(join(tmp(), 'acl.db'), { capacityBytes: 1 << 24 });
    const a = agent(broker.url, denied, outbox);
    try {
      a.pub.start();
      await waitFor(() => a.pub.connected, 15_000, 'agent connected');
      const err = await a.pub.publishResult(fakeResult(denied, 1)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PublishRefusedError);
      expect((err as PublishRefusedError).reasonCode).toBe(0x87);
      outbox.append(fakeResult(denied, 2));
      a.drainer.start();
      await waitFor(() => a.refused.length >= 2, 15_000, 'refused twice (retried)');
      expect(new Set(a.refused)).toEqual(new Set(['not_authorized']));
      expect(outbox.depth(denied)).toBe(1);
    } finally {
      await a.drainer.stop();
      await a.pub.close();
      outbox.close();
      await broker.close();
    }
  }, 60_000);

  it('the agent (default config, external broker) counts refusals in diad_agent_publish_refused_total', async () => {
    const broker = await PrivateMosquitto.start();
    const dir = tmp();
    const agentApp = await Agent.start(
      parseConfig({
        site: 'site1',
        line: 'line1',
        deviceId: 'edge-mqtt5',
        dataDir: join(dir, 'data'),
        model: { kind: 'standin', bundle: standInBundle(dir) },
        stations: [{ id: 'st1' }],
        mqtt: { url: broker.url, backoff: { initialMs: 50, maxMs: 400 } },
        opcua: { enabled: false },
        http: { host: '127.0.0.1', port: 0 },
      }),
      { logger: silent },
    );
    const consumer = new Consumer();
    try {
      expect(agentApp.publishers.get('st1')?.link.protocolVersion).toBe(5);
      const addr = agentApp.http?.server.address();
      const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      const res = await fetch(`${base}/api/v1/frames?station=st1&partId=P-1`, {
        method: 'POST',
        body: makePpm(16, 16, 250),
        headers: { 'content-type': 'application/octet-stream' },
      });
      const r = (await res.json()) as InspectionResult;
      const refused = async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        const m = /diad_agent_publish_refused_total\{reason="no_matching_subscribers"\} (\d+)/.exec(text);
        return m ? Number(m[1]) : 0;
      };
      let n = 0;
      const end = Date.now() + 15_000;
      for (;;) {
        n = await refused();
        if (n >= 2 || Date.now() > end) break;
        await new Promise((x) => setTimeout(x, 100));
      }
      expect(n).toBeGreaterThanOrEqual(2);
      expect(agentApp.outbox.depth()).toBe(1);
      await consumer.attach(broker.url, 'diad/site1/line1/st1/result', `cons-${uid()}`, false);
      await waitFor(() => consumer.ids.has(r.resultId) && agentApp.outbox.depth() === 0, 15_000, 'delivered');
    } finally {
      await consumer.detach();
      await agentApp.stop();
      await broker.close();
    }
  }, 60_000);
});
