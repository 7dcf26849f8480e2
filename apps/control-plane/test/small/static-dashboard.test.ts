import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDashboard } from '../../src/dashboard/static-dashboard.js';

/** A server whose "API" answers 404 JSON for everything the dashboard middleware passes on. */
function start(dir: string): Promise<{ server: Server; url: string }> {
  const serve = serveDashboard({ dir });
  const server = createServer((req, res) =>
    serve(req, res, () => {
      res.statusCode = 404;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ passedThrough: req.url }));
    }),
  );
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

describe('serveDashboard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diad-static-'));
  const secretDir = mkdtempSync(join(tmpdir(), 'diad-secret-'));
  let server: Server;
  let url: string;

  beforeAll(async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'favicon.svg'), '<svg/>');
    writeFileSync(join(secretDir, 'secret.txt'), 'do not serve');
    ({ server, url } = await start(dir));
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(secretDir, { recursive: true, force: true });
  });

  const html = { accept: 'text/html,application/xhtml+xml' };

  it('serves index.html at / and for client routes, never cached, with a content security policy', async () => {
    for (const path of [
      '/',
      '/history',
      '/results/0190a1b2-0000-7000-8000-000000000000',
      '/rollouts/x?y=1',
    ]) {
      const r = await fetch(url + path, { headers: html });
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(r.headers.get('cache-control')).toBe('no-cache');
      expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await r.text()).toContain('<title>app</title>');
    }
  });

  it('serves hashed assets with a long cache life and the right type', async () => {
    const r = await fetch(`${url}/assets/index-abc123.js`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(r.headers.get('cache-control')).toContain('immutable');
    expect(await r.text()).toBe('console.log(1)');
    const svg = await fetch(`${url}/favicon.svg`);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(svg.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers HEAD without a body', async () => {
    const r = await fetch(`${url}/assets/index-abc123.js`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe('14');
    expect(await r.text()).toBe('');
  });

  it('leaves the API, docs, metrics, health, other methods and missing files to the next handler', async () => {
    for (const path of [
      '/api',
      '/api/v1/results',
      '/api/v1/nothing-here',
      '/docs',
      '/docs/openapi.json',
      '/metrics',
      '/healthz',
    ]) {
      const r = await fetch(url + path, { headers: html });
      expect(r.status, path).toBe(404);
      expect(await r.json()).toEqual({ passedThrough: path });
    }
    const post = await fetch(`${url}/history`, { method: 'POST', headers: html });
    expect(post.status).toBe(404);
    const missingAsset = await fetch(`${url}/assets/gone-123.js`, { headers: html });
    expect(missingAsset.status).toBe(404);
  });

  it('does not answer non-HTML requests for unknown paths with the app', async () => {
    const r = await fetch(`${url}/history`, { headers: { accept: 'application/json' } });
    expect(r.status).toBe(404);
  });

  it('never serves a file outside its folder', async () => {
    const rel = join('..', secretDir.split('/').pop()!, 'secret.txt');
    for (const path of [`/${rel}`, `/%2e%2e/${rel.slice(3)}`, `/assets/..%2f..%2f${rel.slice(3)}`]) {
      const r = await fetch(url + path, { headers: { accept: '*/*' } });
      expect(await r.text(), path).not.toContain('do not serve');
    }
    // fetch() normalises "..", so also send the raw path as a hostile client would.
    const raw = await new Promise<string>((resolve, reject) => {
      const req = request(`${url}/`, { path: `/${rel}`, headers: { accept: '*/*' } }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    expect(raw).not.toContain('do not serve');
  });

  it('passes everything through when the dashboard is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'diad-empty-'));
    const s = await start(empty);
    try {
      const r = await fetch(`${s.url}/`, { headers: html });
      expect(r.status).toBe(404);
    } finally {
      s.server.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
