import type { PrismaClient } from '../generated/prisma/client.js';

/**
 * Time partitions of `results` (RANGE on captured_at, UTC bounds; migration 20261207171500).
 *
 * A partition is named `results_p<YYYYMMDD>_<YYYYMMDD>` after its bounds, so the bounds are read back from the
 * name. `results_default` takes rows no partition covers. The maintainer, run by every replica at start and on a
 * schedule (one at a time, under an advisory lock), creates the partitions for the current interval and the next
 * `ahead` ones, moves rows waiting in the default partition into a partition made for them, and drops whole
 * partitions that end before the retention cut-off.
 */
export type PartitionInterval = 'day' | 'week' | 'month';

export interface PartitionPolicy {
  interval: PartitionInterval;
  /** Intervals created ahead of the current one. */
  ahead: number;
  /** Drop partitions ending this many days ago or earlier; 0 keeps everything. */
  retentionDays: number;
}

export interface Range {
  from: Date;
  to: Date;
}

export interface MaintenanceReport {
  created: string[];
  dropped: string[];
  /** Rows moved from the default partition into a new partition. */
  moved: number;
  /** Rows older than the cut-off deleted from the default partition. */
  expired: number;
  /** False when another replica held the lock (nothing done). */
  ran: boolean;
}

const NAME = /^results_p(\d{8})_(\d{8})$/;
const DAY = 86_400_000;
const BACKFILL_DAYS = 731;

export function partitionName(r: Range): string {
  const d = (t: Date) => t.toISOString().slice(0, 10).replaceAll('-', '');
  return `results_p${d(r.from)}_${d(r.to)}`;
}

