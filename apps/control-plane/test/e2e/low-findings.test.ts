/**
 * The low findings of the outside probe that were kept open (docs/security.md), each attacked over HTTP against a
 * real control plane: images for results that do not exist, orphans after retention, an aborted upload's partial
 * file, 500s for bad inputs, the aggregate span cap with `to`, the live stream cap, a token in a percent-encoded
 * query key, and revoking an unused enrolment token.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/common/logger.js';
import { createControlPlane } from '../../src/index.js';
import { ArtifactsService } from '../../src/results/artifacts.service.js';
import { ScriptedAgent } from '../helpers/agent.js';
import { manifestFor } from '../helpers/bundle.js';
import {
  ADMIN_PASSWORD,
  type Client,
  client,
  type Harness,
  login,
  makeFleet,
  startHarness,
  uploadForm,
} from '../helpers/harness.js';
import { identityOnnx } from '../helpers/onnx.js';
import { makeTar } from '../helpers/tar.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

describe('low findings, closed', () => {
  let h: Harness;
  let admin: Client;
  let token: string;
  let agent: ScriptedAgent;
  let stationId: string;

  beforeAll(async () => {
    h = await startHarness('pglite', { maxLiveStreams: 2 } as object);
    token = await login(h.cp.url);
    admin = client(h.cp.url, token);
    const fleet = await makeFleet(admin);
    stationId = fleet.stations[0].id;
    const t = await admin.post('/api/v1/enrolment-tokens', { stationId });
    agent = new ScriptedAgent(h.cp.url);
    await agent.enrol(t.body.token);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses an image for a result that is not stored (409), and sweeps images whose result is gone', async () => {
    const missing = agent.result();
    const early = await agent.api.put(`/api/v1/agent/results/${missing.resultId}/image`, PNG, 'image/png');
    expect(early.status).toBe(409);
    expect(early.body.message).toMatch(/is not stored/);
    const r = agent.result();
    expect((await agent.postResults([r])).status).toBe(200);
    expect((await agent.api.put(`/api/v1/agent/results/${r.resultId}/image`, PNG, 'image/png')).status).toBe(
      200,
    );
    const blobs = () =>
      readdirSync(join(h.blobDir, 'results'), { recursive: true }).filter((f) =>
        String(f).endsWith('.image'),
      );
    expect(blobs()).toHaveLength(1);
    // Retention drops result partitions; the image rows and blobs stay behind until the sweep.
    await h.cp.db.prisma.$executeRawUnsafe('DELETE FROM results WHERE result_id = $1::uuid', r.resultId);
    expect(await h.cp.get(ArtifactsService).sweepOrphans()).toBe(1);
    expect(blobs()).toHaveLength(0);
    expect((await admin.get(`/api/v1/results/${r.resultId}/image`)).status).toBe(404);
  });

  it('removes the partial file of an aborted model upload', async () => {
    const url = new URL(h.cp.url);
    const boundary = 'xBOUNDARYx';
    const head = `--${boundary}\r\ncontent-disposition: form-data; name="bundle"; filename="b.tar"\r\ncontent-type: application/octet-stream\r\n\r\n`;
    await new Promise<void>((resolve, reject) => {
      const s = connect(Number(url.port), url.hostname, () => {
        s.write(
          `POST /api/v1/models HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${token}\r\n` +
            `content-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: 10000000\r\n\r\n${head}`,
        );
        s.write(Buffer.alloc(200_000, 1), () => setTimeout(() => s.destroy(), 300));
      });
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    const dir = join(h.blobDir, 'bundles');
    const deadline = Date.now() + 5000;
    let left = readdirSync(dir);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = readdirSync(dir);
    }
    expect(left).toEqual([]);
    expect((await admin.get('/api/v1/models')).status).toBe(200);
  });

  it('answers 4xx, not 500, to a deeply nested manifest and to malformed cursors', async () => {
    const files = {
      'encoder.onnx': identityOnnx(),
      'denoiser.onnx': identityOnnx(),
      'decoder.onnx': identityOnnx(),
      'features.onnx': identityOnnx(),
    };
    // 20,000 levels inside `source` (a free-form field), well under the 1 MiB manifest limit.
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const text = JSON.stringify({ ...manifestFor('deep', '1.0.0', files), source: 'DEEP' }).replace(
      '"DEEP"',
      deep,
    );
    const tar = await makeTar([
      { path: 'manifest.json', data: text },
      ...Object.entries(files).map(([path, data]) => ({ path, data })),
    ]);
    const up = await admin.raw('POST', '/api/v1/models', uploadForm(tar));
    expect(up.status).toBe(422);
    expect(up.body.message).toMatch(/manifest\.json: nested deeper than/);

    const year = Buffer.from('2020|------------------------------------').toString('base64url');
    for (const cursor of ['2020', year, Buffer.from('2020-01-01T00:00:00Z|x|y').toString('base64url')]) {
      const r = await admin.get(`/api/v1/results?cursor=${cursor}`);
      expect(r.status, cursor).toBe(400);
      expect(r.body.message, cursor).toMatch(/cursor/);
    }
    const audit = await admin.get('/api/v1/audit?cursor=99999999999999999999');
    expect(audit.status).toBe(400);
    expect((await admin.get('/api/v1/audit?cursor=9223372036854775807')).status).toBe(200);
  });

  it('caps bucketed aggregates at 400 days also when `to` is set', async () => {
    const r = await admin.get(
      '/api/v1/results/aggregates?bucket=day&from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z',
    );
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/400 days/);
    const ok = await admin.get(
      '/api/v1/results/aggregates?bucket=day&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z',
    );
    expect(ok.status).toBe(200);
  });

  it('caps open live streams (MAX_LIVE_STREAMS) with 503, and frees a place when one closes', async () => {
    const open = async () => {
      const ctrl = new AbortController();
      const res = await fetch(`${h.cp.url}/api/v1/results/stream`, {
        headers: { authorization: `Bearer ${token}` },
        signal: ctrl.signal,
      });
      return { res, ctrl };
    };
    const a = await open();
    const b = await open();
    expect([a.res.status, b.res.status]).toEqual([200, 200]);
    const c = await open();
    expect(c.res.status).toBe(503);
    expect(((await c.res.json()) as { message: string }).message).toMatch(/MAX_LIVE_STREAMS/);
    a.ctrl.abort();
    let d = await open();
    for (let i = 0; i < 50 && d.res.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      d = await open();
    }
    expect(d.res.status).toBe(200);
    b.ctrl.abort();
    d.ctrl.abort();
  });

  it('keeps the results a device set aside, as its heartbeat reports them, for the fleet view', async () => {
    const view = async () => (await admin.get(`/api/v1/devices/${agent.deviceId}`)).body.setAside;
    expect(await view()).toBeNull();
    const setAside = {
      count: 2,
      lastReason: 'HTTP 422: result: partId: too long',
      lastAt: '2026-11-28T10:00:00.000Z',
    };
    await agent.heartbeat([], { setAside });
    expect(await view()).toEqual(setAside);
    expect(
      (await admin.get('/api/v1/devices')).body.find((d: { id: string }) => d.id === agent.deviceId).setAside,
    ).toEqual(setAside);
    // An agent that predates the report leaves the last one as it was; a bad report is refused.
    await agent.heartbeat([]);
    expect(await view()).toEqual(setAside);
    await expect(
      agent.heartbeat([], { setAside: { count: -1, lastReason: 'a\u0000b', lastAt: null } }),
    ).rejects.toThrow(/heartbeat: 400/);
  });

  it('revokes an unused enrolment token (audited); a used one is 409, an unknown one 404', async () => {
    const t = await admin.post('/api/v1/enrolment-tokens', { stationId });
    const rev = await admin.del(`/api/v1/enrolment-tokens/${t.body.id}`);
    expect(rev.status, JSON.stringify(rev.body)).toBe(200);
    expect(rev.body).toMatchObject({ id: t.body.id, revoked: true });
    await expect(new ScriptedAgent(h.cp.url).enrol(t.body.token)).rejects.toThrow(/enrol: 401/);
    const log = await admin.get('/api/v1/audit?action=enrolment-token.revoke');
    expect(log.body.items.map((e: { after: { tokenId: string } }) => e.after.tokenId)).toEqual([t.body.id]);
    const used = await admin.post('/api/v1/enrolment-tokens', { stationId });
    await new ScriptedAgent(h.cp.url).enrol(used.body.token, 'edge-2');
    expect((await admin.del(`/api/v1/enrolment-tokens/${used.body.id}`)).status).toBe(409);
    expect((await admin.del('/api/v1/enrolment-tokens/0193a0a0-0000-7000-8000-000000000000')).status).toBe(
      404,
    );
    const supervisorless = await client(h.cp.url).del(`/api/v1/enrolment-tokens/${t.body.id}`);
    expect(supervisorless.status).toBe(401);
  });
});

describe('request log', () => {
  it('never writes a token given in the URL, however its key is encoded', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _e, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const blobDir = mkdtempSync(join(tmpdir(), 'diad-cp-log-'));
    const cp = await createControlPlane(
      {
        port: 0,
        dataDir: 'memory://',
        blobDir,
        jwtSecret: 'test-secret-test-secret-test-secret-!',
        adminPassword: ADMIN_PASSWORD,
        logLevel: 'info',
        rolloutTickMs: 0,
      },
      { log: createLogger('info', sink) },
    );
    try {
      const secret = await login(cp.url);
      const keys = [
        'access_token',
        'access%5Ftoken',
        'access%5ftoken',
        'access_token%5B%5D',
        'access_token[]',
      ];
      for (const key of keys) {
        // Any route: the request log writes every URL.
        const r = await fetch(`${cp.url}/api/v1/auth/me?${key}=${secret}&x=1`, {
          headers: { authorization: `Bearer ${secret}` },
        });
        expect(r.status).toBe(200);
      }
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await cp.close();
      rmSync(blobDir, { recursive: true, force: true });
    }
    const requests = lines.filter((l) => l.includes('/api/v1/auth/me'));
    expect(requests).toHaveLength(5);
    for (const l of requests) expect(l).toMatch(/=\*\*\*&x=1/);
    for (const l of requests) expect(l).not.toMatch(/eyJ/);
  });
});
