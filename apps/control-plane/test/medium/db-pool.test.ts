import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/db/database.js';
import { DATABASE_URL, pgSchema } from '../helpers/harness.js';

// PostgreSQL only: PGlite has one connection and no pool.
describe.skipIf(!DATABASE_URL)(
  'PostgreSQL pool: a transaction queues for a busy pool instead of failing',
  () => {
    const s = pgSchema('pool');
    let db: Database;
    beforeAll(async () => {
      db = await Database.open({
        databaseUrl: DATABASE_URL,
        databaseSchema: s.schema,
        dataDir: '',
        databasePoolSize: 1,
        databaseTxWaitMs: 8_000,
      });
    });
    afterAll(async () => {
      await db?.close();
      await s.drop();
    });

    it('waits up to databaseTxWaitMs for the one connection (Prisma alone gives up after 2 s with P2028)', async () => {
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let started!: () => void;
      const holding = new Promise<void>((r) => {
        started = r;
      });
      const first = db.prisma.$transaction(
        async (tx) => {
          await tx.$queryRawUnsafe('SELECT 1');
          started();
          await held;
        },
        { timeout: 20_000 },
      );
      await holding;
      const t0 = Date.now();
      const second = db.prisma.$transaction(async (tx) =>
        tx.$queryRawUnsafe<Array<{ n: number }>>('SELECT 2 AS n'),
      );
      setTimeout(release, 3_000);
      await first;
      const rows = await second;
      expect(rows[0].n).toBe(2);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2_500);
    });
  },
);
