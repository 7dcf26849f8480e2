import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InspectionResult, uuidv7 } from '@diad/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/db/database.js';
import { DEFAULT_MIGRATIONS_DIR, loadMigrations } from '../../src/db/migrate.js';
import {
  intervalStart,
  listPartitions,
  maintainPartitions,
  nextInterval,
  parsePartitionName,
  partitionName,
  uncovered,
} from '../../src/db/partitions.js';
import { INSERT_RESULTS_SQL, toRow } from '../../src/results/result-row.js';
import { BACKENDS, DATABASE_URL, pgSchema } from '../helpers/harness.js';

const PARTITIONING = '20261207171500_results_partitioned_by_capture_time';
const tmp = mkdtempSync(join(tmpdir(), 'diad-cp-parts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function result(at: number, i: number, over: Partial<InspectionResult> = {}): InspectionResult {
  return {
    schema: 'diad.result/v1',
    resultId: uuidv7(at),
    site: 's',
    line: 'l',
    station: `st${i % 3}`,
    camera: 'c',
    deviceId: 'd',
    partId: `p${i}`,
    capturedAt: new Date(at).toISOString(),
    inspectedAt: new Date(at + 5).toISOString(),
    state: i % 4 ? 'ok' : 'nok',
    verdict: i % 4 ? 'OK' : 'NOK',
    score: i / 100,
    normalizedScore: null,
    defectAreaPx: null,
    thresholds: null,
    model: { name: 'm', version: '1.0.0', sha256: 'a'.repeat(64) },
    provider: 'cpu',
    timingsMs: { total: i },
    error: null,
    imageRef: null,
    heatmapRef: null,
    shadow: null,
    ...over,
  } as InspectionResult;
}

describe('partition arithmetic', () => {
  it('names, parses and steps intervals in UTC', () => {
    const r = { from: new Date('2026-12-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') };
    expect(partitionName(r)).toBe('results_p20261201_20270101');
    expect(parsePartitionName('results_p20261201_20270101')).toEqual(r);
    expect(parsePartitionName('results_default')).toBeNull();
    expect(parsePartitionName('results_p20270101_20261201')).toBeNull();
    const t = new Date('2026-12-09T23:59:59Z'); // a Wednesday
    expect(intervalStart(t, 'month').toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(intervalStart(t, 'week').toISOString()).toBe('2026-12-07T00:00:00.000Z');
    expect(intervalStart(t, 'day').toISOString()).toBe('2026-12-09T00:00:00.000Z');
    expect(nextInterval(new Date('2026-12-01T00:00:00Z'), 'month').toISOString()).toBe(
      '2027-01-01T00:00:00.000Z',
    );
  });

  it('finds the gaps existing partitions leave in a wanted range', () => {
    const d = (s: string) => new Date(`${s}T00:00:00Z`);
    const want = { from: d('2026-11-30'), to: d('2026-12-07') };
    expect(uncovered(want, [{ from: d('2026-12-01'), to: d('2027-01-01') }])).toEqual([
      { from: d('2026-11-30'), to: d('2026-12-01') },
    ]);
    expect(uncovered(want, [])).toEqual([want]);
    expect(uncovered(want, [{ from: d('2026-11-01'), to: d('2027-01-01') }])).toEqual([]);
  });
});

describe.each(BACKENDS)('partitioned results on $name', ({ name }) => {
  let db: Database;
  let drop: () => Promise<void> = async () => {};
  const before = join(tmp, `${name}-before`);
  const old = Array.from({ length: 300 }, (_, i) =>
    // Spread over Sept–Nov 2026, plus a few from 2020 (older than the 24 months the migration covers).
    result(
      i < 5 ? Date.parse('2020-03-01T00:00:00Z') + i : Date.parse('2026-09-01T00:00:00Z') + i * 8 * 3600_000,
      i,
    ),
  );

  beforeAll(async () => {
    cpSync(DEFAULT_MIGRATIONS_DIR, before, { recursive: true });
    rmSync(join(before, PARTITIONING), { recursive: true });
    for (const m of loadMigrations())
      if (m.name > PARTITIONING) rmSync(join(before, m.name), { recursive: true });
    if (name === 'postgres') {
      const s = pgSchema('i15parts');
      drop = s.drop;
      db = await Database.open({ databaseUrl: DATABASE_URL, databaseSchema: s.schema, dataDir: '' });
    } else {
      db = await Database.open({ dataDir: join(tmp, 'pglite/db'), databaseSchema: 'public' });
    }
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await drop();
  });

  it('migrates a database that already holds results, keeping every row', async () => {
    await db.migrate(before);
    // The table as it was: one plain table keyed by result id.
    const [{ kind }] = await db.prisma.$queryRawUnsafe<Array<{ kind: string }>>(
      `SELECT relkind::text AS kind FROM pg_class WHERE oid = to_regclass('results')`,
    );
    expect(kind).toBe('r');
    const cols = Object.keys(toRow(old[0]));
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO results (${cols.map((c) => `"${c}"`).join(', ')})
       SELECT ${cols.map((c) => `"${c}"`).join(', ')} FROM jsonb_populate_recordset(NULL::results, $1::jsonb)`,
      JSON.stringify(old.map(toRow)),
    );
    const snapshot = await db.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
      'SELECT * FROM results ORDER BY result_id',
    );
    expect(snapshot).toHaveLength(300);

    const applied = await db.migrate();
    expect(applied[0]).toBe(PARTITIONING);
    const [{ kind: after }] = await db.prisma.$queryRawUnsafe<Array<{ kind: string }>>(
      `SELECT relkind::text AS kind FROM pg_class WHERE oid = to_regclass('results')`,
    );
    expect(after).toBe('p');
    const rows = await db.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
      'SELECT * FROM results ORDER BY result_id',
    );
    expect(rows).toEqual(snapshot);
    const parts = await listPartitions(db.prisma);
    // A month for each month holding rows (September–November 2026) and the current one plus two ahead.
    expect(parts.slice(0, 3).map((p) => p.name)).toEqual([
      'results_p20260901_20261001',
      'results_p20261001_20261101',
      'results_p20261101_20261201',
    ]);
    expect(parts.length).toBeGreaterThanOrEqual(6);
    for (let i = 1; i < parts.length; i++) expect(parts[i].from >= parts[i - 1].to).toBe(true);
    const placed = await db.prisma.$queryRawUnsafe<Array<{ part: string; n: number }>>(
      `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM results GROUP BY 1 ORDER BY 1`,
    );
    expect(placed.find((p) => p.part.endsWith('results_default'))?.n).toBe(5);
    expect(placed.reduce((a, p) => a + p.n, 0)).toBe(300);
    const idx = await db.prisma.$queryRawUnsafe<Array<{ name: string }>>(
      `SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = to_regclass('results') ORDER BY 1`,
    );
    // Every filtered index ends in the page order (inspected_at, result_id) DESC (#15).
    expect(idx.map((i) => i.name.replace(/^.*\./, ''))).toEqual([
      'results_device_id_inspected_at_result_id_idx',
      'results_inspected_at_result_id_idx',
      'results_line_inspected_at_result_id_idx',
      'results_line_verdict_inspected_at_result_id_idx',
      'results_model_name_model_version_inspected_at_result_id_idx',
      'results_part_id_idx',
      'results_pkey',
      'results_site_line_station_inspected_at_result_id_idx',
      'results_site_line_station_verdict_inspected_at_result_id_idx',
    ]);
    // ... on every partition too, so a page of a line reads its rows in order from each partition's index.
    const [{ n }] = await db.prisma.$queryRawUnsafe<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM pg_index
        WHERE indrelid = to_regclass('${parts[0].name}')
          AND pg_get_indexdef(indexrelid) LIKE '%inspected_at DESC, result_id DESC)'`,
    );
    expect(n).toBe(7);
  }, 120_000);

  it('keeps ingestion idempotent on result id across partitions', async () => {
    const ins = (rs: InspectionResult[]) =>
      db.prisma.$queryRawUnsafe<Array<{ result_id: string }>>(
        INSERT_RESULTS_SQL,
        JSON.stringify(rs.map(toRow)),
      );
    expect(await ins(old.slice(0, 50))).toHaveLength(0);
    const fresh = Array.from({ length: 100 }, (_, i) => result(Date.parse('2026-12-07T10:00:00Z') + i, i));
    expect(await ins([...fresh, ...fresh.slice(0, 10)])).toHaveLength(100);
    expect(await ins(fresh)).toHaveLength(0);
    // The same id under another capture time (another partition) is still a duplicate.
    const moved = { ...fresh[0], capturedAt: '2026-10-15T00:00:00.000Z' };
    expect(await ins([moved])).toHaveLength(0);
    const [{ n }] = await db.prisma.$queryRawUnsafe<Array<{ n: number }>>(
      'SELECT count(*)::int AS n FROM results WHERE result_id = $1::uuid',
      fresh[0].resultId,
    );
    expect(n).toBe(1);
  });

  it('creates partitions ahead, moves waiting rows out of the default partition, drops expired ones', async () => {
    const policy = { interval: 'month' as const, ahead: 3, retentionDays: 0 };
    // Rows for March 2027 arrive before its partition exists: they wait in the default partition.
    const early = Array.from({ length: 20 }, (_, i) => result(Date.parse('2027-03-10T00:00:00Z') + i, i));
    await db.prisma.$queryRawUnsafe(INSERT_RESULTS_SQL, JSON.stringify(early.map(toRow)));
    const r1 = await maintainPartitions(db.prisma, policy, new Date('2026-12-20T00:00:00Z'));
    expect(r1.ran).toBe(true);
    expect(r1.created).toContain('results_p20270301_20270401');
    expect(r1.moved).toBe(20);
    expect(r1.dropped).toEqual([]);
    const again = await maintainPartitions(db.prisma, policy, new Date('2026-12-20T00:00:00Z'));
    expect(again).toMatchObject({ created: [], dropped: [], moved: 0 });

    const [{ n: before }] = await db.prisma.$queryRawUnsafe<Array<{ n: number }>>(
      'SELECT count(*)::int AS n FROM results',
    );
    // 100 days of retention on 2027-01-15: everything before 2026-10-07 goes, whole partitions only.
    const r2 = await maintainPartitions(
      db.prisma,
      { ...policy, retentionDays: 100 },
      new Date('2027-01-15T00:00:00Z'),
    );
    expect(r2.dropped).toEqual(['results_p20260901_20261001']);
    expect(r2.expired).toBe(5); // the 2020 rows in the default partition
    const [{ n: afterDrop, oldest }] = await db.prisma.$queryRawUnsafe<Array<{ n: number; oldest: Date }>>(
      'SELECT count(*)::int AS n, min(captured_at) AS oldest FROM results',
    );
    const september = old.filter((r) => r.capturedAt.startsWith('2026-09')).length;
    expect(afterDrop).toBe(before - september - 5);
    expect(new Date(oldest).toISOString() >= '2026-10-01').toBe(true);
    // Week partitions fill the gap up to the next monthly partition instead of overlapping it.
    const r3 = await maintainPartitions(
      db.prisma,
      { interval: 'week', ahead: 1, retentionDays: 0 },
      new Date('2027-05-28T00:00:00Z'),
    );
    const parts = await listPartitions(db.prisma);
    for (let i = 1; i < parts.length; i++) expect(parts[i].from >= parts[i - 1].to).toBe(true);
    expect(r3.created.length).toBeGreaterThan(0);
  }, 120_000);
});
