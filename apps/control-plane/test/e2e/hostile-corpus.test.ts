/**
 * The security walk: the shared hostile corpus (packages/protocol/test/hostile-corpus.ts) sent to every HTTP route
 * the control plane documents in its OpenAPI document (so a new endpoint is walked without touching this file), to
 * the MQTT result and status topics, and as corrupt files to the bundle upload. Every answer must be a 4xx or a
 * success, never a 5xx; forged tokens must never pass a guarded route; bus payloads are refused and counted; the
 * process keeps serving. The hostile tar corpus has its own walk (hostile-tar.test.ts).
 */
import { topics } from '@diad/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  corruptImages,
  forgedTokens,
  hostileBodies,
  hostilePayloads,
  hostileStrings,
  hostileValues,
} from '../../../../packages/protocol/test/hostile-corpus.js';
import { Metrics } from '../../src/common/metrics.js';
import { ScriptedAgent } from '../helpers/agent.js';
import { startAedes, until } from '../helpers/broker.js';
import { manifestFor } from '../helpers/bundle.js';
import {
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

interface Route {
  method: string;
  path: string;
  params: string[];
  bodyProps: string[];
}

/** Routes anyone may call (no credential); every other one must refuse a forged token. */
const PUBLIC = new Set(['/healthz', '/readyz', '/metrics', '/api/v1/auth/login', '/api/v1/agent/enrol']);
const SOME_UUID = '0193a0a0-0000-7000-8000-000000000000';
/** Query keys the routes read (filters, paging, names); unknown keys must be harmless too. */
const QUERY_KEYS = ['limit', 'cursor', 'from', 'to', 'station', 'lineId', 'name', 'status', 'bucket', 'kind'];

interface Call {
  route: Route;
  what: string;
  url: string;
  token: string | null;
  body?: string | Buffer;
  type?: string;
}

describe('hostile corpus through every interface of the control plane', () => {
  let aedes: Awaited<ReturnType<typeof startAedes>>;
  let h: Harness;
  let admin: Client;
  let adminToken: string;
  let agent: ScriptedAgent;
  const routes: Route[] = [];

  beforeAll(async () => {
    aedes = await startAedes();
    // Rate limits off: every call must reach its handler, not stop at a 429.
    h = await startHarness('pglite', {
      mqttUrl: aedes.url,
      mqttProtocol: 4,
      mqttGroup: '',
      rateLimitPerMinute: 0,
      loginRateLimitPerMinute: 0,
    });
    adminToken = await login(h.cp.url);
    admin = client(h.cp.url, adminToken);
    const fleet = await makeFleet(admin);
    const t = await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id });
    agent = new ScriptedAgent(h.cp.url);
    await agent.enrol(t.body.token);
    const doc = (await admin.get('/docs/openapi.json')).body;
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const [method, op] of Object.entries(ops as Record<string, { requestBody?: unknown }>)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        const schema = (
          op.requestBody as { content?: Record<string, { schema?: { properties?: object } }> } | undefined
        )?.content?.['application/json']?.schema;
        routes.push({
          method: method.toUpperCase(),
          path,
          params: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]),
          bodyProps: Object.keys(schema?.properties ?? {}),
        });
      }
    }
  });
  afterAll(async () => {
    await h?.close();
    await aedes?.close();
  });

  /** Sends one call; SSE answers are read for their status and dropped. */
  async function send(c: Call): Promise<number | string> {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), 10_000);
    try {
      const headers: Record<string, string> = {};
      if (c.token) headers.authorization = `Bearer ${c.token}`;
      if (c.body !== undefined) headers['content-type'] = c.type ?? 'application/json';
      const res = await fetch(h.cp.url + c.url, {
        method: c.route.method,
        headers,
        body: c.route.method === 'GET' ? undefined : c.body,
        signal: ctrl.signal,
      });
      if ((res.headers.get('content-type') ?? '').includes('event-stream')) ctrl.abort();
      else await res.arrayBuffer();
      return res.status;
    } catch (e) {
      return `no answer (${(e as Error).message})`;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Percent-encodes a value; a lone surrogate becomes its invalid UTF-8 bytes (%ED%A0%80), as an attacker sends. */
  function enc(value: string): string {
    return value
      .split(/([\ud800-\udfff])/)
      .map((part) => (/^[\ud800-\udfff]$/.test(part) ? '%ED%A0%80' : encodeURIComponent(part)))
      .join('');
  }

  function fill(route: Route, value: string): string {
    let p = route.path;
    for (const name of route.params) p = p.replace(`{${name}}`, enc(value));
    return p;
  }

  function credential(route: Route): string {
    return route.path.startsWith('/api/v1/agent/') && !route.path.endsWith('/enrol')
      ? agent.credential
      : adminToken;
  }

  /** Runs calls a few at a time (the machine running tests may be small) and returns every 5xx or non-answer. */
  async function walk(calls: Call[], ok: (c: Call, status: number) => boolean) {
    const bad: string[] = [];
    let i = 0;
    const worker = async () => {
      while (i < calls.length) {
        const c = calls[i++];
        const status = await send(c);
        if (typeof status !== 'number' || !ok(c, status))
          bad.push(`${c.route.method} ${c.route.path} [${c.what}]: ${status}`);
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    return bad;
  }

  it('finds the routes from the OpenAPI document', () => {
    expect(routes.length).toBeGreaterThan(50);
    expect(routes.some((r) => r.path === '/api/v1/agent/results' && r.method === 'POST')).toBe(true);
  });

  it('answers every route, with every hostile path value, query value and body, without a 5xx', {
    timeout: 120_000,
  }, async () => {
    const calls: Call[] = [];
    for (const route of routes) {
      const token = credential(route);
      // Every hostile string in every path parameter; in the query, each key gets a different string per call
      // (rotated), so the strings reach every key over a route's calls without one call per pair.
      const n = route.params.length > 0 ? hostileStrings.length : 6;
      for (let k = 0; k < n; k++) {
        const query = QUERY_KEYS.map(
          (key, j) => `${key}=${enc(hostileStrings[(k * 3 + j) % hostileStrings.length].value)}`,
        ).join('&');
        const s = hostileStrings[k];
        calls.push({
          route,
          what: `path+query ${s.id}`,
          url: `${fill(route, s.value)}?${query}`,
          token,
          body: '{}',
        });
      }
      if (route.method === 'GET') continue;
      const url = fill(route, SOME_UUID);
      for (const b of hostileBodies())
        calls.push({ route, what: `body ${b.id}`, url, token, body: b.body, type: b.type });
      // Hostile values in the documented body fields, rotated the same way.
      const props = route.bodyProps.length ? route.bodyProps : ['name', 'id', 'results', 'token'];
      for (let k = 0; k < 8; k++) {
        const body = Object.fromEntries(
          props.map((p, j) => [p, hostileValues[(k * 5 + j) % hostileValues.length].value]),
        );
        calls.push({ route, what: `fields rotation ${k}`, url, token, body: JSON.stringify(body) });
      }
    }
    const t0 = Date.now();
    // Any 5xx but 501, a deliberate answer (training jobs need PostgreSQL), is a failure.
    const bad = await walk(calls, (_c, status) => status < 500 || status === 501);
    expect(bad, bad.slice(0, 40).join('\n')).toEqual([]);
    expect(calls.length).toBeGreaterThan(800);
    console.info(`hostile corpus: ${calls.length} HTTP calls in ${Date.now() - t0} ms`);
    expect((await admin.get('/healthz')).status).toBe(200);
  });

  it('refuses every forged token on every guarded route (401 or 403), and never with a 5xx', async () => {
    const calls: Call[] = [];
    for (const route of routes) {
      if (PUBLIC.has(route.path)) continue;
      for (const f of forgedTokens())
        calls.push({ route, what: `token ${f.id}`, url: fill(route, SOME_UUID), token: f.token, body: '{}' });
    }
    // 431: the HTTP server refuses the oversized header before any handler runs.
    const bad = await walk(calls, (_c, status) => status === 401 || status === 403 || status === 431);
    expect(bad, bad.slice(0, 40).join('\n')).toEqual([]);
  });

  it('bundle upload: corrupt files as the bundle, and as a graph inside a valid archive, are refused with 422', async () => {
    for (const img of corruptImages()) {
      const asBundle = await admin.raw('POST', '/api/v1/models', uploadForm(img.bytes));
      expect(asBundle.status, `bundle ${img.id}`).toBe(422);
      const files: Record<string, Buffer> = {
        'encoder.onnx': identityOnnx(),
        'denoiser.onnx': identityOnnx(),
        'decoder.onnx': identityOnnx(),
        'features.onnx': img.bytes,
      };
      const tar = await makeTar([
        { path: 'manifest.json', data: JSON.stringify(manifestFor('hostile', '1.0.0', files)) },
        ...Object.entries(files).map(([path, data]) => ({ path, data })),
      ]);
      const asGraph = await admin.raw('POST', '/api/v1/models', uploadForm(tar));
      expect(asGraph.status, `graph ${img.id}`).toBe(422);
      expect(asGraph.body.message, `graph ${img.id}`).toMatch(
        /^bundle: features\.onnx: graph features is not an ONNX model/,
      );
    }
    expect((await admin.get('/api/v1/models')).body).toEqual([]);
  });

  it('refuses and counts every hostile payload on the result and status topics, and keeps ingesting', async () => {
    const m = h.cp.get(Metrics);
    const total = async (name: 'resultsRejected' | 'statusRejected') =>
      (await m[name].get()).values.reduce((n, v) => n + v.value, 0);
    const before = { results: await total('resultsRejected'), status: await total('statusRejected') };
    const pub: MqttClient = await mqtt.connectAsync(aedes.url, { protocolVersion: 4 });
    try {
      const payloads = hostilePayloads();
      for (const p of payloads) {
        await pub.publishAsync(topics.result(agent.address), p.payload, { qos: 1 });
        await pub.publishAsync(topics.status(agent.address), p.payload, { qos: 1 });
      }
      // A genuine result after them: once stored, every payload before it has been judged.
      const genuine = agent.result({ partId: 'after-the-corpus' });
      await pub.publishAsync(topics.result(agent.address), JSON.stringify(genuine), { qos: 1 });
      const stored = await until(
        async () => (await admin.get('/api/v1/results?partId=after-the-corpus')).body.items?.length ?? 0,
        (n) => n === 1,
      );
      expect(stored).toBe(1);
      const status = await until(
        () => total('statusRejected'),
        (n) => n - before.status >= payloads.length,
      );
      expect((await total('resultsRejected')) - before.results).toBe(payloads.length);
      expect(status - before.status).toBe(payloads.length);
      const page = (await admin.get('/api/v1/results?limit=1000')).body.items as Array<{ partId: string }>;
      expect(page.map((r) => r.partId)).toEqual(['after-the-corpus']);
    } finally {
      await pub.endAsync();
    }
  });
});
