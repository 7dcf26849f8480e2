import { randomBytes } from 'node:crypto';
import { topics } from '@diad/protocol';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedAgent } from '../helpers/agent.js';
import { until } from '../helpers/broker.js';
import { type Client, client, type Harness, login, startHarness } from '../helpers/harness.js';
import { startMosquitto } from '../helpers/mosquitto.js';

// Needs a broker with shared subscriptions (Mosquitto; aedes 1.x has none): a private one, so nothing else
// publishing on a shared broker can change the counts.
describe('two control-plane replicas split the result stream ($share)', () => {
  const group = `split${randomBytes(3).toString('hex')}`;
  const replicas: Harness[] = [];
  const admins: Client[] = [];
  const agents: ScriptedAgent[] = [];
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let MQTT_URL: string;

  beforeAll(async () => {
    broker = await startMosquitto();
    MQTT_URL = broker.url;
    for (let i = 0; i < 2; i++) {
      const h = await startHarness('pglite', { mqttUrl: MQTT_URL, mqttGroup: group });
      replicas.push(h);
      const admin = client(h.cp.url, await login(h.cp.url));
      admins.push(admin);
      // Each replica has its own database here, so each must know the (same-address) device.
      const site = (await admin.post('/api/v1/sites', { code: 'plant', name: 'p' })).body;
      const line = (await admin.post('/api/v1/lines', { siteId: site.id, code: 'l1', name: 'l' })).body;
      const st = (await admin.post('/api/v1/stations', { lineId: line.id, code: 's1', name: 's' })).body;
      const a = new ScriptedAgent(h.cp.url);
      await a.enrol((await admin.post('/api/v1/enrolment-tokens', { stationId: st.id })).body.token);
      agents.push(a);
    }
  });
  afterAll(async () => {
    for (const h of replicas) await h.close();
    await broker?.close();
  });

  it('delivers each result to exactly one replica', async () => {
    const pub = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5 });
    const n = 200;
    for (let i = 0; i < n; i++) {
      const r = agents[i % 2].result({ partId: `split-${i}` });
      await pub.publishAsync(topics.result(agents[0].address), JSON.stringify(r), { qos: 1 });
    }
    await pub.endAsync();
    const stored = async () => {
      const counts = [];
      for (const admin of admins) {
        const agg = (await admin.get('/api/v1/results/aggregates?bucket=none&groupBy=none')).body.series;
        counts.push(agg[0]?.total ?? 0);
      }
      return counts;
    };
    // A replica stores only its own device's results and rejects the other's as unknown. Each message counted
    // once in total (stored or rejected) means the broker gave it to one replica only; without $share it is 2n.
    await until(stored, (c) => c[0] + c[1] > 0, 5000);
    await new Promise((r) => setTimeout(r, 500));
    const final = await stored();
    const metrics = await Promise.all(
      replicas.map(async (h) => (await client(h.cp.url).get('/metrics')).body as string),
    );
    const rejected = metrics.map((m) => Number(/reason="unknown-device"\} (\d+)/.exec(m)?.[1] ?? 0));
    expect(final[0] + final[1] + rejected[0] + rejected[1]).toBe(n);
    expect(final[0] + rejected[0]).toBeGreaterThan(0);
    expect(final[1] + rejected[1]).toBeGreaterThan(0);
  });
});
