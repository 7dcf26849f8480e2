import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import { applyMigrations, loadMigrations, type MigrationSession } from './migrate.js';

export interface DatabaseOptions {
  databaseUrl?: string;
  databaseSchema: string;
  dataDir: string;
}

/** The Prisma client plus what it runs on; the adapter is chosen here, once, at start-up. */
export class Database {
  private constructor(
    readonly prisma: PrismaClient,
    readonly kind: 'pglite' | 'postgres',
    private readonly migrationSession: () => Promise<{
      session: MigrationSession;
      release: () => Promise<void>;
    }>,
    private readonly shutdown: () => Promise<void>,
  ) {}

  static async open(opts: DatabaseOptions): Promise<Database> {
    if (opts.databaseUrl) return Database.openPostgres(opts.databaseUrl, opts.databaseSchema);
    return Database.openPglite(opts.dataDir);
  }

  private static async openPglite(dataDir: string): Promise<Database> {
    let pglite: PGlite;
    if (dataDir === 'memory://') {
      pglite = new PGlite();
    } else {
      // PGlite does not create parent folders itself.
      mkdirSync(dirname(dataDir), { recursive: true });
      pglite = new PGlite(dataDir);
    }
    await pglite.waitReady;
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
    const session: MigrationSession = {
      query: async (sql, params) => (await pglite.query(sql, params)).rows as never[],
      inTransaction: (fn) =>
        pglite.transaction(async (tx) => {
          await fn(async (sql, params) => {
            if (params) return (await tx.query(sql, params)).rows;
            await tx.exec(sql);
            return [];
          });
        }) as Promise<void>,
    };
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

  private static async openPostgres(url: string, schema: string): Promise<Database> {
    const connection = { connectionString: url, options: `-c search_path="${schema}"` };
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } finally {
      await admin.end();
    }
    const prisma = new PrismaClient({ adapter: new PrismaPg({ ...connection, max: 10 }, { schema }) });
    const open = async () => {
      const client = new pg.Client(connection);
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
    const { session, release } = await this.migrationSession();
    try {
      return await applyMigrations(session, loadMigrations(migrationsDir));
    } finally {
      await release();
    }
  }

  async close(): Promise<void> {
    await this.shutdown();
  }
}
