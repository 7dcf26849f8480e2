/**
 * Defect-history figures on the time-partitioned results table: first-page and filtered query p95 over ≥ 12
 * monthly partitions, and the time to drop a month through the retention pass. Runs on a private PostgreSQL 15
 * (initdb on a free port under /tmp, removed afterwards) migrated by the control plane's own runner.
 *   npx tsx --tsconfig apps/control-plane/tsconfig.json --conditions=@diad/source bench/history.ts
 * Env: HISTORY_ROWS (default 3000000), HISTORY_MONTHS (default 13), HISTORY_RUNS per query (default 200).
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'diad-history-'));
  chmodSync(dir, 0o755);
  const db = new PgInstance(join(dir, 'pg'), await freePort());
  await db.init();
  await db.start();
  try {
    const cp = await Database.open({ databaseUrl: db.url, databaseSchema: 'public', dataDir: '' });
    await cp.migrate();
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
    const idx = (
      await c.query(
        `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'results' AND indexname <> 'results_pkey'`,
      )
    ).rows as Array<{ indexname: string; indexdef: string }>;
    for (const i of idx) await c.query(`DROP INDEX "${i.indexname}"`);
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
    console.log();
    const t1 = Date.now();
    // pg_indexes shows a partitioned table's index as "ON ONLY results" (parent only); build it on every partition.
    for (const i of idx) await c.query(i.indexdef.replace(' ON ONLY ', ' ON '));
    await c.query('ANALYZE results');
    const parts = await listPartitions(cp.prisma);
    console.log(
      `${ROWS.toLocaleString()} rows over ${parts.length} monthly partitions: generated in ${((t1 - t0) / 1000).toFixed(0)} s, indexed in ${((Date.now() - t1) / 1000).toFixed(0)} s`,
    );

    // The SQL ResultsService.page() runs (same WHERE builder, same ORDER BY and LIMIT).
    const page = (f: ResultFilter, limit = 100) => {
      const w = filterWhere(f);
      return {
        sql: `SELECT * FROM results ${w} ORDER BY inspected_at DESC, result_id DESC LIMIT ${limit + 1}`,
        params: w.params,
      };
    };
    const day = new Date(now.getTime() - 3 * 86400_000);
    const queries: Array<[string, () => { sql: string; params: unknown[] }]> = [
      ['first page, one line (100 rows)', () => page({ line: `line${Math.floor(Math.random() * 20)}` })],
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
        `  ${name.padEnd(36)} p50 ${pct(ms, 50).toFixed(2)} ms  p95 ${pct(ms, 95).toFixed(2)} ms  max ${Math.max(...ms).toFixed(1)} ms`,
      );
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
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The generated rows' ids are md5(g)::uuid. */
function md5Uuid(g: number): string {
  const h = createHash('md5').update(String(g)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

await main();
