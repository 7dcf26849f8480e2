import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedAgent } from '../helpers/agent.js';
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

type Who = 'anonymous' | 'admin' | 'engineer' | 'supervisor' | 'deviceA';
const WHO: Who[] = ['anonymous', 'admin', 'engineer', 'supervisor', 'deviceA'];
const HUMANS: Who[] = ['admin', 'engineer', 'supervisor'];
const OPS: Who[] = ['admin', 'engineer'];

describe('authorization: every role against every endpoint group', () => {
  let h: Harness;
  const as: Record<Who, Client> = {} as Record<Who, Client>;
  let a: ScriptedAgent;
  let b: ScriptedAgent;
  let lineId = '';
  let modelId = '';

  beforeAll(async () => {
    h = await startHarness('pglite', { loginRateLimitPerMinute: 6 });
    const admin = client(h.cp.url, await login(h.cp.url));
    expect(
      (
        await admin.post('/api/v1/users', {
          username: 'eng',
          password: 'engineer-password',
          role: 'engineer',
        })
      ).status,
    ).toBe(201);
    const key = await admin.post('/api/v1/api-keys', { name: 'dashboard', role: 'supervisor' });
    expect(key.body.key).toMatch(/^diad_k_/);
    const fleet = await makeFleet(admin, ['st1', 'st2']);
    lineId = fleet.line.id;
    a = new ScriptedAgent(h.cp.url);
    b = new ScriptedAgent(h.cp.url);
    await a.enrol(
      (await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id })).body.token,
    );
    await b.enrol(
      (await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[1].id })).body.token,
    );
    modelId = (await admin.raw('POST', '/api/v1/models', uploadForm(await makeBundle('m', '1.0.0')))).body.id;
    await admin.post('/api/v1/rollouts', {
      model: { name: 'm', version: '1.0.0' },
      target: { devices: [b.deviceId] },
    });
    as.anonymous = client(h.cp.url);
    as.admin = admin;
    as.engineer = client(h.cp.url, await login(h.cp.url, 'eng', 'engineer-password'));
    as.supervisor = client(h.cp.url, key.body.key);
    as.deviceA = a.api;
  });
  afterAll(async () => {
    await h?.close();
  });

  const groups: Array<{ group: string; allowed: Who[]; call: (c: Client) => ReturnType<Client['get']> }> = [
    { group: 'users', allowed: ['admin'], call: (c) => c.get('/api/v1/users') },
    { group: 'users write', allowed: ['admin'], call: (c) => c.post('/api/v1/users', {}) },
    { group: 'api keys', allowed: ['admin'], call: (c) => c.get('/api/v1/api-keys') },
    { group: 'signing keys write', allowed: ['admin'], call: (c) => c.post('/api/v1/signing-keys', {}) },
    { group: 'signing keys read', allowed: HUMANS, call: (c) => c.get('/api/v1/signing-keys') },
    { group: 'fleet read', allowed: HUMANS, call: (c) => c.get('/api/v1/sites') },
    { group: 'fleet write', allowed: OPS, call: (c) => c.post('/api/v1/sites', {}) },
    { group: 'enrolment tokens', allowed: OPS, call: (c) => c.post('/api/v1/enrolment-tokens', {}) },
    { group: 'devices read', allowed: HUMANS, call: (c) => c.get(`/api/v1/devices/${b.deviceId}`) },
    {
      group: 'devices write',
      allowed: OPS,
      call: (c) => c.patch(`/api/v1/devices/${b.deviceId}`, { bogus: 1 }),
    },
    { group: 'models read', allowed: HUMANS, call: (c) => c.get('/api/v1/models') },
    { group: 'models write', allowed: OPS, call: (c) => c.post('/api/v1/models', {}) },
    {
      group: 'models status',
      allowed: OPS,
      call: (c) => c.post('/api/v1/models/m/versions/1.0.0/status', {}),
    },
    { group: 'model download', allowed: OPS, call: (c) => c.get('/api/v1/models/m/versions/9.9.9/bundle') },
    { group: 'rollouts read', allowed: HUMANS, call: (c) => c.get('/api/v1/rollouts') },
    { group: 'rollouts write', allowed: OPS, call: (c) => c.post('/api/v1/rollouts', {}) },
    { group: 'thresholds read', allowed: HUMANS, call: (c) => c.get(`/api/v1/lines/${lineId}/thresholds`) },
    {
      group: 'thresholds write',
      allowed: HUMANS,
      call: (c) => c.post(`/api/v1/lines/${lineId}/thresholds`, { image: 'x' }),
    },
    { group: 'results read', allowed: HUMANS, call: (c) => c.get('/api/v1/results?limit=1') },
    { group: 'results aggregates', allowed: HUMANS, call: (c) => c.get('/api/v1/results/aggregates') },
    { group: 'results export', allowed: HUMANS, call: (c) => c.get('/api/v1/results/export.csv?limit=1') },
    { group: 'audit', allowed: HUMANS, call: (c) => c.get('/api/v1/audit') },
    { group: 'agent heartbeat', allowed: ['deviceA'], call: (c) => c.post('/api/v1/agent/heartbeat', {}) },
    { group: 'agent desired state', allowed: ['deviceA'], call: (c) => c.get('/api/v1/agent/desired-state') },
    { group: 'agent results', allowed: ['deviceA'], call: (c) => c.post('/api/v1/agent/results', {}) },
    { group: 'who am I', allowed: [...HUMANS, 'deviceA'], call: (c) => c.get('/api/v1/auth/me') },
    { group: 'health and metrics', allowed: WHO, call: (c) => c.get('/healthz') },
  ];

  for (const g of groups) {
    it(`${g.group}: only ${g.allowed.join(', ')}`, async () => {
      for (const who of WHO) {
        const r = await g.call(as[who]);
        const denied = who === 'anonymous' ? 401 : 403;
        if (g.allowed.includes(who)) expect([401, 403], `${who} → ${r.status}`).not.toContain(r.status);
        else expect(r.status, `${who} should get ${denied}`).toBe(denied);
      }
    });
  }

  it("device A cannot read or change device B's data", async () => {
    // B's bundle: only in B's desired state.
    const bundle = await a.api.get(`/api/v1/agent/bundles/${modelId}`);
    expect(bundle.status).toBe(403);
    expect((await b.api.get(`/api/v1/agent/bundles/${modelId}`)).status).toBe(200);
    // Results in B's name, or for B's station.
    expect((await a.postResults([b.result()])).status).toBe(403);
    expect((await a.postResults([a.result({ station: b.address.station })])).status).toBe(403);
    // B's result images.
    const rb = b.result();
    expect((await b.postResults([rb])).status).toBe(200);
    expect(
      (await a.api.put(`/api/v1/agent/results/${rb.resultId}/image`, Buffer.from('x'), 'image/png')).status,
    ).toBe(403);
    // A's desired state is A's, whatever it asks.
    expect((await a.desired()).deviceId).toBe(a.deviceId);
    // Device credentials never reach human endpoints.
    expect((await a.api.get(`/api/v1/devices/${b.deviceId}/desired-state`)).status).toBe(403);
    expect((await a.api.get(`/api/v1/results/${rb.resultId}`)).status).toBe(403);
  });

  it('a forged, revoked or disabled credential is refused', async () => {
    const forged = `${a.credential.slice(0, -4)}AAAA`;
    expect((await client(h.cp.url, forged).get('/api/v1/agent/desired-state')).status).toBe(401);
    expect((await client(h.cp.url, 'not-a-token').get('/api/v1/sites')).status).toBe(401);
    const k = await as.admin.post('/api/v1/api-keys', { name: 'temp', role: 'engineer' });
    expect((await client(h.cp.url, k.body.key).get('/api/v1/sites')).status).toBe(200);
    expect((await as.admin.del(`/api/v1/api-keys/${k.body.id}`)).status).toBe(200);
    expect((await client(h.cp.url, k.body.key).get('/api/v1/sites')).status).toBe(401);
    expect((await b.api.get('/api/v1/agent/desired-state')).status).toBe(200);
    expect((await as.admin.patch(`/api/v1/devices/${b.deviceId}`, { disabled: true })).status).toBe(200);
    expect((await b.api.get('/api/v1/agent/desired-state')).status).toBe(401);
  });

  it('limits sign-in attempts per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (await as.anonymous.post('/api/v1/auth/login', { username: 'admin', password: 'wrong-password' }))
          .status,
      );
    }
    expect(statuses).toContain(401);
    expect(statuses[statuses.length - 1]).toBe(429);
  });

  it('answers malformed input with a clear 4xx naming the input', async () => {
    const bad = await as.admin.raw('POST', '/api/v1/sites', undefined, {
      'content-type': 'application/json',
    });
    expect(bad.status).toBe(400);
    const broken = await as.admin.raw('POST', '/api/v1/sites', Buffer.from('{"code":'), {
      'content-type': 'application/json',
    });
    expect(broken.status).toBe(400);
    expect(broken.body.message).toMatch(/^body: invalid JSON/);
    const notFound = await as.admin.get('/api/v1/rollouts/00000000-0000-4000-8000-000000000000');
    expect(notFound.status).toBe(404);
    const badId = await as.admin.get('/api/v1/rollouts/123');
    expect(badId.status).toBe(400);
    expect(badId.body.message).toBe('id: expected a UUID');
    expect((await as.admin.get('/api/v1/nothing-here')).status).toBe(404);
  });

  it('documents the API at /docs', async () => {
    const doc = (await as.anonymous.get('/docs/openapi.json')).body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/results',
        '/api/v1/rollouts/{id}/rollback',
        '/api/v1/agent/heartbeat',
        '/api/v1/models',
      ]),
    );
    expect((await as.anonymous.get('/docs')).status).toBe(200);
  });
});
