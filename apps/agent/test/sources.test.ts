import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../src/frame.js';
import { createHttpServer, FRAMES_PATH } from '../src/http/server.js';
import { makePpm } from '../src/inspector/pnm.js';
import { OutboxFullError } from '../src/outbox/types.js';
import { FfmpegCamera, ffmpegArgs } from '../src/sources/ffmpeg-camera.js';
import { HotFolderSource } from '../src/sources/hot-folder.js';
import { silent, tmp, waitFor } from './helpers.js';
import { inspectionStack } from './stack.js';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;

describe('hot folder', () => {
  it('does not follow symbolic links (a link to the agent credentials is never read)', async () => {
    const { service, outbox } = await inspectionStack();
    const dir = tmp();
    const secret = join(tmp(), 'state.json');
    writeFileSync(secret, '{"credential":"secret"}');
    symlinkSync(secret, join(dir, 'steal.ppm'));
    writeFileSync(join(dir, 'part-9.ppm'), Buffer.from(makePpm(8, 8, 30)));
    let now = Date.now() + 10_000;
    const src = new HotFolderSource({
      path: dir,
      site: 'site1',
      line: 'line1',
      station: 'st1',
      camera: 'cam1',
      pollMs: 1000,
      settleMs: 0,
      extensions: ['.ppm'],
      submit: (f) => service.submit(f),
      logger: silent,
      now: () => now,
    });
    await src.pollOnce();
    now += 1000;
    expect(await src.pollOnce()).toEqual(['part-9.ppm']);
    await src.stop();
    expect(outbox.peek(10).map((e) => e.result.partId)).toEqual(['part-9']);
    expect(existsSync(join(dir, 'steal.ppm'))).toBe(true);
  });

  it('waits until a file is fully written, then moves it to done/ or failed/ after the result is stored', async () => {
    const { service, outbox } = await inspectionStack();
    const dir = tmp();
    let now = Date.now() + 10_000;
    const src = new HotFolderSource({
      path: dir,
      site: 'site1',
      line: 'line1',
      station: 'st1',
      camera: 'cam1',
      pollMs: 1000,
      settleMs: 500,
      extensions: ['.ppm'],
      submit: (f) => service.submit(f),
      logger: silent,
      now: () => now,
    });
    src.start();
    const full = Buffer.from(makePpm(16, 16, 30));
    writeFileSync(join(dir, 'part-1.ppm'), full.subarray(0, 100));
    writeFileSync(join(dir, 'garbage-2.ppm'), 'not an image');
    writeFileSync(join(dir, 'ignored.txt'), 'x');
    expect(await src.pollOnce()).toEqual([]); // first sighting: not yet known to be stable
    appendFileSync(join(dir, 'part-1.ppm'), full.subarray(100)); // the writer is still writing
    now += 1000;
    expect(await src.pollOnce()).toEqual(['garbage-2.ppm']);
    now += 1000;
    expect(await src.pollOnce()).toEqual(['part-1.ppm']);
    await src.stop();
    expect(readdirSync(join(dir, 'done'))).toEqual(['part-1.ppm']);
    expect(readdirSync(join(dir, 'failed'))).toEqual(['garbage-2.ppm']);
    expect(existsSync(join(dir, 'ignored.txt'))).toBe(true);
    const results = outbox.peek(10).map((e) => e.result);
    expect(results.map((r) => [r.partId, r.state])).toEqual([
      ['garbage-2', 'error'],
      ['part-1', 'ok'],
    ]);
  });

  it('leaves the file in place when the outbox is full', async () => {
    const dir = tmp();
    const src = new HotFolderSource({
      path: dir,
      site: 's',
      line: 'l',
      station: 'st1',
      camera: 'c',
      pollMs: 1000,
      settleMs: 0,
      extensions: ['.ppm'],
      submit: async () => {
        throw new OutboxFullError(1, 1);
      },
      logger: silent,
      now: () => Date.now() + 1000,
    });
    src.start();
    writeFileSync(join(dir, 'a.ppm'), makePpm(4, 4, 1));
    await src.pollOnce();
    await src.pollOnce();
    await src.stop();
    expect(existsSync(join(dir, 'a.ppm'))).toBe(true);
    expect(readdirSync(join(dir, 'done'))).toEqual([]);
  });
});

