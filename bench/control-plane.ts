/**
 * Control-plane figures on PostgreSQL: results ingested per second (HTTP batches and MQTT), defect-history query
 * latency at 10 M rows, memory. Run:
 *   npx tsx --tsconfig apps/control-plane/tsconfig.json --conditions=@diad/source bench/control-plane.ts
 * Env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/diad_bench, created if missing),
 *      BENCH_ROWS (default 10000000), BENCH_SECONDS (ingestion duration, default 20), MQTT_URL (optional),
 *      BENCH_REGEN=1 to rebuild the generated rows.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  agentApi,
  generateDeviceKey,
  type InspectionResult,
  signDeviceMessage,
  topics,
  uuidv7,
} from '@diad/protocol';
import mqtt from 'mqtt';
import pg from 'pg';
import { createControlPlane } from '../apps/control-plane/src/index.js';

const URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/diad_bench';
const ROWS = Number(process.env.BENCH_ROWS ?? 10_000_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const SCHEMA = 'bench';
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 100);

async function ensureDatabase() {
  const u = new globalThis.URL(URL);
  const name = u.pathname.slice(1);
  u.pathname = '/postgres';
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (r.rowCount === 0) await c.query(`CREATE DATABASE "${name}"`);
  await c.end();
}

/** Fills `results` with ROWS rows over 30 days, 10 lines × 4 stations, ~3% NOK, three model versions. */
async function generate(c: pg.Client) {
  const have = Number((await c.query(`SELECT count(*) AS n FROM ${SCHEMA}.results`)).rows[0].n);
  if (have >= ROWS && !process.env.BENCH_REGEN) {
    console.log(`rows: ${have.toLocaleString()} already generated`);
    return;
  }
  await c.query(`TRUNCATE ${SCHEMA}.results`);
  const idx = (
    await c.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'results' AND indexname <> 'results_pkey'`,
      [SCHEMA],
    )
  ).rows as Array<{ indexname: string; indexdef: string }>;
  for (const i of idx) await c.query(`DROP INDEX ${SCHEMA}."${i.indexname}"`);
  const t0 = Date.now();
  const chunk = 1_000_000;
  for (let start = 0; start < ROWS; start += chunk) {
    const end = Math.min(ROWS, start + chunk);
    await c.query(
      `INSERT INTO ${SCHEMA}.results (result_id, site, line, station, camera, device_id, part_id, category, captured_at,
         inspected_at, state, verdict, score, normalized_score, defect_area_px, threshold_version, threshold_image,
         model_name, model_version, model_sha256, provider, timings_ms)
       SELECT md5(g::text)::uuid, 'plant1', 'line' || (g % 10), 'st' || ((g / 10) % 4), 'cam1', 'dev-' || (g % 40),
              'part-' || g, CASE WHEN g % 3 = 0 THEN 'screw' ELSE 'nut' END, ts, ts,
              CASE WHEN r < 0.03 THEN 'nok' ELSE 'ok' END, CASE WHEN r < 0.03 THEN 'NOK' ELSE 'OK' END,
              CASE WHEN r < 0.03 THEN 0.5 + r * 10 ELSE r * 0.45 END, r, (r * 100)::int, 1, 0.5,
              'widget', '1.' || (g % 3) || '.0', repeat('a', 64), 'cpu', '{"total": 40}'::jsonb
         FROM generate_series($1::bigint, $2::bigint) g,
              LATERAL (SELECT timestamptz '2026-10-29 00:00:00Z' + g * interval '259 milliseconds' AS ts, random() AS r) x`,
      [start + 1, end],
    );
    process.stdout.write(
      `\rgenerating: ${end.toLocaleString()} rows (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  console.log();
  const t1 = Date.now();
  for (const i of idx) await c.query(i.indexdef);
  await c.query(`ANALYZE ${SCHEMA}.results`);
  console.log(
    `generated ${ROWS.toLocaleString()} rows in ${((t1 - t0) / 1000).toFixed(0)} s, indexed in ${((Date.now() - t1) / 1000).toFixed(0)} s`,
  );
}

function percentile(xs: number[], p: number) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main() {
  await ensureDatabase();
  const blobDir = mkdtempSync(join(tmpdir(), 'diad-bench-'));
  const cp = await createControlPlane({
    port: 0,
    databaseUrl: URL,
    databaseSchema: SCHEMA,
    blobDir,
    jwtSecret: randomBytes(32).toString('hex'),
    adminPassword: 'bench-admin-password',
    logLevel: 'warn',
    rateLimitPerMinute: 0,
    mqttUrl: process.env.MQTT_URL || undefined,
    mqttGroup: `bench${randomBytes(3).toString('hex')}`,
    mqttCleanSession: true,
    ingestBatchSize: 2000,
    ingestFlushMs: 20,
  });
  const c = new pg.Client({ connectionString: URL, options: `-c search_path=${SCHEMA}` });
  await c.connect();
  await generate(c);

  const post = async (path: string, body: unknown, token: string) => {
    // Posting results is idempotent (by result id), so a connection reset on a loaded machine is retried.
    let r: Response | undefined;
    for (let attempt = 1; !r; attempt++) {
      try {
        r = await fetch(cp.url + path, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        });
      } catch (e) {
        const code = ((e as Error).cause as { code?: string } | undefined)?.code;
        if (attempt >= 3 || (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET')) throw e;
      }
    }
    if (r.status >= 300) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    // biome-ignore lint/suspicious/noExplicitAny: bench reads API replies loosely
    return r.json() as Promise<any>;
  };
  const admin = (
    await post('/api/v1/auth/login', { username: 'admin', password: 'bench-admin-password' }, '')
  ).token;
  const tag = randomBytes(2).toString('hex');
  const site = await post('/api/v1/sites', { code: `b${tag}`, name: 'bench' }, admin);
  const line = await post('/api/v1/lines', { siteId: site.id, code: 'l1', name: 'l1' }, admin);
  const station = await post('/api/v1/stations', { lineId: line.id, code: 's1', name: 's1' }, admin);
  const tok = await post('/api/v1/enrolment-tokens', { stationId: station.id }, admin);
  // Results are signed with a device key registered at enrolment, as an agent's are (#20).
  const key = generateDeviceKey();
  const dev = await post(
    agentApi.enrol,
    { token: tok.token, hostname: 'bench', agentVersion: 'bench', publicKey: key.publicKey },
    '',
  );
  const result = (): InspectionResult => {
    const now = new Date().toISOString();
    const r = Math.random();
    const res: InspectionResult = {
      schema: 'diad.result/v1',
      resultId: uuidv7(),
      site: dev.site,
      line: dev.line,
      station: dev.station,
      camera: 'cam1',
      deviceId: dev.deviceId,
      partId: `p${Math.floor(r * 1e9)}`,
      capturedAt: now,
      inspectedAt: now,
      state: r < 0.03 ? 'nok' : 'ok',
      verdict: r < 0.03 ? 'NOK' : 'OK',
      score: r,
      normalizedScore: r,
      defectAreaPx: 0,
      thresholds: { version: 1, image: 0.5, pixel: 0.3 },
      model: { name: 'widget', version: '1.0.0', sha256: 'a'.repeat(64) },
      provider: 'cpu',
      timingsMs: { total: 41.5, denoise: 30.1 },
      error: null,
      imageRef: null,
      heatmapRef: null,
      shadow: null,
    };
    return signDeviceMessage(res, key.privateKeyPem);
  };

  // HTTP ingestion: batches of 1000 results (pre-serialised) from 4 concurrent senders, for SECONDS seconds.
  const bodies = Array.from({ length: 60 }, () =>
    JSON.stringify({ results: Array.from({ length: 1000 }, result) }),
  );
  let sent = 0;
  let next = 0;
  const t0 = Date.now();
  const heapBefore = process.memoryUsage().heapUsed;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() - t0 < SECONDS * 1000) {
        const i = next++;
        const body =
          i < bodies.length ? bodies[i] : JSON.stringify({ results: Array.from({ length: 1000 }, result) });
        const r = await post(agentApi.results, body, dev.credential);
        sent += r.accepted;
      }
    }),
  );
  const httpRate = sent / ((Date.now() - t0) / 1000);
  console.log(
    `HTTP ingestion: ${sent.toLocaleString()} results in ${((Date.now() - t0) / 1000).toFixed(1)} s = ${httpRate.toFixed(0)} results/s (batches of 1000, 4 senders, into a table of ${ROWS.toLocaleString()}+ rows)`,
  );
  console.log(`  heap growth during ingestion: ${mb(process.memoryUsage().heapUsed - heapBefore)}`);

  if (process.env.MQTT_URL) {
    const n = 50_000;
    const payloads = Array.from({ length: n }, () => JSON.stringify(result()));
    const before = Number(
      (await c.query('SELECT count(*) AS n FROM results WHERE device_id = $1', [dev.deviceId])).rows[0].n,
    );
    const pub = await mqtt.connectAsync(process.env.MQTT_URL, { protocolVersion: 5 });
    const topic = topics.result({ site: dev.site, line: dev.line, station: dev.station });
    const t1 = Date.now();
    let inflight: Promise<unknown>[] = [];
    for (const p of payloads) {
      inflight.push(pub.publishAsync(topic, p, { qos: 1 }));
      if (inflight.length >= 500) {
        await Promise.all(inflight);
        inflight = [];
      }
    }
    await Promise.all(inflight);
    for (;;) {
      const have = Number(
        (await c.query('SELECT count(*) AS n FROM results WHERE device_id = $1', [dev.deviceId])).rows[0].n,
      );
      if (have - before >= n || Date.now() - t1 > 120_000) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const s = (Date.now() - t1) / 1000;
    console.log(
      `MQTT ingestion (Mosquitto, QoS 1, shared subscription): ${n.toLocaleString()} results stored in ${s.toFixed(1)} s = ${(n / s).toFixed(0)} results/s`,
    );
    await pub.endAsync();
  }

  // Defect-history queries through the HTTP API: a filtered first page, then the next page by cursor.
  const lat = { page: [] as number[], next: [] as number[], agg: [] as number[] };
  const get = async (path: string) => {
    const t = performance.now();
    const r = await fetch(cp.url + path, { headers: { authorization: `Bearer ${admin}` } });
    // biome-ignore lint/suspicious/noExplicitAny: bench reads API replies loosely
    const body = (await r.json()) as any;
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(body)}`);
    return { ms: performance.now() - t, body };
  };
  const start = Date.parse('2026-10-29T00:00:00Z');
  for (let i = 0; i < 200; i++) {
    const line = `line${i % 10}`;
    const from = new Date(
      start + Math.floor(Math.random() * 28) * 86400_000 + Math.floor(Math.random() * 24) * 3600_000,
    );
    const to = new Date(from.getTime() + 12 * 3600_000);
    const filters =
      i % 4 === 0
        ? `site=plant1&line=${line}&station=st${i % 4}&verdict=NOK`
        : i % 4 === 1
          ? `line=${line}&verdict=NOK&minScore=0.6`
          : i % 4 === 2
            ? `site=plant1&line=${line}&modelVersion=1.1.0`
            : `line=${line}&verdict=NOK`;
    const q = `/api/v1/results?${filters}&from=${from.toISOString()}&to=${to.toISOString()}&limit=50`;
    const p1 = await get(q);
    lat.page.push(p1.ms);
    if (p1.body.nextCursor) lat.next.push((await get(`${q}&cursor=${p1.body.nextCursor}`)).ms);
    if (i % 10 === 0) {
      lat.agg.push(
        (
          await get(
            `/api/v1/results/aggregates?bucket=hour&line=${line}&from=${from.toISOString()}&to=${to.toISOString()}`,
          )
        ).ms,
      );
    }
  }
  const fmt = (xs: number[]) =>
    xs.length === 0
      ? 'no samples'
      : `p50 ${percentile(xs, 50).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms (n=${xs.length})`;
  const total = Number(
    (
      await c.query('SELECT reltuples::bigint AS n FROM pg_class WHERE oid = $1::regclass', [
        `${SCHEMA}.results`,
      ])
    ).rows[0].n,
  );
  console.log(
    `defect history at ~${total.toLocaleString()} rows, filtered 12 h window, page of 50 (HTTP, incl. auth and JSON):`,
  );
  console.log(`  first page:  ${fmt(lat.page)}`);
  console.log(`  next page:   ${fmt(lat.next)}`);
  console.log(`  hourly NOK-rate aggregate over the window: ${fmt(lat.agg)}`);
  const m = process.memoryUsage();
  console.log(
    `memory (bench and control plane in one process): rss ${mb(m.rss)}, peak rss ${mb(Math.max(peakRss, m.rss))}, heap ${mb(m.heapUsed)}`,
  );

  clearInterval(sampler);
  await c.query('DELETE FROM results WHERE device_id = $1', [dev.deviceId]);
  await c.end();
  await cp.close();
  rmSync(blobDir, { recursive: true, force: true });
}

await main();
