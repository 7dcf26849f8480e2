/**
 * Fleet figures on one machine with everything on it: a NATS cluster (JetStream, replicas 3), control-plane
 * processes behind HAProxy on a private PostgreSQL, and N simulated agents (bench/fleet.ts).
 *   npm run bench:fleet -- --agents 200 --rate 1 --seconds 120 [--processes 4] [--nats 3] [--cps 2] [--via jetstream|mqtt]
 * Prints: agents held (enrolled, on the model, results flowing), results/s stored in the steady window, ingest lag
 * capture → row p50/p95 (received_at is set by the inserting transaction), history first-page p95 through the load
 * balancer while ingesting, and the wall time of a canary rollout to 100 % of the agents.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { makeBundle } from '../apps/control-plane/test/helpers/bundle.js';
import { adminClient, Fleet, provision } from './fleet.js';
import { sleep, startStack, until } from './lib/topology.js';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '100' },
    rate: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '120' },
    processes: { type: 'string', default: '4' },
    nats: { type: 'string', default: '3' },
    cps: { type: 'string', default: '2' },
    via: { type: 'string', default: 'jetstream' },
  },
});
const AGENTS = Number(values.agents);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const PASSWORD = 'fleet-bench-admin-password';
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : Number.NaN;
};
const log = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

const dir = mkdtempSync(join(tmpdir(), 'diad-fleet-bench-'));
chmodSync(dir, 0o755);
const stack = await startStack(dir, {
  natsNodes: Number(values.nats),
  controlPlanes: Number(values.cps),
  adminPassword: PASSWORD,
});
let fleet: Fleet | null = null;
try {
  const admin = await adminClient(stack.lb.url, PASSWORD);
  for (const v of ['1.0.0', '1.1.0']) {
    const fd = new FormData();
    fd.append('bundle', new Blob([await makeBundle('widget', v)]), 'bundle.tar');
    const r = await admin('POST', '/api/v1/models', fd);
    if (r.status !== 201) throw new Error(`upload ${v}: ${r.status}`);
  }
  const t0 = Date.now();
  const specs = await provision(admin, AGENTS, 'bench');
  log(`${AGENTS} stations provisioned; starting the agents`);
  fleet = await Fleet.start({
    controlPlaneUrl: stack.lb.url,
    mqtt: stack.nats.mqttPorts.map((p) => `mqtt://127.0.0.1:${p}`),
    jetstream: values.via === 'jetstream' ? stack.nats.urls : undefined,
    rate: RATE,
    heartbeatMs: 15_000,
    dir: join(dir, 'fleet'),
    processes: Number(values.processes),
    agents: specs,
  });
  const f = fleet;
  log('agents started');
  await until(
    'agents enrolled',
    async () => {
      const n = (await f.stats()).filter((a) => a.enrolled).length;
      if (n < AGENTS) log(`${n} agents enrolled`);
      return n;
    },
    (n) => n === AGENTS,
    600_000,
  );
  {
    // Retries answered with the same device (a reply lost to a client timeout after the commit).
    const q = new pg.Client({ connectionString: stack.db.url });
    await q.connect();
    const { n } = (
      await q.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'device.enrol-retry'`)
    ).rows[0];
    await q.end();
    log(`${AGENTS} agents enrolled in ${((Date.now() - t0) / 1000).toFixed(0)} s (${n} enrolment retries)`);
  }
  const stationIds = specs.map((s) => s.stationId);
  const first = await admin('POST', '/api/v1/rollouts', {
    model: { name: 'widget', version: '1.0.0' },
    target: { stations: stationIds },
    stages: [{ percent: 100 }],
    policy: { promotion: 'auto', bakeSeconds: 0 },
  });
  if (first.status !== 201) throw new Error(`first rollout: ${first.status} ${JSON.stringify(first.body)}`);
  const versions = async () => (await f.stats()).map((a) => a.model);
  await until('every agent on 1.0.0', versions, (v) => v.every((x) => x === '1.0.0'), 600_000);
  // The agents run 1.0.0 before the control plane has their reports (next heartbeat); the next rollout is refused
  // (409) while this one is live.
  await until(
    'first rollout completed',
    async () => (await admin('GET', `/api/v1/rollouts/${first.body.id}`)).body.status,
    (st) => st === 'completed',
    600_000,
  );
  log('every agent on 1.0.0; producing');

  const sql = new pg.Client({ connectionString: stack.db.url });
  // Without a listener, the database stopping in the cleanup below would crash the process with an "error" event
  // and hide the error that led there.
  sql.on('error', (e) => log(`bench database connection: ${e.message}`));
  await sql.connect();
  const count = async () => Number((await sql.query(`SELECT count(*)::int AS n FROM results`)).rows[0].n);
  f.produce(true);
  await sleep(Math.min(20_000, SECONDS * 200));
  // Steady window: stored rows per second, history reads through the load balancer meanwhile.
  const w0 = Date.now();
  const c0 = await count();
  const since = new Date().toISOString();
  const history: number[] = [];
  const steady = SECONDS * 1000 * 0.6;
  while (Date.now() - w0 < steady) {
    const s = performance.now();
    const r = await admin('GET', `/api/v1/results?line=line1&verdict=NOK&limit=50`);
    if (r.status === 200) history.push(performance.now() - s);
    await sleep(200);
  }
  const c1 = await count();
  const rate = (c1 - c0) / ((Date.now() - w0) / 1000);
  const lag = (
    await sql.query(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - captured_at)) * 1000 AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - captured_at)) * 1000 AS p95
         FROM results WHERE received_at >= $1::timestamptz`,
      [since],
    )
  ).rows[0];
  const stats = await f.stats();
  log(
    `steady window ${(steady / 1000).toFixed(0)} s: ${rate.toFixed(0)} results/s stored (offered ${(AGENTS * RATE).toFixed(0)}/s), ` +
      `ingest lag p50 ${Number(lag.p50).toFixed(0)} ms p95 ${Number(lag.p95).toFixed(0)} ms, ` +
      `history first page (NOK, 50 rows, via HAProxy) p50 ${pct(history, 50).toFixed(1)} ms p95 ${pct(history, 95).toFixed(1)} ms (${history.length} reads), ` +
      `outbox backlog ${stats.reduce((a, s) => a + s.outbox, 0)}`,
  );

  // Rollout to 100 % through canary stages while producing.
  const tr = Date.now();
  const ro = await admin('POST', '/api/v1/rollouts', {
    model: { name: 'widget', version: '1.1.0' },
    target: { stations: stationIds },
    stages: [{ count: 1 }, { percent: 25 }, { percent: 100 }],
    policy: { promotion: 'auto', bakeSeconds: 2 },
  });
  if (ro.status !== 201) throw new Error(`rollout: ${ro.status} ${JSON.stringify(ro.body)}`);
  await until('every agent on 1.1.0', versions, (v) => v.every((x) => x === '1.1.0'), 900_000);
  log(
    `rollout 1.1.0 (1 agent, 25 %, 100 %; bake 2 s) reached ${AGENTS} agents in ${((Date.now() - tr) / 1000).toFixed(1)} s`,
  );
  f.produce(false);
  const produced = (await f.stats()).reduce((a, s) => a + s.produced, 0);
  await until(
    'outboxes drained',
    async () => (await f.stats()).reduce((a, s) => a + s.outbox, 0),
    (n) => n === 0,
    300_000,
  );
  await until('rows stored', count, (n) => n >= produced, 300_000);
  log(`produced ${produced}, stored ${await count()}`);
  await sql.end();
  await f.stop();
  fleet = null;
} catch (e) {
  log(`failed: ${(e as Error).stack ?? e}`);
  // The control planes' own account of a 5xx (their logs go with the folder removed below).
  for (const [i, cp] of stack.cps.entries()) {
    const errors = cp.tail.split('\n').filter((l) => /"level":("error"|"fatal"|50|60)/.test(l));
    log(`control plane ${i + 1}, last errors:\n${errors.slice(-5).join('\n')}`);
  }
  process.exitCode = 1;
} finally {
  fleet?.kill();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
}
