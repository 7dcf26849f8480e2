import { topics } from '@diad/protocol';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ingestion } from '../../src/results/ingestion/ingestion.service.js';
import { ScriptedAgent } from '../helpers/agent.js';
import { until } from '../helpers/broker.js';
import { type Client, client, type Harness, login, makeFleet, startHarness } from '../helpers/harness.js';
import { startMosquitto } from '../helpers/mosquitto.js';

const PROBE_MS = 1000;
const WAIT_MS = 30_000;

// A private Mosquitto: this test takes the control plane's subscription away behind its back.
describe('MQTT ingestion liveness: canary, re-subscribe, /readyz and the stall alarm', () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let h: Harness;
  let admin: Client;
  let agent: ScriptedAgent;
  let pub: mqtt.MqttClient;

  beforeAll(async () => {
    broker = await startMosquitto();
    h = await startHarness('pglite', {
      mqttUrl: broker.url,
      mqttGroup: 'live',
      mqttClientId: 'live-cp',
      mqttCleanSession: false,
      mqttProbeMs: PROBE_MS,
      ingestStallSeconds: 1,
    });
    admin = client(h.cp.url, await login(h.cp.url));
    const fleet = await makeFleet(admin);
    agent = new ScriptedAgent(h.cp.url);
    await agent.enrol(
      (await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id })).body.token,
    );
    pub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  });
  afterAll(async () => {
    await pub?.endAsync();
    await h?.close();
    await broker?.close();
  });

  const ready = async () => client(h.cp.url).get('/readyz');
  const stored = async (partId: string) =>
    (await admin.get(`/api/v1/results?partId=${partId}`)).body.items.length as number;
  const metric = async (name: string) => {
    const text = (await client(h.cp.url).get('/metrics')).body as string;
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };
  const publish = (partId: string) =>
    pub.publishAsync(topics.result(agent.address), JSON.stringify(agent.result({ partId })), { qos: 1 });

  it('is ready with the database migrated and the subscription confirmed', async () => {
    const r = await until(ready, (x) => x.status === 200, WAIT_MS);
    expect(r.status).toBe(200);
    expect(r.body.checks.database).toBe('ok');
    expect(r.body.checks.migrations).toBe('ok');
    expect(r.body.checks.ingestion.transports[0]).toMatchObject({ name: 'mqtt', attached: true });
    await publish('live-1');
    expect(
      await until(
        () => stored('live-1'),
        (n) => n === 1,
      ),
    ).toBe(1);
  });

  it('detects a subscription that stopped delivering within the probe interval and recovers without a restart', async () => {
    const missedBefore = await metric('diad_mqtt_canary_missed_total');
    const resubscribedBefore = await metric('diad_mqtt_resubscribes_total');
    await h.cp.get(Ingestion).mqttTransport!.dropSubscriptionForTest();
    const t0 = Date.now();
    const down = await until(
      ready,
      (r) => r.status === 503 && /canary/.test(r.body.reasons.join(' ')),
      WAIT_MS,
    );
    const detectedMs = Date.now() - t0;
    expect(down.status).toBe(503);
    // One interval for the canary in flight, one to notice it missing; the bound allows for a loaded machine.
    console.log(`subscription loss detected after ${detectedMs} ms (probe interval ${PROBE_MS} ms)`);
    expect(detectedMs).toBeLessThan(2 * PROBE_MS + 10_000);
    expect(await metric('diad_mqtt_canary_missed_total')).toBeGreaterThan(missedBefore);
    expect(await metric('diad_mqtt_resubscribes_total')).toBeGreaterThan(resubscribedBefore);
    const up = await until(ready, (r) => r.status === 200, WAIT_MS);
    expect(up.status).toBe(200);
    await publish('live-2');
    expect(
      await until(
        () => stored('live-2'),
        (n) => n === 1,
      ),
    ).toBe(1);
  });

  it('raises the stall alarm when agents report queued results and nothing is committed', async () => {
    const hb = {
      schema: 'diad.heartbeat/v1',
      at: new Date().toISOString(),
      health: 'ok',
      provider: 'cpu',
      queueDepth: 0,
      outboxDepth: 42,
      activeModel: null,
      modelReports: [],
    };
    expect((await agent.api.post('/api/v1/agent/heartbeat', hb)).status).toBe(200);
    const isStalled = (r: { body: { reasons?: string[] } }) =>
      /ingestion stalled/.test((r.body.reasons ?? []).join(' '));
    const stalled = await until(ready, isStalled, WAIT_MS);
    expect(stalled.status).toBe(503);
    expect(stalled.body.reasons.join(' ')).toMatch(/ingestion stalled: 1 device\(s\) report 42 result/);
    expect(await metric('diad_ingest_stalled')).toBe(1);
    await publish('live-3');
    expect(
      await until(
        () => stored('live-3'),
        (n) => n === 1,
      ),
    ).toBe(1);
    // Not stalled any more (a canary delayed by a loaded machine may still answer 503 for its own reason).
    expect(isStalled(await until(ready, (r) => !isStalled(r), WAIT_MS))).toBe(false);
    expect(await metric('diad_ingest_stalled')).toBe(0);
  });
});
