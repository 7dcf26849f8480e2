import { Readable } from 'node:stream';
import sharp from 'sharp';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedAgent } from '../helpers/agent.js';
import {
  BACKENDS,
  type Client,
  client,
  type Harness,
  login,
  makeFleet,
  startHarness,
} from '../helpers/harness.js';

const png = (v: number) =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: { r: v, g: v, b: v } } })
    .png()
    .toBuffer();

async function untar(bytes: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = tar.extract();
  ex.on('entry', (h, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('end', () => {
      files.set(h.name, Buffer.concat(parts));
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    Readable.from(bytes).pipe(ex);
  });
  return files;
}

describe.each(BACKENDS)('review, labels and datasets on $name', ({ name }) => {
  let h: Harness;
  let admin: Client;
  let fleet: Awaited<ReturnType<typeof makeFleet>>;
  let agent: ScriptedAgent;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    h = await startHarness(name);
    admin = client(h.cp.url, await login(h.cp.url));
    fleet = await makeFleet(admin, ['st1']);
    const t = await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id });
    agent = new ScriptedAgent(h.cp.url);
    await agent.enrol(t.body.token, 'edge-lc');
    const model = { name: 'widget', version: '1.0.0', sha256: 'a'.repeat(64) };
    const spec: Array<[string, 'OK' | 'NOK', number, 'OK' | 'NOK' | null]> = [
      ['ok1', 'OK', 0.1, null],
      ['ok2', 'OK', 0.2, null],
      ['ok3', 'OK', 0.3, null],
      ['ok4', 'OK', 0.42, null],
      ['ok5', 'OK', 0.15, 'NOK'], // the shadow model disagrees
      ['nok1', 'NOK', 0.55, null],
      ['nok2', 'NOK', 0.9, null],
      ['nok3', 'NOK', 0.99, null],
    ];
    const results = spec.map(([key, verdict, n, shadow], i) => {
      const r = agent.result({
        verdict,
        normalizedScore: n,
        score: n,
        inspectedAt: new Date(Date.now() - (10 - i) * 1000).toISOString(),
        shadow: shadow ? { model, score: 0.7, verdict: shadow } : null,
      });
      ids[key] = r.resultId;
      return r;
    });
    expect((await agent.postResults(results)).status).toBe(200);
    for (const [i, r] of results.entries()) {
      const up = await agent.api.put(
        `/api/v1/agent/results/${r.resultId}/image`,
        await png(20 * i),
        'image/png',
      );
      expect(up.status).toBeLessThan(300);
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it('orders the review queue by shadow disagreement, then closeness to the threshold', async () => {
    const q = await admin.get(`/api/v1/review-queue?site=${fleet.site.code}&line=line1`);
    expect(q.status).toBe(200);
    const order = (q.body as Array<{ resultId: string; reason: string }>).map((x) => x.resultId);
    expect(order[0]).toBe(ids.ok5);
    expect(q.body[0].reason).toBe('shadow-disagrees');
    expect(order.slice(1, 3)).toEqual([ids.nok1, ids.ok4]);
    expect(order).toHaveLength(8);
    expect((await admin.get('/api/v1/review-queue')).status).toBe(400);
  });

  it('labels, checks the label against the verdict, versions corrections with a mask, and audits them', async () => {
    const wrong = await admin.post(`/api/v1/results/${ids.ok1}/labels`, { label: 'confirmed_defect' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toContain('"confirmed_defect" is for NOK results');
    const notPng = await admin.post(`/api/v1/results/${ids.nok1}/labels`, {
      label: 'confirmed_defect',
      maskPngBase64: Buffer.from('not a png at all').toString('base64'),
    });
    expect(notPng.status).toBe(400);
    expect(notPng.body.message).toMatch(/^body\.maskPngBase64: /);
    const maskOnOk = await admin.post(`/api/v1/results/${ids.nok2}/labels`, {
      label: 'false_alarm',
      maskPngBase64: (await png(255)).toString('base64'),
    });
    expect(maskOnOk.status).toBe(400);
    expect((await admin.post(`/api/v1/results/${ids.nok1}/labels`, { label: 'false_alarm' })).status).toBe(
      201,
    );
    const corrected = await admin.post(`/api/v1/results/${ids.nok1}/labels`, {
      label: 'confirmed_defect',
      note: 'scratch at the edge',
      maskPngBase64: (await png(255)).toString('base64'),
    });
    expect(corrected.status).toBe(201);
    expect(corrected.body.version).toBe(2);
    expect((await admin.post(`/api/v1/results/${ids.nok2}/labels`, { label: 'false_alarm' })).status).toBe(
      201,
    );
    expect(
      (
        await admin.post(`/api/v1/results/${ids.ok4}/labels`, {
          label: 'missed_defect',
          maskPngBase64: (await png(200)).toString('base64'),
        })
      ).status,
    ).toBe(201);
    const hist = await admin.get(`/api/v1/results/${ids.nok1}/labels`);
    expect(hist.body.map((l: { version: number; label: string }) => [l.version, l.label])).toEqual([
      [2, 'confirmed_defect'],
      [1, 'false_alarm'],
    ]);
    const mask = await fetch(`${h.cp.url}/api/v1/results/${ids.nok1}/labels/2/mask`, {
      headers: { authorization: `Bearer ${await login(h.cp.url)}` },
    });
    expect(mask.headers.get('content-type')).toBe('image/png');
    const meta = await sharp(Buffer.from(await mask.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([16, 16]);
    const audit = await admin.get(`/api/v1/audit?entityType=result&entityId=${ids.nok1}`);
    const actions = (audit.body.items ?? audit.body).map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['label.create', 'label.correct']));
    expect(
      (
        await admin.post(`/api/v1/results/00000000-0000-7000-8000-000000000000/labels`, {
          label: 'confirmed_ok',
        })
      ).status,
    ).toBe(404);
    const q = await admin.get(`/api/v1/review-queue?line=line1`);
    const left = (q.body as Array<{ resultId: string }>).map((x) => x.resultId);
    for (const k of ['nok1', 'nok2', 'ok4']) expect(left).not.toContain(ids[k]);
  });

  it.runIf(name === 'pglite')('says training jobs need PostgreSQL on the embedded database', async () => {
    const r = await admin.post('/api/v1/training-jobs', {
      datasetId: '00000000-0000-7000-8000-000000000000',
      modelName: 'x',
    });
    expect(r.status).toBe(501);
    expect(r.body.message).toContain('training jobs need PostgreSQL (DATABASE_URL)');
  });

  it('freezes a dataset version and exports it in MVTec layout', async () => {
    const frozen = await admin.post(`/api/v1/lines/${fleet.line.id}/datasets`, { name: 'widget-line1' });
    expect(frozen.status, JSON.stringify(frozen.body)).toBe(201);
    expect(frozen.body).toMatchObject({
      version: 1,
      counts: { train: 4, validationNormal: 1, validationDefect: 2 },
    });
    const again = await admin.post(`/api/v1/lines/${fleet.line.id}/datasets`, {
      name: 'widget-line1',
      maxTrain: 2,
    });
    expect(again.body).toMatchObject({ version: 2, counts: { train: 2 } });
    const res = await fetch(`${h.cp.url}/api/v1/datasets/${frozen.body.id}/export.tar`, {
      headers: { authorization: `Bearer ${await login(h.cp.url)}` },
    });
    expect(res.status).toBe(200);
    const files = await untar(Buffer.from(await res.arrayBuffer()));
    const names = [...files.keys()].sort();
    const under = (d: string) => names.filter((n) => n.startsWith(`widget-line1/${d}/`));
    expect(under('train/good').sort()).toEqual(
      ['ok1', 'ok2', 'ok3', 'ok5'].map((k) => `widget-line1/train/good/${ids[k]}.png`).sort(),
    );
    expect(under('test/good')).toEqual([`widget-line1/test/good/${ids.nok2}.png`]);
    expect(under('test/defect').sort()).toEqual(
      [ids.nok1, ids.ok4].map((i) => `widget-line1/test/defect/${i}.png`).sort(),
    );
    expect(under('ground_truth/defect').sort()).toEqual(
      [ids.nok1, ids.ok4].map((i) => `widget-line1/ground_truth/defect/${i}_mask.png`).sort(),
    );
    // The exported image is the stored image, byte for byte.
    expect(files.get(`widget-line1/train/good/${ids.ok1}.png`)).toEqual(await png(0));
    const bad = await admin.post(`/api/v1/lines/${fleet.line.id}/datasets`, { name: 'Bad Name' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^body\.name: /);
  });
});
