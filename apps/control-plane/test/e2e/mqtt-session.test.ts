import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@diad/protocol';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlaneConfigInput } from '../../src/config.js';
import { type ControlPlane, createControlPlane } from '../../src/index.js';
import { ScriptedAgent } from '../helpers/agent.js';
import { startAedes, until } from '../helpers/broker.js';
import { ADMIN_PASSWORD, client, login, makeFleet } from '../helpers/harness.js';

describe('MQTT_CLIENT_ID: a persistent MQTT session keeps results published while the control plane is away', () => {
  let dir: string;
  let aedes: Awaited<ReturnType<typeof startAedes>>;
  let cp: ControlPlane | null = null;
  let config: ControlPlaneConfigInput;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'diad-cp-session-'));
    aedes = await startAedes();
    config = {
      port: 0,
      dataDir: join(dir, 'db'),
      blobDir: join(dir, 'blobs'),
      mqttUrl: aedes.url,
      mqttProtocol: 4,
      mqttGroup: '',
      mqttClientId: 'diad-cp-session-test',
      jwtSecret: 'test-secret-test-secret-test-secret-!',
      adminPassword: ADMIN_PASSWORD,
      logLevel: 'silent',
      rolloutTickMs: 0,
    };
  });
  afterAll(async () => {
    await cp?.close();
    await aedes?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ingests a result published during a control-plane restart once it is back', async () => {
    cp = await createControlPlane(config);
    const admin = client(cp.url, await login(cp.url));
    const fleet = await makeFleet(admin);
    const agent = new ScriptedAgent(cp.url);
    await agent.enrol(
      (await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id })).body.token,
    );
    const pub = await mqtt.connectAsync(aedes.url, { protocolVersion: 4 });
    const stored = async (partId: string, base: string) => {
      const c = client(base, await login(base));
      return (await c.get(`/api/v1/results?partId=${partId}`)).body.items.length as number;
    };

    const before = agent.result({ partId: 'before-restart' });
    await pub.publishAsync(topics.result(agent.address), JSON.stringify(before), { qos: 1 });
    expect(
      await until(
        () => stored('before-restart', cp!.url),
        (n) => n === 1,
      ),
    ).toBe(1);

    await cp.close();
    cp = null;
    const during = agent.result({ partId: 'while-away' });
    await pub.publishAsync(topics.result(agent.address), JSON.stringify(during), { qos: 1 });
    await pub.endAsync();

    cp = await createControlPlane(config);
    const base = cp.url;
    expect(
      await until(
        () => stored('while-away', base),
        (n) => n === 1,
      ),
    ).toBe(1);
  });
});
