/**
 * Ingest lag without faults (`npm run bench:ingest-lag`): results published at QoS 1 to a private Mosquitto at a
 * steady rate, ingested by one control-plane process on PostgreSQL. Lag is measured from the moment a result is
 * created (its capture) to
 *   - committed: its arrival on the live stream (/api/v1/results/stream), which the control plane emits after the
 *     batch's commit, read by this process (so it includes the SSE hop);
 *   - row time: the row's received_at (the inserting statement's start, just before the commit), for comparison.
 *
 * Options: --rate 500 --seconds 20 --warmup 2 --flush-ms 0 --batch 1000 (INGEST_FLUSH_MS, INGEST_BATCH_SIZE).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  ADMIN_PASSWORD,
  Broker,
  ControlPlaneProcess,
  drive,
  enrolDevice,
  freePort,
  MqttPublisher,
  privateDatabase,
  sleep,
  topics,
  until,
} from '../test/ingest-faults/lab.js';

const { values: a } = parseArgs({
  options: {
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    'flush-ms': { type: 'string', default: '0' },
    batch: { type: 'string', default: '1000' },
  },
});
const rate = Number(a.rate);
const seconds = Number(a.seconds);
const warmup = Number(a.warmup);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const dir = mkdtempSync(join(tmpdir(), 'diad-ingest-lag-'));
const db = await privateDatabase('diad_i14_lag');
const broker = new Broker(join(dir, 'broker'), await freePort());
const cp = new ControlPlaneProcess(
  'cp',
  await freePort(),
  {
    DATABASE_URL: db.url,
    MQTT_URL: broker.url,
    BLOB_DIR: join(dir, 'blobs'),
    MQTT_GROUP: 'lag',
    MQTT_CLIENT_ID: 'lag-cp',
    INGEST_FLUSH_MS: a['flush-ms']!,
    INGEST_BATCH_SIZE: a.batch!,
  },
  dir,
);
try {
  await broker.start();
  await cp.start();
  const device = await enrolDevice(cp.url);
  const login = await fetch(`${cp.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  const { token } = (await login.json()) as { token: string };

  // Creation times by result id (high resolution), and commit lags seen on the live stream.
  const created = new Map<string, number>();
  const committed = new Map<string, number>();
  const abort = new AbortController();
  const sse = await fetch(`${cp.url}/api/v1/results/stream?access_token=${token}`, { signal: abort.signal });
  const reading = (async () => {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of sse.body as unknown as AsyncIterable<Uint8Array>) {
        const now = performance.now();
        buf += dec.decode(chunk, { stream: true });
        let i = buf.indexOf('\n');
        while (i >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.startsWith('id: ')) {
            const id = line.slice(4).trim();
            const t = created.get(id);
            if (t !== undefined) committed.set(id, now - t);
          }
          i = buf.indexOf('\n');
        }
      }
    } catch {
      // aborted
    }
  })();

  const pub = new MqttPublisher(broker.url, topics.result(device.address));
  await pub.connect();
  const t0 = performance.now();
  await drive(rate, warmup + seconds, device, (r) => {
    created.set(r.resultId, performance.now());
    pub.publish(r);
  });
  await until(() => pub.pending === 0, 60_000, 'every result acknowledged by the broker');
  await until(() => committed.size >= created.size, 60_000, 'every result on the live stream').catch(
    () => {},
  );
  await sleep(200);
  abort.abort();
  await reading;
  await pub.close();

  const warm = t0 + warmup * 1000;
  const lags = [...committed.entries()].filter(([id]) => (created.get(id) ?? 0) >= warm).map(([, l]) => l);
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const rows = await c.query<{ lag: number }>(
    `SELECT extract(epoch FROM (received_at - captured_at)) * 1000 AS lag FROM results
      WHERE captured_at >= (SELECT min(captured_at) FROM results) + make_interval(secs => $1)`,
    [warmup],
  );
  await c.end();
  const rowLags = rows.rows.map((r) => Number(r.lag));
  const fmt = (xs: number[]) =>
    `p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;
  console.log(
    `ingest lag at ${rate} results/s for ${seconds} s (after ${warmup} s warm-up), INGEST_FLUSH_MS=${a['flush-ms']}, INGEST_BATCH_SIZE=${a.batch}, PostgreSQL, private Mosquitto, MQTT 5 QoS 1`,
  );
  console.log(`  capture -> committed (live stream after commit): ${fmt(lags)}`);
  console.log(`  capture -> row received_at (insert statement):   ${fmt(rowLags)}`);
  console.log(`  published ${created.size}, seen committed ${committed.size}`);
} finally {
  await cp.stop().catch(() => {});
  await broker.stop().catch(() => {});
  await db.drop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
