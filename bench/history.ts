/**
 * Defect-history figures on the time-partitioned results table: first-page and filtered query p95 over ≥ 12
 * monthly partitions, and the time to drop a month through the retention pass. Runs on a private PostgreSQL 15
 * (initdb on a free port under /tmp, removed afterwards) migrated by the control plane's own runner.
 *   npx tsx --tsconfig apps/control-plane/tsconfig.json --conditions=@diad/source bench/history.ts
 * Env: HISTORY_ROWS (default 3000000), HISTORY_MONTHS (default 13), HISTORY_RUNS per query (default 200).
 * HISTORY_INGEST_RATE: rows per second inserted into the current month while the queries run (0: none).
 * HISTORY_DIR: keep the instance in this folder and reuse it on the next run (generation skipped when it holds
 * rows; the retention step, which drops a month, runs only with HISTORY_DROP=1); remove the folder when done.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Database } from '../apps/control-plane/src/db/database.js';
import {
  listPartitions,
  maintainPartitions,
  partitionName,
} from '../apps/control-plane/src/db/partitions.js';
import { filterWhere, type ResultFilter } from '../apps/control-plane/src/results/results-query.js';
import { freePort, PgInstance } from './lib/topology.js';

const ROWS = Number(process.env.HISTORY_ROWS ?? 3_000_000);
const MONTHS = Number(process.env.HISTORY_MONTHS ?? 13);
const RUNS = Number(process.env.HISTORY_RUNS ?? 200);
const INGEST_RATE = Number(process.env.HISTORY_INGEST_RATE ?? 0);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main() {
  const keep = process.env.HISTORY_DIR;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'diad-history-'));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const reuse = !!keep && existsSync(join(dir, 'pg', 'pgdata', 'PG_VERSION'));
  const db = new PgInstance(join(dir, 'pg'), await freePort());
  if (!reuse) await db.init();
  else {
    // A kept instance gets a fresh free port.
    const conf = join(db.data, 'postgresql.auto.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace(/^port = '?\d+'?$/m, `port = ${db.port}`));
  }
  await db.start();
  try {
    const cp = await Database.open({ databaseUrl: db.url, databaseSchema: 'public', dataDir: '' });
    const tm = Date.now();
    const applied = await cp.migrate();
    if (applied.length)
      console.log(`migrations ${applied.join(', ')} applied in ${((Date.now() - tm) / 1000).toFixed(1)} s`);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();

    // Monthly partitions for MONTHS months ending with the current one.
    const now = new Date();
    const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - (MONTHS - 1), 1));
    for (let m = 0; m < MONTHS; m++) {
      const from = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + m, 1));
      const to = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + m + 1, 1));
      const name = partitionName({ from, to });
      await c.query(
        `CREATE TABLE IF NOT EXISTS "${name}" PARTITION OF results FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`,
      );
    }
    const spanMs = now.getTime() - first.getTime();
    const have = reuse ? Number((await c.query('SELECT count(*)::int AS n FROM results')).rows[0].n) : 0;
    if (have > 0) console.log(`reusing ${have.toLocaleString()} rows in ${dir}`);
    else await generate(c, first, spanMs);
    const parts = await listPartitions(cp.prisma);
    console.log(`${parts.length} partitions`);

    // The SQL ResultsService.page() runs (same WHERE builder, same ORDER BY and LIMIT).
    const page = (f: ResultFilter, limit = 100, cursor?: { inspectedAt: Date; resultId: string }) => {
      const w = filterWhere(f);
      if (cursor)
        w.add(
          '(inspected_at, result_id) < (?::timestamptz, ?::uuid)',
          cursor.inspectedAt.toISOString(),
          cursor.resultId,
        );
      return {
        sql: `SELECT * FROM results ${w} ORDER BY inspected_at DESC, result_id DESC LIMIT ${limit + 1}`,
        params: w.params,
      };
    };
    const day = new Date(now.getTime() - 3 * 86400_000);
    const queries: Array<[string, () => { sql: string; params: unknown[] }]> = [
      ['first page, one line (100 rows)', () => page({ line: `line${Math.floor(Math.random() * 20)}` })],
      ['first page, a line retired 12 months ago', () => page({ line: 'lineold' })],
      [
        'a later page of one line (keyset cursor)',
        () =>
          page({ line: `line${Math.floor(Math.random() * 20)}` }, 100, {
            inspectedAt: new Date(now.getTime() - Math.random() * spanMs),
            resultId: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
          }),
      ],
      [
        'defect history: NOK of one line',
        () => page({ line: `line${Math.floor(Math.random() * 20)}`, verdict: 'NOK' }),
      ],
      [
        'one station, one day',
        () =>
          page({
            site: 'plant1',
            line: 'line3',
            station: `st${Math.floor(Math.random() * 25)}`,
            from: new Date(day.getTime() - 86400_000).toISOString(),
            to: day.toISOString(),
          }),
      ],
      [
        'NOK of one line, 6 months ago',
        () => {
          const to = new Date(now.getTime() - 182 * 86400_000);
          return page({ line: 'line7', verdict: 'NOK', to: to.toISOString() });
        },
      ],
      ['one device', () => page({ deviceId: `dev-${Math.floor(Math.random() * 500)}` })],
      [
        'by result id',
        () => ({
          sql: 'SELECT * FROM results WHERE result_id = $1::uuid',
          params: [md5Uuid(Math.floor(Math.random() * ROWS) + 1)],
        }),
      ],
    ];
    const ingest = INGEST_RATE > 0 ? startIngest(db.url, INGEST_RATE) : null;
    console.log(
      `queries (${RUNS} runs each${ingest ? `, while inserting ${INGEST_RATE} rows/s` : ''}), load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}:`,
    );
    for (const [name, q] of queries) {
      if (process.env.HISTORY_EXPLAIN) {
        const { sql, params } = q();
        const plan = await c.query(`EXPLAIN (ANALYZE, SUMMARY) ${sql}`, params);
        console.log(plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
      }
      const ms: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const { sql, params } = q();
        const s = performance.now();
        await c.query(sql, params);
        ms.push(performance.now() - s);
      }
      console.log(
        `  ${name.padEnd(42)} p50 ${pct(ms, 50).toFixed(2)} ms  p95 ${pct(ms, 95).toFixed(2)} ms  max ${Math.max(...ms).toFixed(1)} ms`,
      );
    }

    if (ingest) {
      const r = await ingest.stop();
      console.log(`inserted ${r.rows.toLocaleString()} rows while querying (${r.perSecond.toFixed(0)}/s)`);
    }
    console.log(
      `load average after the queries ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
    if (keep && process.env.HISTORY_DROP !== '1') {
      await c.end();
      await cp.close();
      return;
    }
    // Retention: drop the oldest month through the maintenance pass (the cut-off just past its end).
    const oldest = parts[0];
    const rows = Number((await c.query(`SELECT count(*)::int AS n FROM "${oldest.name}"`)).rows[0].n);
    const retentionDays = Math.floor((now.getTime() - oldest.to.getTime()) / 86400_000);
    const s = performance.now();
    const r = await maintainPartitions(cp.prisma, { interval: 'month', ahead: 2, retentionDays }, now);
    console.log(
      `retention pass dropping ${r.dropped.join(', ')} (${rows.toLocaleString()} rows): ${(performance.now() - s).toFixed(0)} ms`,
    );
    await c.end();
    await cp.close();
  } finally {
    await db.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** Fills the partitions with ROWS results spread evenly from `first` over `spanMs`, then builds the indexes. */
