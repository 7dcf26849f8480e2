import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { ControlPlaneConfigInput } from '../../src/config.js';
import { type ControlPlane, createControlPlane } from '../../src/index.js';

export const DATABASE_URL = process.env.DATABASE_URL || undefined;
export const MQTT_URL = process.env.MQTT_URL || undefined;
export const ADMIN_PASSWORD = 'admin-password-for-tests';

/** The database backends a medium or end-to-end test runs on: PGlite always, PostgreSQL when configured. */
export const BACKENDS: Array<{ name: 'pglite' | 'postgres' }> = [
  { name: 'pglite' },
  ...(DATABASE_URL ? [{ name: 'postgres' as const }] : []),
];

export class ManualClock {
  constructor(public t = Date.parse('2026-11-28T12:00:00Z')) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A unique PostgreSQL schema for one test file, dropped by `drop()`. */
export function pgSchema(prefix: string) {
  const schema = `t_${prefix}_${randomBytes(4).toString('hex')}`;
  return {
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}

export interface Harness {
  cp: ControlPlane;
  blobDir: string;
  close(): Promise<void>;
}

export async function startHarness(
  backend: 'pglite' | 'postgres',
  extra: Partial<ControlPlaneConfigInput> = {},
  clock?: ManualClock,
): Promise<Harness> {
  const blobDir = mkdtempSync(join(tmpdir(), 'diad-cp-blobs-'));
  const pgs = backend === 'postgres' ? pgSchema('cp') : null;
  const cp = await createControlPlane(
    {
      port: 0,
      dataDir: 'memory://',
      databaseUrl: pgs ? DATABASE_URL : undefined,
      databaseSchema: pgs?.schema ?? 'public',
      blobDir,
      jwtSecret: 'test-secret-test-secret-test-secret-!',
      adminPassword: ADMIN_PASSWORD,
      logLevel: 'silent',
      rolloutTickMs: 0,
      responseCheck: 'reject',
      // Tests share brokers: a persistent session per random port would outlive the test.
      mqttCleanSession: true,
      ...extra,
    },
    { clock },
  );
  return {
    cp,
    blobDir,
    close: async () => {
      await cp.close();
      await pgs?.drop();
      rmSync(blobDir, { recursive: true, force: true });
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies freely
export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A small HTTP client bound to one base URL and one credential. */
export function client(base: string, token?: string) {
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> => {
    const h: Record<string, string> = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    let payload: BodyInit | undefined;
    if (body instanceof Buffer || body instanceof FormData) payload = body as BodyInit;
    else if (body !== undefined) {
      h['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(base + path, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    get: (p: string) => call('GET', p),
    post: (p: string, b?: unknown) => call('POST', p, b ?? {}),
    patch: (p: string, b: unknown) => call('PATCH', p, b),
    put: (p: string, b: Buffer, contentType: string) => call('PUT', p, b, { 'content-type': contentType }),
    del: (p: string) => call('DELETE', p),
    raw: call,
  };
}
export type Client = ReturnType<typeof client>;

export async function login(base: string, username = 'admin', password = ADMIN_PASSWORD): Promise<string> {
  const r = await client(base).post('/api/v1/auth/login', { username, password });
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

export function uploadForm(bundle: Buffer, fields: Record<string, string> = {}): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  fd.append('bundle', new Blob([bundle]), 'bundle.tar');
  return fd;
}

/** Creates site → line → station(s) and returns their ids and codes. */
export async function makeFleet(admin: Client, stations = ['st1']) {
  const site = (
    await admin.post('/api/v1/sites', { code: `site${randomBytes(2).toString('hex')}`, name: 'Site' })
  ).body;
  const line = (await admin.post('/api/v1/lines', { siteId: site.id, code: 'line1', name: 'Line 1' })).body;
  const sts = [];
  for (const code of stations)
    sts.push((await admin.post('/api/v1/stations', { lineId: line.id, code, name: code })).body);
  return { site, line, stations: sts };
}
