/**
 * The model lifecycle loop over real connections, on PostgreSQL: a simulated line's results with images reach the
 * control plane; a scripted supervisor labels some; a dataset is frozen; a training job (micro config, seconds
 * of budget) runs through a real trainer worker with the real Python tools, registers a version and evaluates it
 * beside the model the line runs; the candidate is shadow-rolled, then promoted or refused by the evidence rule.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateSynthDataset } from '@diad/datasets';
import pg from 'pg';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EvaluationReport, evidenceVerdict } from '../../apps/control-plane/src/lifecycle/evidence.js';
import { bossSchema } from '../../apps/control-plane/src/training/queue.js';
import { TrainerWorker } from '../../apps/control-plane/src/training/worker.js';
import { ScriptedAgent } from '../../apps/control-plane/test/helpers/agent.js';
import {
  ADMIN_PASSWORD,
  type Client,
  client,
  DATABASE_URL,
  type Harness,
  login,
  makeFleet,
  startHarness,
  uploadForm,
} from '../../apps/control-plane/test/helpers/harness.js';

const repoRoot = resolve(__dirname, '../..');

async function packDir(dir: string): Promise<Buffer> {
  const pack = tar.pack();
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!f.isFile()) continue;
    const full = join(f.parentPath, f.name);
    pack.entry({ name: full.slice(dir.length + 1) }, readFileSync(full));
  }
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const c of pack) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe.runIf(DATABASE_URL)('model lifecycle loop on PostgreSQL with a real trainer worker', () => {
  let h: Harness;
  let admin: Client;
  let work: string;
  let worker: TrainerWorker;
  let fleet: Awaited<ReturnType<typeof makeFleet>>;
  let schema: string;
  const agents: ScriptedAgent[] = [];

  beforeAll(async () => {
    h = await startHarness('postgres');
    admin = client(h.cp.url, await login(h.cp.url));
    schema = (h.cp as unknown as { config: { databaseSchema: string } }).config?.databaseSchema ?? '';
    fleet = await makeFleet(admin, ['st1']);
    work = await mkdtemp(join(tmpdir(), 'diad-loop-'));
    for (let i = 0; i < 2; i++) {
      const t = await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id });
      const a = new ScriptedAgent(h.cp.url);
      await a.enrol(t.body.token, `edge-${i}`);
      agents.push(a);
    }
    // The line runs the reference model today.
    const up = await admin.raw(
      'POST',
      '/api/v1/models',
      uploadForm(await packDir(join(repoRoot, 'models/diad-synth-tiny'))),
    );
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const ro = await admin.post('/api/v1/rollouts', {
      model: { name: up.body.name, version: up.body.version },
      target: { lines: [fleet.line.id] },
    });
    expect(ro.status, JSON.stringify(ro.body)).toBe(201);
    for (const a of agents) await a.follow();
  });

  afterAll(async () => {
    await worker?.stop();
    if (schema) {
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${bossSchema(schema)}" CASCADE`).catch(() => {});
      await c.end();
    }
    await h?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('labels → dataset → training job → registered, evaluated candidate → shadow → evidence rule', async () => {
    // The simulated line: synthetic parts of one category; normal parts pass, defective ones are found or missed.
    const synth = join(work, 'synth');
    await generateSynthDataset({
      out: synth,
      seed: 3,
      categories: ['bottle_cap'],
      size: 128,
      tier: 'easy',
      train: 24,
      test: 8,
    });
    const cat = join(synth, readdirSync(synth).find((d) => !d.endsWith('.json'))!);
    const a = agents[0];
    const labels: Array<[string, string]> = [];
    const post = async (file: string, verdict: 'OK' | 'NOK') => {
      const r = a.result({
        verdict,
        score: verdict === 'NOK' ? 0.9 : 0.1,
        normalizedScore: verdict === 'NOK' ? 0.9 : 0.1,
      });
      expect((await a.postResults([r])).status).toBe(200);
      expect(
        (await a.api.put(`/api/v1/agent/results/${r.resultId}/image`, readFileSync(file), 'image/png'))
          .status,
      ).toBeLessThan(300);
      return r.resultId;
    };
    for (const f of readdirSync(join(cat, 'train/good')).sort()) await post(join(cat, 'train/good', f), 'OK');
    for (const sub of readdirSync(join(cat, 'test')).sort()) {
      for (const f of readdirSync(join(cat, 'test', sub)).sort()) {
        const good = sub === 'good';
        // Half the defects were caught (NOK → confirmed), half missed (OK → missed_defect); good parts confirmed OK.
        const caught =
          !good &&
          labels.filter(([, l]) => l === 'confirmed_defect').length <=
            labels.filter(([, l]) => l === 'missed_defect').length;
        const id = await post(join(cat, 'test', sub, f), good ? 'OK' : caught ? 'NOK' : 'OK');
        labels.push([id, good ? 'confirmed_ok' : caught ? 'confirmed_defect' : 'missed_defect']);
      }
    }
    const supervisor = admin;
    for (const [id, label] of labels)
      expect((await supervisor.post(`/api/v1/results/${id}/labels`, { label })).status).toBe(201);

    const ds = await admin.post(`/api/v1/lines/${fleet.line.id}/datasets`, { name: 'bottle-line' });
    expect(ds.status, JSON.stringify(ds.body)).toBe(201);
    expect(ds.body.counts.train).toBe(24);
    expect(ds.body.counts.validationDefect).toBeGreaterThan(0);

    worker = new TrainerWorker({
      databaseUrl: DATABASE_URL!,
      databaseSchema: schema,
      controlPlaneUrl: h.cp.url,
      username: 'admin',
      password: ADMIN_PASSWORD,
      workDir: join(work, 'worker'),
      repoRoot,
      python: '/usr/bin/python3',
    });
    await worker.start();
    const job = await admin.post('/api/v1/training-jobs', {
      datasetId: ds.body.id,
      modelName: 'bottle-line',
      config: 'micro',
      maxMinutes: 0.3,
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    const seen = new Set<string>();
    const done = await until(
      async () => (await admin.get(`/api/v1/training-jobs/${job.body.id}`)).body,
      (j) => {
        if (j.progress?.stage) seen.add(j.progress.stage);
        return ['succeeded', 'failed', 'cancelled'].includes(j.status);
      },
      12 * 60_000,
    );
    expect(done.status, done.error).toBe('succeeded');
    expect(seen.has('train') || seen.has('ae')).toBe(true);
    expect(done.modelVersionId).toMatch(/^[0-9a-f-]{36}$/);

    // Both the candidate and the model it would replace were measured on the same validation images.
    const cand = (await admin.get(`/api/v1/model-versions/${done.modelVersionId}/evaluations`)).body;
    const currentId = (
      await admin.get(
        `/api/v1/models/diad-synth-tiny/versions/${JSON.parse(readFileSync(join(repoRoot, 'models/diad-synth-tiny/manifest.json'), 'utf8')).model.version}`,
      )
    ).body.id;
    const cur = (await admin.get(`/api/v1/model-versions/${currentId}/evaluations`)).body;
    expect(cand).toHaveLength(1);
    expect(cur).toHaveLength(1);
    const c = cand[0].report as EvaluationReport;
    const r = cur[0].report as EvaluationReport;
    expect(c.normals + c.defects).toBe(labels.length);
    expect(r.normals).toBe(c.normals);

    // Shadow first (no evidence needed to watch a candidate), then the evidence rule decides promotion.
    const candidate = (await admin.get('/api/v1/models/bottle-line/versions/1.0.0')).body;
    expect(candidate.id).toBe(done.modelVersionId);
    const shadow = await admin.post('/api/v1/rollouts', {
      model: { name: candidate.name, version: candidate.version },
      mode: 'shadow',
      target: { lines: [fleet.line.id] },
    });
    expect(shadow.status, JSON.stringify(shadow.body)).toBe(201);
    expect((await admin.post(`/api/v1/rollouts/${shadow.body.id}/abort`, {})).status).toBeLessThan(300);
    const promote = await admin.post('/api/v1/rollouts', {
      model: { name: candidate.name, version: candidate.version },
      target: { lines: [fleet.line.id] },
      evidence: { datasetId: ds.body.id },
    });
    const verdict = evidenceVerdict(c, r);
    if (verdict.ok) expect(promote.status, JSON.stringify(promote.body)).toBe(201);
    else {
      expect(promote.status).toBe(422);
      expect(promote.body.message).toContain('the candidate is worse on the line');
      expect(promote.body.message).toContain(verdict.reasons[0]);
    }
  });
});