async function generate(c: pg.Client, first: Date, spanMs: number) {
  const idx = (
    await c.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'results' AND indexname <> 'results_pkey'`,
    )
  ).rows as Array<{ indexname: string; indexdef: string }>;
  for (const i of idx) await c.query(`DROP INDEX "${i.indexname}"`);
  // Bulk-load settings for the set-up only (fewer checkpoints while filling, index builds sorting in memory);
  // they are reset before the queries are timed.
  await c.query(`ALTER SYSTEM SET max_wal_size = '8GB'`);
  await c.query('SELECT pg_reload_conf()');
  await c.query(`SET maintenance_work_mem = '1GB'`);
  const t0 = Date.now();
  const chunk = 500_000;
  for (let start = 0; start < ROWS; start += chunk) {
    const end = Math.min(ROWS, start + chunk);
    await c.query(
      `INSERT INTO results (result_id, site, line, station, camera, device_id, part_id, category, captured_at,
         inspected_at, state, verdict, score, normalized_score, defect_area_px, threshold_version, threshold_image,
         model_name, model_version, model_sha256, provider, timings_ms)
       SELECT md5(g::text)::uuid, 'plant1', 'line' || (g % 20), 'st' || ((g / 20) % 25), 'cam1', 'dev-' || (g % 500),
              'part-' || g, NULL, ts, ts + interval '40 milliseconds',
              CASE WHEN r < 0.03 THEN 'nok' ELSE 'ok' END, CASE WHEN r < 0.03 THEN 'NOK' ELSE 'OK' END,
              r, r, (r * 100)::int, 1, 0.5, 'widget', '1.' || (g % 3) || '.0', repeat('a', 64), 'cpu',
              '{"total": 40}'::jsonb
         FROM generate_series($1::bigint, $2::bigint) g,
              LATERAL (SELECT $3::timestamptz + (g::double precision / $4) * ($5 * interval '1 millisecond') AS ts,
                              random() AS r) x`,
      [start + 1, end, first.toISOString(), ROWS, spanMs],
    );
    process.stdout.write(
      `\rgenerating: ${end.toLocaleString()} rows (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  // A line retired a year ago: its rows are all in the oldest month (its first page must not walk the newer ones).
  await c.query(
    `INSERT INTO results (result_id, site, line, station, camera, device_id, part_id, category, captured_at,
       inspected_at, state, verdict, score, normalized_score, defect_area_px, threshold_version, threshold_image,
       model_name, model_version, model_sha256, provider, timings_ms)
     SELECT md5('old' || g::text)::uuid, 'plant1', 'lineold', 'st' || (g % 25), 'cam1', 'dev-old' || (g % 5),
            'part-old-' || g, NULL, ts, ts + interval '40 milliseconds',
            CASE WHEN g % 30 = 0 THEN 'nok' ELSE 'ok' END, CASE WHEN g % 30 = 0 THEN 'NOK' ELSE 'OK' END,
            0.1, 0.1, 1, 1, 0.5, 'widget', '1.0.0', repeat('a', 64), 'cpu', '{"total": 40}'::jsonb
       FROM generate_series(1, 3000) g,
            LATERAL (SELECT $1::timestamptz + interval '4 days' + g * interval '1 minute' AS ts) x`,
    [first.toISOString()],
  );
  console.log();
  const t1 = Date.now();
  // pg_indexes shows a partitioned table's index as "ON ONLY results" (parent only); build it on every partition.
  for (const i of idx) await c.query(i.indexdef.replace(' ON ONLY ', ' ON '));
  await c.query('ANALYZE results');
  await c.query('ALTER SYSTEM RESET max_wal_size');
  await c.query('SELECT pg_reload_conf()');
  await c.query('RESET maintenance_work_mem');
  await c.query('CHECKPOINT');
  console.log(
    `${ROWS.toLocaleString()} rows generated in ${((t1 - t0) / 1000).toFixed(0)} s, indexed in ${((Date.now() - t1) / 1000).toFixed(0)} s`,
  );
}

/** Inserts `rate` rows per second (in 10 batches a second) with the current time, as ingestion would. */
function startIngest(url: string, rate: number) {
  const c = new pg.Client({ connectionString: url });
  let rows = 0;
  let running = true;
  const t0 = performance.now();
  const done = (async () => {
    await c.connect();
    const batch = Math.max(1, Math.round(rate / 10));
    while (running) {
      const t = performance.now();
      await c.query(
        `INSERT INTO results (result_id, site, line, station, camera, device_id, part_id, category, captured_at,
           inspected_at, state, verdict, score, normalized_score, defect_area_px, threshold_version, threshold_image,
           model_name, model_version, model_sha256, provider, timings_ms)
         SELECT gen_random_uuid(), 'plant1', 'line' || (g % 20), 'st' || (g % 25), 'cam1', 'dev-' || (g % 500),
                'live-' || g, NULL, now(), now() + interval '40 milliseconds', 'ok', 'OK', 0.1, 0.1, 1, 1, 0.5,
                'widget', '1.0.0', repeat('a', 64), 'cpu', '{"total": 40}'::jsonb
           FROM generate_series(1, $1::int) g`,
        [batch],
      );
      rows += batch;
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - t))));
    }
    await c.end();
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { rows, perSecond: rows / ((performance.now() - t0) / 1000) };
    },
  };
}

/** The generated rows' ids are md5(g)::uuid. */
function md5Uuid(g: number): string {
  const h = createHash('md5').update(String(g)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

await main();
