import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@diad/protocol';
import mqtt from 'mqtt';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedAgent } from '../helpers/agent.js';
import { until } from '../helpers/broker.js';
import { type Client, client, type Harness, login, startHarness } from '../helpers/harness.js';
import { freePort, haveNatsServer, NatsNode } from '../helpers/nats-server.js';

const HAVE = haveNatsServer();

// INGEST_TRANSPORT=nats: the agent speaks MQTT to NATS' MQTT listener, unchanged; the control plane reads the
// stream through its durable JetStream consumer.
describe.skipIf(!HAVE)('control plane ingesting from NATS JetStream', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diad-i15-natscp-'));
  let node: NatsNode;
  let h: Harness;
  let admin: Client;
  const agent = { a: null as ScriptedAgent | null };

  beforeAll(async () => {
    node = new NatsNode({ name: 'i15-cp', port: await freePort(), mqttPort: await freePort() }, dir);
    await node.start();
    h = await startHarness('pglite', {
      ingestTransport: 'nats',
      natsUrl: node.url,
      natsStream: 'I15_CP',
      natsAckWaitSeconds: 5,
    });
    admin = client(h.cp.url, await login(h.cp.url));
    const site = (await admin.post('/api/v1/sites', { code: 'plant', name: 'p' })).body;
    const line = (await admin.post('/api/v1/lines', { siteId: site.id, code: 'l1', name: 'l' })).body;
    const st = (await admin.post('/api/v1/stations', { lineId: line.id, code: 's1', name: 's' })).body;
    agent.a = new ScriptedAgent(h.cp.url);
    await agent.a.enrol((await admin.post('/api/v1/enrolment-tokens', { stationId: st.id })).body.token);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores results published over MQTT exactly once and leaves the work queue empty', async () => {
    const a = agent.a!;
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${node.spec.mqttPort}`, {
      protocolVersion: 4,
      clientId: 'i15-agent',
    });
    const sent = Array.from({ length: 120 }, (_, i) => a.result({ partId: `n-${i}` }));
    for (const r of sent) await pub.publishAsync(topics.result(a.address), JSON.stringify(r), { qos: 1 });
    // A resend (lost PUBACK) of the first ten.
    for (const r of sent.slice(0, 10))
      await pub.publishAsync(topics.result(a.address), JSON.stringify(r), { qos: 1 });
    await pub.endAsync();
    const total = async () =>
      (await admin.get('/api/v1/results/aggregates?bucket=none&groupBy=none')).body.series[0]?.total ?? 0;
    expect(await until(total, (n) => n === 120, 60_000)).toBe(120);
    const nc = await connect({ servers: node.url });
    const jsm = await nc.jetstreamManager();
    const info = await until(
      () => jsm.streams.info('I15_CP'),
      (i) => i.state.messages === 0,
      30_000,
    );
    expect(info.state.messages).toBe(0);
    expect(info.config.subjects).toEqual(['diad.*.*.*.result']);
    await nc.close();
    const ready = await client(h.cp.url).get('/readyz');
    expect(ready.status).toBe(200);
  }, 120_000);
});
