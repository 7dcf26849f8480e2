import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7 } from '@diad/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/db/database.js';
import { DEFAULT_MIGRATIONS_DIR, loadMigrations } from '../../src/db/migrate.js';
import { INSERT_RESULTS_SQL, toRow } from '../../src/results/result-row.js';
import { BACKENDS, DATABASE_URL, pgSchema } from '../helpers/harness.js';

const tmp = mkdtempSync(join(tmpdir(), 'diad-cp-db-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each(BACKENDS)('database on $name', ({ name }) => {
  let db: Database;
  let drop: () => Promise<void> = async () => {};
  let applied: string[] = [];

  beforeAll(async () => {
    if (name === 'postgres') {
      const s = pgSchema('db');
      drop = s.drop;
      db = await Database.open({ databaseUrl: DATABASE_URL, databaseSchema: s.schema, dataDir: '' });
    } else {
      // A folder whose parents do not exist yet: the embedded default must create them.
      db = await Database.open({ dataDir: join(tmp, 'a/b/db'), databaseSchema: 'public' });
    }
    applied = await db.migrate();
  });
  afterAll(async () => {
    await db?.close();
    await drop();
  });

  it('applies every committed migration once and records it for Prisma', async () => {
    expect(applied).toEqual(loadMigrations().map((m) => m.name));
    expect(await db.migrate()).toEqual([]);
    const rows = await db.prisma.$queryRawUnsafe<Array<{ migration_name: string; checksum: string }>>(
      'SELECT migration_name, checksum FROM "_prisma_migrations" ORDER BY migration_name',
    );
    expect(rows).toEqual(loadMigrations().map((m) => ({ migration_name: m.name, checksum: m.checksum })));
  });

  it('refuses a migration file that changed after it was applied', async () => {
    const dir = join(tmp, `${name}-changed`);
    cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    const first = loadMigrations(dir)[0].name;
    writeFileSync(join(dir, first, 'migration.sql'), '-- edited\n');
    await expect(db.migrate(dir)).rejects.toThrow(new RegExp(`${first}: file changed after it was applied`));
  });

  it('rolls a failing migration back completely and does not record it', async () => {
    const dir = join(tmp, `${name}-failing`);
    cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    mkdirSync(join(dir, '29990101000000_broken'));
    writeFileSync(
      join(dir, '29990101000000_broken', 'migration.sql'),
      'CREATE TABLE "half_done" (id int);\nINSERT INTO "no_such_table" VALUES (1);\n',
    );
    await expect(db.migrate(dir)).rejects.toThrow(/no_such_table/);
    const t = await db.prisma.$queryRawUnsafe<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'half_done'`,
    );
    expect(t[0].n).toBe(0);
    const m = await db.prisma.$queryRawUnsafe<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE migration_name = '29990101000000_broken'`,
    );
    expect(m[0].n).toBe(0);
  });

  it('keeps the audit log append-only in the database itself', async () => {
    const row = await db.prisma.auditLog.create({
      data: { actorType: 'system', action: 'test', entityType: 'test' },
    });
    await expect(
      db.prisma.auditLog.update({ where: { id: row.id }, data: { action: 'rewritten' } }),
    ).rejects.toThrow(/append-only/);
    await expect(db.prisma.auditLog.delete({ where: { id: row.id } })).rejects.toThrow(/append-only/);
    await expect(db.prisma.$executeRawUnsafe('TRUNCATE "audit_log"')).rejects.toThrow(/append-only/);
    expect(await db.prisma.auditLog.count()).toBe(1);
  });

  it('inserts result batches in one statement, skipping ids already stored', async () => {
    const base = Date.parse('2026-11-28T10:00:00Z');
    const results = Array.from({ length: 2000 }, (_, i) => ({
      schema: 'diad.result/v1' as const,
      resultId: uuidv7(base + i),
      site: 's',
      line: 'l',
      station: 'st',
      camera: 'c',
      deviceId: 'd',
      partId: `p${i}`,
      capturedAt: new Date(base + i).toISOString(),
      inspectedAt: new Date(base + i).toISOString(),
      state: 'ok' as const,
      verdict: 'OK' as const,
      score: i / 2000,
      normalizedScore: null,
      defectAreaPx: null,
      thresholds: null,
      model: i % 2 ? { name: 'm', version: '1.0.0', sha256: 'a'.repeat(64) } : null,
      provider: null,
      timingsMs: { total: i },
      error: null,
      imageRef: null,
      heatmapRef: null,
      shadow:
        i === 0
          ? {
              model: { name: 'm', version: '2.0.0', sha256: 'b'.repeat(64) },
              score: 0.9,
              verdict: 'NOK' as const,
            }
          : null,
    }));
    const ins = (rs: typeof results) =>
      db.prisma.$queryRawUnsafe<Array<{ result_id: string }>>(
        INSERT_RESULTS_SQL,
        JSON.stringify(rs.map(toRow)),
      );
    expect((await ins(results)).length).toBe(2000);
    expect((await ins([...results.slice(0, 500), ...results.slice(0, 10)])).length).toBe(0);
    const r0 = await db.prisma.result.findFirst({ where: { resultId: results[0].resultId } });
    expect(r0).toMatchObject({
      shadowModelVersion: 'm@2.0.0',
      shadowScore: 0.9,
      shadowVerdict: 'NOK',
      modelName: null,
    });
    const r1 = await db.prisma.result.findFirst({ where: { resultId: results[1].resultId } });
    expect(r1).toMatchObject({ modelVersion: '1.0.0', timingsMs: { total: 1 }, score: 1 / 2000 });
  });
});