describe('HTTP server', () => {
  it('takes frames by POST and serves health, readiness and metrics', async () => {
    const { service, metrics } = await inspectionStack();
    let reasons: string[] = [];
    let full = false;
    const app = await createHttpServer({
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 1 << 20,
      site: 'site1',
      line: 'line1',
      registry: metrics.registry,
      readiness: () => reasons,
      submit: (f: Frame) => (full ? Promise.reject(new OutboxFullError(1, 1)) : service.submit(f)),
    });
    const addr = app.server.address();
    const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const post = (q: string, body: Uint8Array | string, type = 'image/x-portable-pixmap') =>
      fetch(`${base}${FRAMES_PATH}?${q}`, { method: 'POST', body, headers: { 'content-type': type } });

    const res = await post('station=st1&partId=A-1&camera=cam9', makePpm(8, 8, 240));
    expect(res.status).toBe(200);
    const r = (await res.json()) as InspectionResult;
    expect(r).toMatchObject({
      partId: 'A-1',
      camera: 'cam9',
      station: 'st1',
      site: 'site1',
      state: 'nok',
      verdict: 'NOK',
    });
    const bad = await post('station=st1&partId=B', 'garbage', 'application/octet-stream');
    expect(bad.status).toBe(200);
    expect(((await bad.json()) as InspectionResult).state).toBe('error');
    expect((await post('partId=x', makePpm(2, 2, 1))).status).toBe(400);
    expect((await post('station=nope&partId=x', makePpm(2, 2, 1))).status).toBe(400);
    expect((await post('station=st1&partId=x', '')).status).toBe(400);
    // A bad camera or category is refused before inference, naming the field (was a 500 from the result schema).
    for (const [q, field] of [
      ['station=st1&partId=x&camera=..%2Fcam', 'camera'],
      ['station=st1&partId=x&camera=cam%00', 'camera'],
      ['station=st1&partId=x&category=a%00b', 'category'],
      [`station=st1&partId=x&category=${'c'.repeat(65)}`, 'category'],
      ['station=st1&partId=x%01', 'partId'],
    ]) {
      const r = await post(q, makePpm(2, 2, 1));
      expect(r.status, q).toBe(400);
      expect(((await r.json()) as { error: string }).error, q).toMatch(new RegExp(`^query ${field}: `));
    }
    full = true;
    const r503 = await post('station=st1&partId=x', makePpm(2, 2, 1));
    expect(r503.status).toBe(503);
    expect(r503.headers.get('retry-after')).toBe('30');

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    reasons = ['no model loaded'];
    const nr = await fetch(`${base}/readyz`);
    expect(nr.status).toBe(503);
    expect(await nr.json()).toMatchObject({ reasons: ['no model loaded'] });
    const m = await (await fetch(`${base}/metrics`)).text();
    expect(m).toMatch(/diad_agent_frames_total\{station="st1",state="nok"\} 1/);
    expect(m).toMatch(/diad_agent_stage_seconds_bucket\{le="[^"]+",stage="inspect"\}/);
    await app.close();
  });
});

describe('ffmpeg camera', () => {
  it('builds input arguments per camera kind', () => {
    expect(ffmpegArgs({ url: 'rtsp://cam/1', input: 'rtsp', width: 4, height: 2 })).toEqual(
      expect.arrayContaining(['-rtsp_transport', 'tcp', '-i', 'rtsp://cam/1', 'scale=4:2']),
    );
    expect(ffmpegArgs({ url: '/dev/video0', input: 'v4l2', width: 4, height: 2 }).slice(4, 8)).toEqual([
      '-f',
      'v4l2',
      '-i',
      '/dev/video0',
    ]);
  });

  it.runIf(hasFfmpeg)('reads raw frames from an ffmpeg lavfi test source and inspects them', async () => {
    const { service, outbox } = await inspectionStack();
    const cam = new FfmpegCamera({
      id: 'cam1',
      site: 'site1',
      line: 'line1',
      station: 'st1',
      url: 'testsrc=size=64x48:rate=20',
      input: 'lavfi',
      width: 32,
      height: 24,
      mode: 'continuous',
      intervalMs: 50,
      ffmpegPath: 'ffmpeg',
      restartMs: 500,
      submit: (f) => service.submit(f),
      logger: silent,
    });
    cam.start();
    const f = await cam.grab(10_000);
    expect(f).toMatchObject({ width: 32, height: 24, channels: 3 });
    expect(f.data.length).toBe(32 * 24 * 3);
    await waitFor(() => outbox.depth() >= 2, 10_000, 'camera results');
    await cam.stop();
    const r = outbox.peek(1)[0].result;
    expect(r).toMatchObject({ camera: 'cam1', station: 'st1', state: expect.stringMatching(/^(ok|nok)$/) });
    expect(r.partId).toMatch(/^cam1-\d+-\d+$/);
  });
});

describe('HTTP frame source with a token', () => {
  it('requires Authorization: Bearer <http.frameToken>', async () => {
    const { service, metrics } = await inspectionStack();
    const app = await createHttpServer({
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 1 << 20,
      site: 's',
      line: 'l',
      registry: metrics.registry,
      readiness: () => [],
      submit: (f) => service.submit(f),
      frameToken: 'line-4-camera-token',
    });
    const addr = app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}${FRAMES_PATH}?station=st1&partId=T1`;
    const post = (auth?: string) =>
      fetch(url, {
        method: 'POST',
        body: makePpm(4, 4, 1),
        headers: { 'content-type': 'application/octet-stream', ...(auth ? { authorization: auth } : {}) },
      });
    expect((await post()).status).toBe(401);
    expect((await post('Bearer nope')).status).toBe(401);
    expect((await post('Bearer line-4-camera-token')).status).toBe(200);
    expect((await fetch(url.replace(FRAMES_PATH, '/healthz').split('?')[0])).status).toBe(200);
    await app.close();
  });
});
