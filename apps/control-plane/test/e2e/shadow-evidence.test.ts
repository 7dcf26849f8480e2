import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

type V = 'OK' | 'NOK';

/**
 * A candidate runs in shadow beside the active model on live parts posted by agents over HTTP; supervisors label
 * some of them; the shadow results are summarised into evaluations and decide whether a rollout may proceed.
 */
describe.each(BACKENDS)('shadow results as rollout evidence on $name', ({ name }) => {
  let h: Harness;
  let admin: Client;
  let lineId: string;
  let shadowId: string;
  const agents: ScriptedAgent[] = [];
  const ids: Record<string, string> = {};
  const models: Record<string, string> = {};

  const promote = (evidence: Record<string, unknown>) =>
    admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.1.0' },
      target: { lines: [lineId] },
      policy: { promotion: 'manual' },
      evidence,
    });
  const label = async (key: string, l: string) =>
    expect((await admin.post(`/api/v1/results/${ids[key]}/labels`, { label: l })).status).toBe(201);

  beforeAll(async () => {
    h = await startHarness(name);
    admin = client(h.cp.url, await login(h.cp.url));
    const fleet = await makeFleet(admin, ['st1']);
    lineId = fleet.line.id;
    for (let i = 0; i < 2; i++) {
      const t = await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id });
      const a = new ScriptedAgent(h.cp.url);
      await a.enrol(t.body.token, `edge-shadow-${i}`);
      agents.push(a);
    }
    for (const v of ['1.0.0', '1.1.0']) {
      const r = await admin.raw('POST', '/api/v1/models', uploadForm(await makeBundle('widget', v)));
      expect(r.status).toBe(201);
      models[v] = r.body.id;
    }
    // The line runs 1.0.0.
    const first = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.0.0' },
      target: { lines: [lineId] },
      policy: { promotion: 'auto', bakeSeconds: 0 },
    });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    for (const a of agents) await a.follow();
    expect((await admin.get(`/api/v1/rollouts/${first.body.id}`)).body.status).toBe('completed');
    // A result from before the shadow rollout (the candidate's verdict was not part of it): left out.
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    const early = agents[0].result({
      verdict: 'OK',
      capturedAt: hourAgo,
      inspectedAt: hourAgo,
      shadow: {
        model: { name: 'widget', version: '1.1.0', sha256: 'b'.repeat(64) },
        score: 0.9,
        verdict: 'NOK',
      },
    });
    ids.early = early.resultId;
    expect((await agents[0].postResults([early])).status).toBe(200);

    const shadow = await admin.post('/api/v1/rollouts', {
      model: { name: 'widget', version: '1.1.0' },
      mode: 'shadow',
      target: { lines: [lineId] },
    });
    expect(shadow.status, JSON.stringify(shadow.body)).toBe(201);
    shadowId = shadow.body.id;
    for (const a of agents) {
      const d = await a.desired();
      const ref = { name: 'widget', version: '1.1.0', sha256: d.shadowModel!.sha256 };
      await a.heartbeat([{ model: ref, state: 'shadow', error: null, rolloutId: shadowId }]);
    }
    expect((await admin.get(`/api/v1/rollouts/${shadowId}`)).body.status).toBe('completed');
    const ref = { name: 'widget', version: '1.1.0', sha256: (await agents[0].desired()).shadowModel!.sha256 };
    // [part, agent, active verdict, candidate verdict]
    const parts: Array<[string, number, V, V]> = [
      ['p1', 0, 'NOK', 'OK'], // false alarm of the active model
      ['p2', 0, 'NOK', 'NOK'],
      ['p3', 1, 'OK', 'OK'],
      ['p4', 1, 'OK', 'NOK'], // a defect only the candidate sees
      ['p5', 0, 'OK', 'OK'], // unlabelled
      ['p6', 1, 'NOK', 'NOK'], // unlabelled
      ['p7', 0, 'OK', 'NOK'],
      ['p8', 1, 'OK', 'NOK'],
    ];
    for (const [key, a, verdict, sv] of parts) {
      const r = agents[a].result({
        verdict,
        shadow: { model: ref, score: sv === 'NOK' ? 0.8 : 0.2, verdict: sv },
      });
      ids[key] = r.resultId;
      expect((await agents[a].postResults([r])).status).toBe(200);
    }
    await label('early', 'confirmed_ok');
    await label('p1', 'false_alarm');
    await label('p2', 'confirmed_defect');
    await label('p3', 'confirmed_ok');
    await label('p4', 'missed_defect');
    // Supervisors first call p7 and p8 good: then the candidate's NOKs there are false alarms.
    await label('p7', 'confirmed_ok');
    await label('p8', 'confirmed_ok');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('summarises the shadow parts into evaluations of the candidate and of the active model', async () => {
    const r = await admin.post(`/api/v1/rollouts/${shadowId}/shadow-evaluation`);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toEqual({
      rolloutId: shadowId,
      candidate: 'widget@1.1.0',
      comparisons: [
        {
          activeModel: 'widget@1.0.0',
          parts: 8,
          agreementRate: 0.5,
          normals: 4,
          defects: 2,
          candidate: { falseAlarmRate: 0.5, falseAlarms: 2, missedDefects: 0 },
          active: { falseAlarmRate: 0.25, falseAlarms: 1, missedDefects: 1 },
        },
      ],
    });
    const cand = (await admin.get(`/api/v1/model-versions/${models['1.1.0']}/evaluations`)).body;
    expect(cand[0]).toMatchObject({
      shadowRolloutId: shadowId,
      datasetId: null,
      report: { source: 'shadow', against: 'widget@1.0.0', parts: 8, falseAlarmRate: 0.5, missedDefects: 0 },
    });
    const active = (await admin.get(`/api/v1/model-versions/${models['1.0.0']}/evaluations`)).body;
    expect(active[0].report).toMatchObject({
      against: 'widget@1.1.0',
      falseAlarmRate: 0.25,
      missedDefects: 1,
    });
  });

  it('refuses a rollout on shadow evidence while the candidate raises more false alarms, with the numbers', async () => {
    const r = await promote({ shadowRolloutId: shadowId });
    expect(r.status).toBe(422);
    expect(r.body.message).toBe(
      "evidence: the candidate is worse on the line's shadow evidence: false-alarm rate on labelled-OK parts 50.0 % is above widget@1.0.0's 25.0 % (2 vs 1 of 4)",
    );
    const few = await promote({ shadowRolloutId: shadowId, minLabelled: 10 });
    expect(few.status).toBe(422);
    expect(few.body.message).toContain(
      'only 6 labelled part(s) among 8 shadow results beside widget@1.0.0 (at least 10 required)',
    );
  });

  it('lets it through once the labels say the candidate was right, unless agreement is asked for', async () => {
    // A closer look: p7 and p8 were defective after all (a correction: a new label version).
    await label('p7', 'missed_defect');
    await label('p8', 'missed_defect');
    const strict = await promote({ shadowRolloutId: shadowId, minAgreement: 0.9 });
    expect(strict.status).toBe(422);
    expect(strict.body.message).toContain('agreement with widget@1.0.0 50.0 % is below 90.0 %');
    const ok = await promote({ shadowRolloutId: shadowId, minLabelled: 6 });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    const cand = (await admin.get(`/api/v1/model-versions/${models['1.1.0']}/evaluations`)).body;
    expect(cand[0].report).toMatchObject({ normals: 2, defects: 4, falseAlarmRate: 0, missedDefects: 0 });
    expect((await admin.post(`/api/v1/rollouts/${ok.body.id}/abort`, {})).status).toBeLessThan(300);
  });

  it('names wrong evidence requests', async () => {
    const both = await promote({ shadowRolloutId: shadowId, datasetId: shadowId });
    expect(both.status).toBe(400);
    expect(both.body.message).toContain('expected exactly one of datasetId and shadowRolloutId');
    const normal = (await admin.get('/api/v1/rollouts')).body.find(
      (r: { mode: string }) => r.mode === 'normal',
    );
    const notShadow = await promote({ shadowRolloutId: normal.id });
    expect(notShadow.status).toBe(422);
    expect(notShadow.body.message).toContain('shadow evidence comes from a shadow rollout');
  });
});
