import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RolloutsService } from '../../src/rollouts/rollouts.service.js';
import { ScriptedAgent } from '../helpers/agent.js';
import { makeBundle } from '../helpers/bundle.js';
import {
  BACKENDS,
  type Client,
  client,
  type Harness,
  login,
  makeFleet,
  startHarness,
  uploadForm,
} from '../helpers/harness.js';

describe.each(BACKENDS)('rollouts end to end on $name', ({ name }) => {
  let h: Harness;
  let admin: Client;
  let fleet: Awaited<ReturnType<typeof makeFleet>>;
  const agents: ScriptedAgent[] = [];

  beforeAll(async () => {
    h = await startHarness(name);
    admin = client(h.cp.url, await login(h.cp.url));
    fleet = await makeFleet(admin, ['st1', 'st2']);
    for (let i = 0; i < 4; i++) {
      const station = fleet.stations[i % 2];
      const t = await admin.post('/api/v1/enrolment-tokens', {
        stationId: station.id,
        deviceName: `edge-${i}`,
      });
      expect(t.status).toBe(201);
      const a = new ScriptedAgent(h.cp.url);
      await a.enrol(t.body.token, `host-${i}`);
      agents.push(a);
    }
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
      const r = await admin.raw('POST', '/api/v1/models', uploadForm(await makeBundle('widget', v)));
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  const rolloutOf = async (id: string) => (await admin.get(`/api/v1/rollouts/${id}`)).body;
  const followAll = async (opts: { fail?: ScriptedAgent } = {}) => {
    for (const a of agents) await a.follow({ fail: a === opts.fail });
  };

  it('an enrolment token works once', async () => {
    const t = await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id });
    const a = new ScriptedAgent(h.cp.url);
    await a.enrol(t.body.token);
    await expect(new ScriptedAgent(h.cp.url).enrol(t.body.token)).rejects.toThrow(/enrol: 401/);
    expect((await admin.patch(`/api/v1/devices/${a.deviceId}`, { disabled: true })).status).toBe(200);
  });

  it('rolls a first model out stage by stage to the end, promoting automatically', async () => {
    const r = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.0.0' },
      target: { lines: [fleet.line.id] },
      stages: [{ count: 1 }, { percent: 50 }, { percent: 100 }],
      policy: { promotion: 'auto', bakeSeconds: 0 },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.devices.map((d: { stage: number }) => d.stage).sort()).toEqual([0, 1, 2, 2]);
    const withModel = async () =>
      (await Promise.all(agents.map((a) => a.desired()))).filter((d) => d.model).length;
    expect(await withModel()).toBe(1);
    const canary = agents.find((a) => a.deviceId === r.body.devices[0].deviceId)!;
    await canary.follow();
    expect(await withModel()).toBe(2);
    expect((await rolloutOf(r.body.id)).currentStage).toBe(1);
    for (let round = 0; round < 3; round++) await followAll();
    const audit = (await admin.get(`/api/v1/audit?entityType=rollout&entityId=${r.body.id}`)).body.items;
    const system = audit
      .filter((e: { actorType: string }) => e.actorType === 'system')
      .map((e: { action: string }) => e.action);
    expect(system.sort()).toEqual(['rollout.complete', 'rollout.promote', 'rollout.promote']);
    const done = await rolloutOf(r.body.id);
    expect(done.status).toBe('completed');
    expect(done.counts).toEqual({ active: 4 });
    const devices = (await admin.get(`/api/v1/devices?lineId=${fleet.line.id}`)).body;
    const reporting = devices.filter((d: { activeModel: unknown }) => d.activeModel);
    expect(reporting).toHaveLength(4);
    expect(reporting.every((d: { online: boolean }) => d.online)).toBe(true);
    const metrics = (await client(h.cp.url).get('/metrics')).body as string;
    expect(metrics).toMatch(/^diad_devices_online 4$/m);
    expect(metrics).toMatch(/^diad_devices 4$/m);
  });

  it('serves thresholds in the desired state and bumps the revision', async () => {
    const before = await agents[0].desired();
    expect(before.thresholds).toEqual({ version: 0, image: 0.5, pixel: 0.3 });
    const st = agents[0].address.station;
    const t = await admin.post(`/api/v1/lines/${fleet.line.id}/thresholds`, {
      image: 0.6,
      stationOverrides: { [st]: { image: 0.7, categories: { screw: 0.9 } } },
      categoryOverrides: { screw: 0.8, nut: 0.4 },
    });
    expect(t.status, JSON.stringify(t.body)).toBe(201);
    const after = await agents[0].desired();
    expect(after.thresholds).toEqual({ version: 1, image: 0.7, pixel: 0.3 });
    expect(after.categoryThresholds).toEqual({ screw: 0.9, nut: 0.4 });
    expect(after.revision).toBeGreaterThan(before.revision);
    const other = agents.find((a) => a.address.station !== st)!;
    expect((await other.desired()).thresholds).toEqual({ version: 1, image: 0.6, pixel: 0.3 });
  });

  it('rolls back automatically when a device fails to activate', async () => {
    const r = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.1.0' },
      target: { lines: [fleet.line.id] },
      stages: [{ count: 2 }, { percent: 100 }],
    });
    expect(r.status).toBe(201);
    const first = agents.find((a) => r.body.devices[0].deviceId === a.deviceId)!;
    expect((await first.desired()).model?.version).toBe('1.1.0');
    await first.follow({ fail: true });
    const after = await rolloutOf(r.body.id);
    expect(after.status).toBe('rolled_back');
    expect(after.reason).toMatch(/automatic: activation failed on 1 of 2/);
    for (const a of agents) expect((await a.desired()).model?.version).toBe('1.0.0');
  });

  it('rolls back automatically when the NOK rate drifts against the previous model', async () => {
    // Baseline: the previous model (1.0.0) judged 200 parts with 2% NOK.
    for (const a of agents) {
      const batch = Array.from({ length: 50 }, (_, i) =>
        a.result({ verdict: i === 0 ? 'NOK' : 'OK', score: 0.1 + i / 1000 }),
      );
      expect((await a.postResults(batch)).body).toEqual({ accepted: 50, duplicates: 0 });
    }
    const r = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.1.0' },
      target: { lines: [fleet.line.id] },
      stages: [{ count: 1 }, { percent: 100 }],
      policy: { maxNokRateDelta: 0.1, minResults: 20 },
    });
    expect(r.status).toBe(201);
    const canary = agents.find((a) => r.body.devices[0].deviceId === a.deviceId)!;
    await canary.follow();
    expect((await rolloutOf(r.body.id)).status).toBe('running');
    const bad = Array.from({ length: 30 }, (_, i) =>
      canary.result({ verdict: i % 2 ? 'NOK' : 'OK', score: 0.6 }),
    );
    await canary.postResults(bad);
    await h.cp.get(RolloutsService).tick();
    const after = await rolloutOf(r.body.id);
    expect(after.status).toBe('rolled_back');
    expect(after.reason).toMatch(/NOK rate rose by/);
    expect((await canary.desired()).model?.version).toBe('1.0.0');
    await canary.follow();
  });

  it('promotes by hand, then rolls a completed rollout back to the previous version', async () => {
    const r = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.2.0' },
      target: { stations: fleet.stations.map((s: { id: string }) => s.id) },
      stages: [{ count: 1 }, { percent: 100 }],
      policy: { promotion: 'manual' },
    });
    expect(r.status).toBe(201);
    const early = await admin.post(`/api/v1/rollouts/${r.body.id}/promote`, {});
    expect(early.status).toBe(409);
    await followAll();
    expect((await rolloutOf(r.body.id)).next).toEqual({
      action: 'none',
      why: 'waiting for a manual promotion',
    });
    expect((await admin.post(`/api/v1/rollouts/${r.body.id}/promote`, {})).status).toBe(200);
    await followAll();
    expect((await rolloutOf(r.body.id)).status).toBe('completed');
    for (const a of agents) expect(a.active?.version).toBe('1.2.0');
    const rb = await admin.post(`/api/v1/rollouts/${r.body.id}/rollback`, {
      reason: 'operator: false rejects',
    });
    expect(rb.status).toBe(200);
    expect(rb.body.status).toBe('rolled_back');
    await followAll();
    for (const a of agents) expect(a.active?.version).toBe('1.0.0');
    const audit = (await admin.get(`/api/v1/audit?entityType=rollout&entityId=${r.body.id}`)).body.items;
    const actions = audit.map((e: { action: string }) => e.action);
    expect(actions).toContain('rollout.create');
    expect(actions).toContain('rollout.promote');
    expect(actions).toContain('rollout.rollback');
    const rollback = audit.find((e: { action: string }) => e.action === 'rollout.rollback');
    expect(rollback.actorName).toBe('admin');
    expect(rollback.requestId).toBe(rb.headers.get('x-request-id'));
    expect(rollback.before).toEqual({ status: 'completed', currentStage: 1 });
  });

  it('runs a shadow rollout beside the active model and can abort it', async () => {
    const r = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.1.0' },
      mode: 'shadow',
      target: { devices: [agents[0].deviceId] },
    });
    expect(r.status).toBe(201);
    const d = await agents[0].desired();
    expect(d.model?.version).toBe('1.0.0');
    expect(d.shadowModel?.version).toBe('1.1.0');
    const ref = { name: 'widget', version: '1.1.0', sha256: d.shadowModel!.sha256 };
    await agents[0].heartbeat([{ model: ref, state: 'shadow', error: null, rolloutId: r.body.id }]);
    await agents[0].postResults(
      Array.from({ length: 5 }, () =>
        agents[0].result({ shadow: { model: ref, score: 0.3, verdict: 'OK' } }),
      ),
    );
    const done = await rolloutOf(r.body.id);
    expect(done.status).toBe('completed');
    expect(done.metrics.candidate.count).toBe(5);
    expect(done.metrics.candidate.meanScore).toBeCloseTo(0.3);
    expect((await admin.post(`/api/v1/rollouts/${r.body.id}/rollback`, {})).status).toBe(200);
    expect((await agents[0].desired()).shadowModel).toBeNull();
  });

  it('refuses a rollout onto devices that are in a live rollout, and retiring a model in use', async () => {
    const a = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.2.0' },
      target: { devices: [agents[1].deviceId] },
      policy: { promotion: 'manual' },
    });
    expect(a.status).toBe(201);
    const b = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.1.0' },
      target: { lines: [fleet.line.id] },
    });
    expect(b.status).toBe(409);
    expect((await admin.post(`/api/v1/rollouts/${a.body.id}/pause`, {})).body.status).toBe('paused');
    expect((await admin.post(`/api/v1/rollouts/${a.body.id}/resume`, {})).body.status).toBe('running');
    expect((await admin.post(`/api/v1/rollouts/${a.body.id}/abort`, {})).body.status).toBe('aborted');
    expect((await agents[1].desired()).model?.version).toBe('1.0.0');
    const retire = await admin.post('/api/v1/models/widget/versions/1.0.0/status', { status: 'retired' });
    expect(retire.status).toBe(409);
    expect(
      (
        await admin.post('/api/v1/models/widget/versions/1.1.0/status', {
          status: 'retired',
          reason: 'drift',
        })
      ).status,
    ).toBe(201);
    const c = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.1.0' },
      target: { lines: [fleet.line.id] },
    });
    expect(c.status).toBe(422);
  });
  it('rolls out only a bundle with the required accelerator variant when asked to, naming what is missing', async () => {
    const up = await admin.raw(
      'POST',
      '/api/v1/models',
      uploadForm(await makeBundle('widget-trt', '1.0.0', { tensorrtVariantFor: '8.9' })),
    );
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const plain = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.2.0' },
      target: { lines: [fleet.line.id] },
      requireVariant: { provider: 'tensorrt' },
    });
    expect(plain.status).toBe(422);
    expect(plain.body.message).toBe('requireVariant: widget@1.2.0 has no tensorrt variant');
    const otherGpu = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget-trt', version: '1.0.0' },
      target: { lines: [fleet.line.id] },
      requireVariant: { provider: 'tensorrt', computeCapability: '8.7' },
    });
    expect(otherGpu.status).toBe(422);
    expect(otherGpu.body.message).toContain('no tensorrt variant for compute capability 8.7');
    const bad = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget-trt', version: '1.0.0' },
      target: { lines: [fleet.line.id] },
      requireVariant: { provider: 'tensorrt', computeCapability: 'sm89' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^body\.requireVariant\.computeCapability: /);
    // The variant check passes; whatever else the rollout meets (devices in another live rollout) is not about it.
    const ok = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget-trt', version: '1.0.0' },
      target: { lines: [fleet.line.id] },
      requireVariant: { provider: 'tensorrt', computeCapability: '8.9' },
    });
    expect(String(ok.body.message ?? '')).not.toContain('requireVariant');
    expect([201, 409]).toContain(ok.status);
  });
});