export function parsePartitionName(name: string): Range | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const p = (s: string) => new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T00:00:00Z`);
  const r = { from: p(m[1]), to: p(m[2]) };
  return Number.isNaN(r.from.getTime()) || Number.isNaN(r.to.getTime()) || r.from >= r.to ? null : r;
}

/** Start of the interval holding `t` (UTC; weeks start on Monday, like PostgreSQL's date_trunc). */
export function intervalStart(t: Date, interval: PartitionInterval): Date {
  const y = t.getUTCFullYear();
  const m = t.getUTCMonth();
  if (interval === 'month') return new Date(Date.UTC(y, m, 1));
  const day = new Date(Date.UTC(y, m, t.getUTCDate()));
  if (interval === 'day') return day;
  return new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY);
}

export function nextInterval(start: Date, interval: PartitionInterval): Date {
  if (interval === 'month') return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  return new Date(start.getTime() + (interval === 'day' ? 1 : 7) * DAY);
}

/** The parts of `want` no range in `have` covers (both lists of half-open ranges). */
export function uncovered(want: Range, have: Range[]): Range[] {
  let gaps: Range[] = [want];
  for (const h of have) {
    const next: Range[] = [];
    for (const g of gaps) {
      if (h.to <= g.from || h.from >= g.to) {
        next.push(g);
        continue;
      }
      if (h.from > g.from) next.push({ from: g.from, to: h.from });
      if (h.to < g.to) next.push({ from: h.to, to: g.to });
    }
    gaps = next;
  }
  return gaps;
}

type Tx = Pick<PrismaClient, '$queryRawUnsafe' | '$executeRawUnsafe'>;

const LOCK_KEY = 7243912;

export async function listPartitions(db: Tx): Promise<Array<{ name: string } & Range>> {
  const rows = await db.$queryRawUnsafe<Array<{ name: string }>>(
    `SELECT c.relname AS name
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent
      WHERE p.oid = to_regclass('results')`,
  );
  const out: Array<{ name: string } & Range> = [];
  for (const { name } of rows) {
    const r = parsePartitionName(name);
    if (r) out.push({ name, ...r });
  }
  return out.sort((a, b) => a.from.getTime() - b.from.getTime());
}

const iso = (d: Date) => d.toISOString();

/** One maintenance pass; safe to run from every replica at once (the others find the lock taken). */
export async function maintainPartitions(
  prisma: PrismaClient,
  policy: PartitionPolicy,
  now: Date,
): Promise<MaintenanceReport> {
  const report: MaintenanceReport = { created: [], dropped: [], moved: 0, expired: 0, ran: false };
  await prisma.$transaction(
    async (tx) => {
      const [{ locked }] = await tx.$queryRawUnsafe<Array<{ locked: boolean }>>(
        `SELECT pg_try_advisory_xact_lock(${LOCK_KEY}) AS locked`,
      );
      if (!locked) return;
      report.ran = true;
      // DDL below waits for ACCESS EXCLUSIVE on results; never queue ingestion behind it for long.
      await tx.$executeRawUnsafe(`SET LOCAL lock_timeout = '10s'`);
      const cutoff = policy.retentionDays > 0 ? new Date(now.getTime() - policy.retentionDays * DAY) : null;
      const have = await listPartitions(tx);

      for (const p of have) {
        if (cutoff && p.to <= cutoff) {
          await tx.$executeRawUnsafe(`DROP TABLE "${p.name}"`);
          report.dropped.push(p.name);
        }
      }
      const kept = have.filter((p) => !report.dropped.includes(p.name));
      if (cutoff) {
        report.expired = await tx.$executeRawUnsafe(
          `DELETE FROM "results_default" WHERE "captured_at" < $1::timestamptz`,
          iso(cutoff),
        );
      }

      // Wanted: the current interval and `ahead` more, plus intervals holding rows that wait in the default
      // partition (within the retention window and no further ahead than the created ones).
      const wanted: Range[] = [];
      let s = intervalStart(now, policy.interval);
      for (let i = 0; i <= policy.ahead; i++) {
        const e = nextInterval(s, policy.interval);
        wanted.push({ from: s, to: e });
        s = e;
      }
      const horizon = s;
      // Rows from further back than the retention (or two years when everything is kept) stay where they are.
      const lowest = cutoff ?? new Date(now.getTime() - BACKFILL_DAYS * DAY);
      const waiting = await tx.$queryRawUnsafe<Array<{ t: Date }>>(
        `SELECT DISTINCT date_trunc('day', "captured_at" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS t
           FROM "results_default"
          WHERE "captured_at" < $1::timestamptz AND "captured_at" >= $2::timestamptz`,
        iso(horizon),
        iso(lowest),
      );
      for (const { t } of waiting) {
        const from = intervalStart(new Date(t), policy.interval);
        if (!wanted.some((w) => w.from.getTime() === from.getTime()))
          wanted.push({ from, to: nextInterval(from, policy.interval) });
      }

      const taken: Range[] = [...kept];
      for (const w of wanted.sort((a, b) => a.from.getTime() - b.from.getTime())) {
        for (const gap of uncovered(w, taken)) {
          const name = partitionName(gap);
          const [{ n }] = await tx.$queryRawUnsafe<Array<{ n: number }>>(
            `SELECT count(*)::int AS n FROM "results_default"
              WHERE "captured_at" >= $1::timestamptz AND "captured_at" < $2::timestamptz`,
            iso(gap.from),
            iso(gap.to),
          );
          const bounds = `FOR VALUES FROM ('${iso(gap.from)}') TO ('${iso(gap.to)}')`;
          if (n === 0) {
            await tx.$executeRawUnsafe(`CREATE TABLE "${name}" PARTITION OF "results" ${bounds}`);
          } else {
            // PostgreSQL refuses a new partition while the default one holds rows for its range: take the
            // default partition out, create the new one, move the rows over, put the default one back.
            await tx.$executeRawUnsafe(`ALTER TABLE "results" DETACH PARTITION "results_default"`);
            await tx.$executeRawUnsafe(`CREATE TABLE "${name}" PARTITION OF "results" ${bounds}`);
            report.moved += await tx.$executeRawUnsafe(
              `WITH moved AS (
                 DELETE FROM "results_default"
                  WHERE "captured_at" >= $1::timestamptz AND "captured_at" < $2::timestamptz
                 RETURNING *)
               INSERT INTO "results" SELECT * FROM moved`,
              iso(gap.from),
              iso(gap.to),
            );
            await tx.$executeRawUnsafe(`ALTER TABLE "results" ATTACH PARTITION "results_default" DEFAULT`);
          }
          taken.push(gap);
          report.created.push(name);
        }
      }
    },
    { timeout: 600_000, maxWait: 30_000 },
  );
  return report;
}
