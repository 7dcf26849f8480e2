/**
 * Idempotent enrolment (#15): an agent whose enrolment reply was lost retries with its (now used) one-time token
 * and gets the same device and credential; anything but a retry of the same request is still refused.
 */
import { agentApi, generateDeviceKey } from '@diad/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKENDS,
  type Client,
  client,
  type Harness,
  login,
  ManualClock,
  makeFleet,
  startHarness,
} from '../helpers/harness.js';

const WINDOW_S = 600;

describe.each(BACKENDS)('idempotent enrolment on $name', ({ name }) => {
  let h: Harness;
  let admin: Client;
  let anon: Client;
  let fleet: Awaited<ReturnType<typeof makeFleet>>;
  const clock = new ManualClock();

  beforeAll(async () => {
    h = await startHarness(name, { enrolRetryWindowSeconds: WINDOW_S }, clock);
    admin = client(h.cp.url, await login(h.cp.url));
    anon = client(h.cp.url);
    fleet = await makeFleet(admin, ['st1']);
  });
  afterAll(async () => {
    await h?.close();
  });

  const token = async () =>
    (await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id })).body.token as string;
  const request = (t: string, over: Record<string, unknown> = {}) => ({
    token: t,
    hostname: 'edge-retry',
    agentVersion: '0.1.0',
    providers: ['cpu'],
    publicKey: generateDeviceKey().publicKey,
    ...over,
  });
  const devicesAtStation = async () =>
    (await admin.get(`/api/v1/devices?stationId=${fleet.stations[0].id}`)).body as unknown[];

  it('answers a retry of the same request with the same device and credential, and the credential works', async () => {
    const before = (await devicesAtStation()).length;
    const body = request(await token());
    const first = await anon.post(agentApi.enrol, body);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    clock.advance(30_000);
    const again = await anon.post(agentApi.enrol, body);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body).toEqual(first.body);
    expect((await devicesAtStation()).length).toBe(before + 1);
    const dev = client(h.cp.url, again.body.credential);
    expect((await dev.get(agentApi.desiredState)).status).toBe(200);
    const audit = (await admin.get(`/api/v1/audit?entityType=device&entityId=${first.body.deviceId}`)).body
      .items as Array<{ action: string }>;
    expect(audit.map((e) => e.action).sort()).toEqual(['device.enrol', 'device.enrol-retry']);
    const metrics = await (await fetch(`${h.cp.url}/metrics`)).text();
    expect(metrics).toMatch(/diad_enrolments_total\{outcome="replayed"\} [1-9]/);
  });

  it('gives concurrent identical requests one device', async () => {
    const body = request(await token());
    const replies = await Promise.all([1, 2, 3, 4].map(() => anon.post(agentApi.enrol, body)));
    expect(replies.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(new Set(replies.map((r) => r.body.deviceId)).size).toBe(1);
    expect(new Set(replies.map((r) => r.body.credential)).size).toBe(1);
  });

  it('refuses a used token with another key, hostname, version or provider list', async () => {
    const body = request(await token());
    expect((await anon.post(agentApi.enrol, body)).status).toBe(201);
    for (const over of [
      { publicKey: generateDeviceKey().publicKey },
      { publicKey: undefined },
      { hostname: 'someone-else' },
      { agentVersion: '0.2.0' },
      { providers: ['cuda', 'cpu'] },
    ]) {
      const r = await anon.post(agentApi.enrol, { ...body, ...over });
      expect(r.status, JSON.stringify(over)).toBe(401);
      expect(r.body.message).toMatch(/enrolment token is unknown, used or expired/);
    }
    // The same request still works after the refusals (they changed nothing).
    expect((await anon.post(agentApi.enrol, body)).status).toBe(201);
  });

  it('refuses a retry after the window, for a disabled device, and an unknown token', async () => {
    const late = request(await token());
    expect((await anon.post(agentApi.enrol, late)).status).toBe(201);
    clock.advance(WINDOW_S * 1000 + 1000);
    expect((await anon.post(agentApi.enrol, late)).status).toBe(401);

    const disabled = request(await token());
    const first = await anon.post(agentApi.enrol, disabled);
    expect(first.status).toBe(201);
    expect((await admin.patch(`/api/v1/devices/${first.body.deviceId}`, { disabled: true })).status).toBe(
      200,
    );
    expect((await anon.post(agentApi.enrol, disabled)).status).toBe(401);

    expect((await anon.post(agentApi.enrol, request('diad_e_not-a-token-that-exists'))).status).toBe(401);
  });
});

describe('enrolment retries turned off', () => {
  it('refuses every reuse of a token with ENROL_RETRY_WINDOW_SECONDS=0', async () => {
    const h = await startHarness('pglite', { enrolRetryWindowSeconds: 0 });
    try {
      const admin = client(h.cp.url, await login(h.cp.url));
      const fleet = await makeFleet(admin, ['st1']);
      const t = (await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id })).body
        .token;
      const body = { token: t, hostname: 'h', agentVersion: '0.1.0', providers: [] };
      const anon = client(h.cp.url);
      expect((await anon.post(agentApi.enrol, body)).status).toBe(201);
      expect((await anon.post(agentApi.enrol, body)).status).toBe(401);
    } finally {
      await h.close();
    }
  });
});
