import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The few operations the runner needs; implemented for PGlite and for a node-postgres client. */
export interface MigrationSession {
  /** Runs `sql` (several statements allowed) inside one transaction; all or nothing. */
  inTransaction(
    fn: (exec: (sql: string, params?: unknown[]) => Promise<unknown[]>) => Promise<void>,
  ): Promise<void>;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export const DEFAULT_MIGRATIONS_DIR = resolve(import.meta.dirname, '../../../../prisma/migrations');

export function loadMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

/**
 * Applies the committed migrations that are not yet recorded, each in its own transaction, and records them in
 * a `_prisma_migrations` table the Prisma CLI also understands. A recorded migration whose file changed is an
 * error: migrations are append-only.
 */
export async function applyMigrations(session: MigrationSession, migrations: Migration[]): Promise<string[]> {
  await session.query(CREATE_TABLE);
  const rows = await session.query<{ migration_name: string; checksum: string }>(
    'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
  );
  const applied = new Map(rows.map((r) => [r.migration_name, r.checksum]));
  const done: string[] = [];
  for (const m of migrations) {
    const recorded = applied.get(m.name);
    if (recorded !== undefined) {
      if (recorded !== m.checksum) {
        throw new Error(
          `migration ${m.name}: file changed after it was applied (migrations are append-only)`,
        );
      }
      continue;
    }
    await session.inTransaction(async (exec) => {
      await exec(m.sql);
      await exec(
        `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
         VALUES ($1, $2, now(), $3, now(), 1)`,
        [randomUUID(), m.checksum, m.name],
      );
    });
    done.push(m.name);
  }
  return done;
}
