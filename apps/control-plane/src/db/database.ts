import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import { applyMigrations, loadMigrations, type MigrationSession } from './migrate.js';

export interface DatabaseOptions {
  databaseUrl?: string;
  /** Owner role for migrations (see config.databaseOwnerUrl); default: databaseUrl itself. */
  databaseOwnerUrl?: string;
  databaseSchema: string;
  dataDir: string;
  /** PostgreSQL connections this replica holds at most (default 10). */
  databasePoolSize?: number;
  /** How long a transaction waits for a free connection before it fails (Prisma's maxWait; default 10 s). */
  databaseTxWaitMs?: number;
}

/** The Prisma client plus what it runs on; the adapter is chosen here, once, at start-up. */
export class Database {
  private constructor(
    readonly prisma: PrismaClient,
    readonly kind: 'pglite' | 'postgres',
    private readonly migrationSession: () => Promise<{
      session: MigrationSession;
      /** With an owner role: gives the application role what it needs after migrating. */
      grant?: () => Promise<void>;
      release: () => Promise<void>;
    }>,
    private readonly shutdown: () => Promise<void>,
  ) {}

  static async open(opts: DatabaseOptions): Promise<Database> {
    if (opts.databaseUrl)
      return Database.openPostgres(opts.databaseUrl, opts.databaseSchema, opts.databaseOwnerUrl, {
        max: opts.databasePoolSize ?? 10,
        maxWait: opts.databaseTxWaitMs ?? 10_000,
      });
    return Database.openPglite(opts.dataDir);
  }

  private static async openPglite(dataDir: string): Promise<Database> {
    let pglite: PGlite;
    if (dataDir === 'memory://') {
      pglite = await memoryPglite();
    } else {
      // PGlite does not create parent folders itself.
      mkdirSync(dirname(dataDir), { recursive: true });
      pglite = new PGlite(dataDir);
    }
    await pglite.waitReady;
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
    const session = pgliteSession(pglite);
    return new Database(
      prisma,
      'pglite',
      async () => ({ session, release: async () => {} }),
      async () => {
        await prisma.$disconnect();
        await pglite.close();
      },
    );
  }

  private static async openPostgres(
    url: string,
    schema: string,
    ownerUrl: string | undefined,
    pool: { max: number; maxWait: number },
  ): Promise<Database> {
    const connection = { connectionString: url, options: `-c search_path="${schema}"` };
    const owner = { connectionString: ownerUrl ?? url, options: `-c search_path="${schema}"` };
    const appRole = ownerUrl ? decodeURIComponent(new URL(url).username) : null;
    const admin = new pg.Client({ connectionString: ownerUrl ?? url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } finally {
      await admin.end();
    }
    // Prisma's own wait for a connection (2 s) made a 1,000-agent fleet fail rollouts and enrolments with P2028 while
    // the pool was busy with ingestion: a transaction now queues for `maxWait` instead.
    const prisma = new PrismaClient({
      adapter: new PrismaPg({ ...connection, max: pool.max }, { schema }),
      transactionOptions: { maxWait: pool.maxWait },
    });
    const open = async () => {
      const client = new pg.Client(owner);
      await client.connect();
      // Replicas starting together must not apply the same migration twice.
      await client.query('SELECT pg_advisory_lock(7243911)');
      const session: MigrationSession = {
        query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
        inTransaction: async (fn) => {
          await client.query('BEGIN');
          try {
            await fn(async (sql, params) => (await client.query(sql, params as unknown[])).rows);
            await client.query('COMMIT');
          } catch (e) {
            await client.query('ROLLBACK');
            throw e;
          }
        },
      };
      return {
        session,
        grant: appRole ? () => grantApplicationRole(client, schema, appRole) : undefined,
        release: async () => {
          await client.query('SELECT pg_advisory_unlock(7243911)');
          await client.end();
        },
      };
    };
    return new Database(prisma, 'postgres', open, () => prisma.$disconnect());
  }

  /** Applies pending committed migrations; returns the names applied now. */
  async migrate(migrationsDir?: string): Promise<string[]> {
    const { session, grant, release } = await this.migrationSession();
    try {
      const applied = await applyMigrations(session, loadMigrations(migrationsDir));
      await grant?.();
      return applied;
    } finally {
      await release();
    }
  }

  /** Committed migrations not recorded as applied in this database (empty when up to date). */
  async pendingMigrations(migrationsDir?: string): Promise<string[]> {
    const rows = await this.prisma.$queryRawUnsafe<Array<{ migration_name: string }>>(
      'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    const applied = new Set(rows.map((r) => r.migration_name));
    return loadMigrations(migrationsDir)
      .map((m) => m.name)
      .filter((n) => !applied.has(n));
  }

  async close(): Promise<void> {
    await this.shutdown();
  }
}

/**
 * A throw-away in-memory database, already migrated. Creating a PGlite cluster (initdb) takes seconds; loading a
 * dump of one takes a fraction of that, so the first caller writes a migrated template to the temp folder
 * (keyed by the migrations' checksums) and later ones (tests, demos) start from it.
 */
async function memoryPglite(): Promise<PGlite> {
  const migrations = loadMigrations();
  const key = createHash('sha256')
    .update(migrations.map((m) => `${m.name}:${m.checksum}`).join('\n'))
    .digest('hex')
    .slice(0, 16);
  const file = join(tmpdir(), `diad-pglite-template-${key}.tar`);
  if (existsSync(file)) {
    try {
      const pg = new PGlite({ loadDataDir: new Blob([readFileSync(file)]) });
      await pg.waitReady;
      return pg;
    } catch {
      // A damaged template: fall through and build a fresh database.
    }
  }
  const pg = new PGlite();
  await pg.waitReady;
  await applyMigrations(pgliteSession(pg), migrations);
  const dump = Buffer.from(await (await pg.dumpDataDir('none')).arrayBuffer());
  const tmp = `${file}.${randomUUID()}`;
  writeFileSync(tmp, dump);
  renameSync(tmp, file);
  return pg;
}

function pgliteSession(pg: PGlite): MigrationSession {
  return {
    query: async (sql, params) => (await pg.query(sql, params)).rows as never[],
    // Multi-statement files go through exec (the simple protocol); the bookkeeping insert has parameters.
    inTransaction: (fn) =>
      pg.transaction(async (tx) => {
        await fn(async (sql, params) => {
          if (params) return (await tx.query(sql, params)).rows;
          await tx.exec(sql);
          return [];
        });
      }) as Promise<void>,
  };
}

/**
 * The application role's privileges, granted by the owner after each migration run: data access on every table,
 * but on the audit log only INSERT and SELECT; it owns nothing, so it cannot alter tables or their triggers.
 */
async function grantApplicationRole(client: pg.Client, schema: string, role: string): Promise<void> {
  const s = `"${schema.replace(/"/g, '""')}"`;
  const r = `"${role.replace(/"/g, '""')}"`;
  await client.query(`GRANT USAGE ON SCHEMA ${s} TO ${r}`);
  await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${r}`);
  await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`);
  await client.query(`REVOKE UPDATE, DELETE, TRUNCATE ON ${s}."audit_log" FROM ${r}`);
  await client.query(`REVOKE ALL ON ${s}."_prisma_migrations" FROM ${r}`);
  await client.query(`GRANT SELECT ON ${s}."_prisma_migrations" TO ${r}`);
}
