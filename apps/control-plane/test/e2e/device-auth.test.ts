/**
 * Devices proven on the bus (#20), over real connections (control plane, MQTT broker, agents enrolled with their
 * own ed25519 keys): forged, unsigned and tampered results are refused and counted, so 60 forged NOK results no
 * longer drive a live rollout into automatic rollback; status messages are applied only when signed by the device,
 * from an enabled device, and newer than the last one, so a retained status is not re-applied after a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDeviceKey, signDeviceMessage, topics } from '@diad/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/common/metrics.js';
import { RolloutsService } from '../../src/rollouts/rollouts.service.js';
import { ScriptedAgent } from '../helpers/agent.js';
import { startAedes, until } from '../helpers/broker.js';
import { makeBundle } from '../helpers/bundle.js';
import {
  type Client,
  client,
  type Harness,
  login,
  makeFleet,
  startHarness,
  uploadForm,
} from '../helpers/harness.js';

describe('device authentication on the bus (aedes, PGlite in a folder)', () => {
  let aedes: Awaited<ReturnType<typeof startAedes>>;
  let h: Harness;
  let admin: Client;
  let pub: MqttClient;
  const agents: ScriptedAgent[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'diad-i20-auth-'));
  let cfg: Record<string, unknown>;
  let fleetLine = '';

  beforeAll(async () => {
    aedes = await startAedes();
    cfg = { mqttUrl: aedes.url, mqttProtocol: 4 as const, mqttGroup: '', dataDir };
    h = await startHarness('pglite', cfg);
    admin = client(h.cp.url, await login(h.cp.url));
    const fleet = await makeFleet(admin, ['st1', 'st2']);
    fleetLine = fleet.line.id;
    for (let i = 0; i < 2; i++) {
      const t = await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[i].id });
      const a = new ScriptedAgent(h.cp.url);
      await a.enrol(t.body.token, `host-${i}`);
      agents.push(a);
    }
    for (const v of ['1.0.0', '1.1.0']) {
      const r = await admin.raw('POST', '/api/v1/models', uploadForm(await makeBundle('widget', v)));
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    const first = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.0.0' },
      target: { lines: [fleet.line.id] },
      stages: [{ percent: 100 }],
      policy: { promotion: 'auto', bakeSeconds: 0 },
    });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    for (let round = 0; round < 2; round++) for (const a of agents) await a.follow();
    pub = await mqtt.connectAsync(aedes.url, { protocolVersion: 4 });
  });
  afterAll(async () => {
    await pub?.endAsync();
    await h?.close();
    await aedes?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const counter = async (m: Metrics, name: 'resultsRejected' | 'statusRejected', reason: string) =>
    (await m[name].get()).values.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
  const stored = async (site: string, partId: string) =>
    (await admin.get(`/api/v1/results?site=${site}&partId=${partId}&limit=10`)).body.items?.length ?? 0;

  it('refuses 60 forged NOK results for a canary: the live rollout is not rolled back', async () => {
    for (const a of agents) {
      const batch = Array.from({ length: 50 }, (_, i) =>
        a.result({ verdict: i === 0 ? 'NOK' : 'OK', score: 0.1 }),
      );
      expect((await a.postResults(batch)).body).toEqual({ accepted: 50, duplicates: 0 });
    }
    const r = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.1.0' },
      target: { lines: [fleetLine] },
      stages: [{ count: 1 }, { percent: 100 }],
      policy: { maxNokRateDelta: 0.1, minResults: 20 },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const canary = agents.find((a) => a.deviceId === r.body.devices[0].deviceId)!;
    await canary.follow();
    expect((await admin.get(`/api/v1/rollouts/${r.body.id}`)).body.status).toBe('running');

    const m = h.cp.get(Metrics);
    const attacker = generateDeviceKey();
    const nok = { verdict: 'NOK' as const, state: 'nok' as const, score: 0.95 };
    const forged = [
      // 20 unsigned, as the probe sent them
      ...Array.from({ length: 20 }, () => canary.result(nok, { sign: false })),
      // 20 signed, but by a key that is not the device's
      ...Array.from({ length: 20 }, () =>
        signDeviceMessage(canary.result(nok, { sign: false }), attacker.privateKeyPem),
      ),
      // 20 genuine signed OK results with the verdict changed afterwards
      ...Array.from({ length: 20 }, () => ({ ...canary.result({ score: 0.95 }), verdict: 'NOK' as const })),
    ];
    for (const f of forged)
      await pub.publishAsync(topics.result(canary.address), JSON.stringify(f), { qos: 1 });
    // A genuine result after them: once it is stored, every forged one has been judged.
    const genuine = canary.result({ partId: 'genuine-after-forgeries' });
    await pub.publishAsync(topics.result(canary.address), JSON.stringify(genuine), { qos: 1 });
    expect(
      await until(
        () => stored(canary.address.site, 'genuine-after-forgeries'),
        (n) => n === 1,
      ),
    ).toBe(1);

    expect(await counter(m, 'resultsRejected', 'unsigned')).toBe(20);
    expect(await counter(m, 'resultsRejected', 'bad-signature')).toBe(40);
    for (const f of forged.slice(0, 3)) expect(await stored(canary.address.site, f.partId)).toBe(0);
    await h.cp.get(RolloutsService).tick();
    const after = (await admin.get(`/api/v1/rollouts/${r.body.id}`)).body;
    expect(after.status, after.reason).toBe('running');
    expect((await canary.desired()).model?.version).toBe('1.1.0');
  });

  const device = async (a: ScriptedAgent) => (await admin.get(`/api/v1/devices/${a.deviceId}`)).body;

  it('applies a signed status once; refuses forged, replayed and disabled devices’ status', async () => {
    const [a, b] = agents;
    const m = h.cp.get(Metrics);
    const topic = topics.status(a.address);
    const send = (s: unknown, retain = false) =>
      pub.publishAsync(topic, JSON.stringify(s), { qos: 1, retain });

    const forged = a.status({ state: 'degraded', outboxDepth: 999 }, { sign: false });
    await send(forged);
    expect(
      await until(
        () => counter(m, 'statusRejected', 'unsigned'),
        (n) => n === 1,
      ),
    ).toBe(1);

    const genuine = a.status({ state: 'degraded', outboxDepth: 7 });
    await send(genuine, true);
    expect(
      await until(
        () => device(a),
        (d) => d.outboxDepth === 7,
      ),
    ).toMatchObject({ outboxDepth: 7 });
    await send(genuine);
    expect(
      await until(
        () => counter(m, 'statusRejected', 'replayed'),
        (n) => n === 1,
      ),
    ).toBe(1);

    // A status for another station's topic, signed by the device: refused.
    await pub.publishAsync(topics.status(b.address), JSON.stringify(a.status({ outboxDepth: 3 })), {
      qos: 1,
    });
    expect(
      await until(
        () => counter(m, 'statusRejected', 'address-mismatch'),
        (n) => n === 1,
      ),
    ).toBe(1);

    expect((await admin.patch(`/api/v1/devices/${b.deviceId}`, { disabled: true })).status).toBe(200);
    await pub.publishAsync(topics.status(b.address), JSON.stringify(b.status({ outboxDepth: 5 })), {
      qos: 1,
    });
    expect(
      await until(
        () => counter(m, 'statusRejected', 'disabled-device'),
        (n) => n === 1,
      ),
    ).toBe(1);
    expect((await device(b)).outboxDepth).toBe(0);
  });

  it('does not re-apply the retained status after a restart', async () => {
    const [a] = agents;
    const seen = (await device(a)).lastSeenAt;
    expect(seen).toBeTruthy();
    await h.close();
    await new Promise((r) => setTimeout(r, 50));
    h = await startHarness('pglite', cfg);
    admin = client(h.cp.url, await login(h.cp.url));
    const m = h.cp.get(Metrics);
    // The broker hands the new subscription the retained status; it must be judged a replay.
    expect(
      await until(
        () => counter(m, 'statusRejected', 'replayed'),
        (n) => n >= 1,
        20_000,
      ),
    ).toBe(1);
    expect((await device(a)).lastSeenAt).toBe(seen);
  });
});
