/**
 * Fleet scale-out under faults, with real processes on loopback:
 *   3-node NATS cluster (JetStream, stream replicas 3, MQTT listener on every node)
 *   2 control-plane processes (INGEST_TRANSPORT=nats) on a private PostgreSQL, behind HAProxy
 *   the fleet simulator (bench/fleet.ts): real agents, stand-in model, results straight into JetStream
 * Faults while parts are produced: SIGKILL a control-plane replica (restarted), SIGKILL the NATS node leading the
 * result stream (restarted), restart PostgreSQL. Then a canary rollout of a new model version to every agent and a
 * forced rollback reaching every agent. Asserts: produced = stored, lost 0, duplicated rows 0, per-station order.
 *
 * Size: FLEET_AGENTS (50), FLEET_RATE parts/s per agent (1), FLEET_SECONDS of production (90).
 * Needs Debian nats-server, haproxy, postgresql-15 and `npm run build` (control-plane dist).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBundle } from '../../apps/control-plane/test/helpers/bundle.js';
import { adminClient, Fleet, type ProducedRecord, provision } from '../../bench/fleet.js';
import {
  ControlPlaneProc,
  freePort,
  Haproxy,
  PgInstance,
  sleep,
  startNatsCluster,
  until,
  which,
} from '../../bench/lib/topology.js';

const AGENTS = Number(process.env.FLEET_AGENTS ?? 50);
const RATE = Number(process.env.FLEET_RATE ?? 1);
const SECONDS = Number(process.env.FLEET_SECONDS ?? 90);
const PROCESSES = Number(process.env.FLEET_PROCESSES ?? 2);
const STREAM = 'DIAD_RESULTS';
const PASSWORD = 'scale-test-admin-password';

const missing = ['nats-server', 'haproxy', 'initdb'].filter((b) => !which(b));
if (missing.length) console.log(`scale test skipped: missing ${missing.join(', ')}`);

const log = (msg: string) => console.log(`[scale ${new Date().toISOString().slice(11, 19)}] ${msg}`);

describe.skipIf(missing.length > 0)('fleet scale-out under faults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diad-scale-'));
  chmodSync(dir, 0o755);
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it(`${AGENTS} agents, ${SECONDS}s of parts: nothing lost or duplicated across faults; rollout and rollback reach every agent`, async () => {
    const t0 = Date.now();
    // ---- topology
    const db = new PgInstance(join(dir, 'pg'), await freePort());
    await db.init();
    await db.start();
    cleanups.push(() => db.stop());
    const nats = await startNatsCluster(join(dir, 'nats'), 3);
    for (const n of nats.nodes) cleanups.push(() => n.kill('SIGKILL'));
    const env = {
      DATABASE_URL: db.url,
      INGEST_TRANSPORT: 'nats',
      NATS_URL: nats.urls.join(','),
      NATS_STREAM: STREAM,
      NATS_STREAM_REPLICAS: '3',
      NATS_ACK_WAIT_SECONDS: '10',
      ROLLOUT_TICK_MS: '1000',
      RATE_LIMIT_PER_MINUTE: '0',
      JWT_SECRET: 'scale-test-secret-of-at-least-32-characters',
      DIAD_ADMIN_PASSWORD: PASSWORD,
      BLOB_DIR: join(dir, 'blobs'),
      DATA_DIR: join(dir, 'unused-pglite'),
    };
    const cps = [
      new ControlPlaneProc('cp1', await freePort(), env),
      new ControlPlaneProc('cp2', await freePort(), env),
    ];
    for (const cp of cps) {
      await cp.start();
      cleanups.push(() => cp.kill('SIGTERM'));
    }
    const lb = new Haproxy(
      join(dir, 'haproxy'),
      await freePort(),
      cps.map((c) => c.port),
    );
    await lb.start();
    cleanups.push(() => lb.kill('SIGTERM'));
    log(`topology up in ${Math.round((Date.now() - t0) / 1000)} s`);

    // ---- fleet: models, stations, first rollout
    const admin = await adminClient(lb.url, PASSWORD);
    for (const v of ['1.0.0', '1.1.0']) {
      const fd = new FormData();
      fd.append('bundle', new Blob([await makeBundle('widget', v)]), 'bundle.tar');
      const r = await admin('POST', '/api/v1/models', fd);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    const specs = await provision(admin, AGENTS, 'scale');
    const stationIds = specs.map((s) => s.stationId);
    const fleet = await Fleet.start({
      controlPlaneUrl: lb.url,
      mqtt: nats.mqttPorts.map((p) => `mqtt://127.0.0.1:${p}`),
      jetstream: nats.urls,
      rate: RATE,
      heartbeatMs: 2000,
      dir: join(dir, 'fleet'),
      processes: PROCESSES,
      agents: specs,
    });
    cleanups.push(async () => fleet.kill());
    await until(
      'every agent enrolled',
      async () => (await fleet.stats()).filter((a) => a.enrolled).length,
      (n) => n === AGENTS,
      120_000,
    );
    const first = await admin('POST', '/api/v1/rollouts', {
      model: { name: 'widget', version: '1.0.0' },
      target: { stations: stationIds },
      stages: [{ percent: 100 }],
      policy: { promotion: 'auto', bakeSeconds: 0 },
    });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const versions = async () => (await fleet.stats()).map((a) => a.model);
    await until('every agent on 1.0.0', versions, (v) => v.every((x) => x === '1.0.0'), 120_000);
    log(`${AGENTS} agents enrolled and on 1.0.0 after ${Math.round((Date.now() - t0) / 1000)} s`);

    // ---- production with faults
    fleet.produce(true);
    const start = Date.now();
    const at = (s: number) => sleep(Math.max(0, start + s * 1000 - Date.now()));
    const nc = await connect({ servers: nats.urls, maxReconnectAttempts: -1 });
    cleanups.push(() => nc.close());
    const jsm = await nc.jetstreamManager();

    await at(SECONDS * 0.15);
    log('fault: SIGKILL control-plane replica cp1');
    await cps[0].kill('SIGKILL');
    await at(SECONDS * 0.25);
    await cps[0].start();
    log('cp1 back');

    await at(SECONDS * 0.35);
    const leader = (await jsm.streams.info(STREAM)).cluster?.leader;
    const node = nats.nodes.find((n) => n.name === leader);
    expect(node, `stream leader ${leader}`).toBeDefined();
    log(`fault: SIGKILL NATS node ${leader} (stream leader)`);
    await node!.kill('SIGKILL');
    await at(SECONDS * 0.45);
    await node!.start();
    log(`${leader} back; leader now ${(await jsm.streams.info(STREAM).catch(() => null))?.cluster?.leader}`);

    await at(SECONDS * 0.55);
    log('fault: PostgreSQL restart');
    await db.stop();
    await sleep(3000);
    await db.start();
    log('PostgreSQL back');
    await until(
      'the control planes healthy again behind the load balancer',
      async () => (await fetch(`${lb.url}/readyz`)).status,
      (st) => st === 200,
      120_000,
    );

    // ---- rollout of 1.1.0 through canary stages, then a forced rollback, while parts keep coming
    await at(SECONDS * 0.6);
    const tr = Date.now();
    const ro = await admin('POST', '/api/v1/rollouts', {
      model: { name: 'widget', version: '1.1.0' },
      target: { stations: stationIds },
      stages: [{ count: 1 }, { percent: 25 }, { percent: 100 }],
      policy: { promotion: 'auto', bakeSeconds: 2 },
    });
    expect(ro.status, JSON.stringify(ro.body)).toBe(201);
    await until(
      'rollout 1.1.0 completed',
      async () => (await admin('GET', `/api/v1/rollouts/${ro.body.id}`)).body.status,
      (s) => s === 'completed',
      180_000,
    );
    await until('every agent on 1.1.0', versions, (v) => v.every((x) => x === '1.1.0'), 120_000);
    const rolloutSeconds = (Date.now() - tr) / 1000;
    log(`rollout 1.1.0 reached ${AGENTS} agents in ${rolloutSeconds.toFixed(1)} s`);
    const tb = Date.now();
    const rb = await admin('POST', `/api/v1/rollouts/${ro.body.id}/rollback`, { reason: 'scale test' });
    expect(rb.status, JSON.stringify(rb.body)).toBe(200);
    await until('every agent back on 1.0.0', versions, (v) => v.every((x) => x === '1.0.0'), 120_000);
    const rollbackSeconds = (Date.now() - tb) / 1000;
    log(`rollback reached ${AGENTS} agents in ${rollbackSeconds.toFixed(1)} s`);

    await at(SECONDS);
    fleet.produce(false);
    log('production stopped; draining');

    // ---- drain and count
    await until(
      'every outbox empty',
      async () => (await fleet.stats()).reduce((a, s) => a + s.outbox, 0),
      (n) => n === 0,
      180_000,
    );
    const records: ProducedRecord[] = await fleet.stop();
    const produced = records.length;
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    cleanups.push(() => sql.end());
    const count = async () =>
      Number((await sql.query(`SELECT count(*)::int AS n FROM results WHERE site = 'scale'`)).rows[0].n);
    await until('every produced result stored', count, (n) => n >= produced, 180_000);
    const rows = (
      await sql.query<{ result_id: string; station: string; part_id: string; captured_at: Date }>(
        `SELECT result_id, station, part_id, captured_at FROM results WHERE site = 'scale' ORDER BY station, captured_at, part_id`,
      )
    ).rows;
    const stored = new Set(rows.map((r) => r.result_id));
    const lost = records.filter((r) => !stored.has(r.resultId)).length;
    const duplicated = rows.length - stored.size;
    let outOfOrder = 0;
    let prev: { station: string; seq: number } | null = null;
    for (const r of rows) {
      const seq = Number(r.part_id.slice(r.part_id.lastIndexOf('-') + 1));
      if (prev && prev.station === r.station && seq <= prev.seq) outOfOrder++;
      prev = { station: r.station, seq };
    }
    const partitions = Number(
      (await sql.query(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'results'::regclass`))
        .rows[0].n,
    );
    log(
      `produced ${produced}, stored ${rows.length}, lost ${lost}, duplicated ${duplicated}, out of order ${outOfOrder}; ` +
        `${partitions} partitions; rollout ${rolloutSeconds.toFixed(1)} s, rollback ${rollbackSeconds.toFixed(1)} s; ` +
        `whole test ${Math.round((Date.now() - t0) / 1000)} s`,
    );
    expect(produced).toBeGreaterThan(AGENTS * RATE * SECONDS * 0.5);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(rows.length).toBe(produced);
    expect(outOfOrder).toBe(0);
  });
});
