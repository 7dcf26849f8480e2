import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import Database from 'better-sqlite3';
import { checkCapacity, encodeResult, type Outbox, type OutboxEntry, OutboxFullError } from './types.js';

export interface SqliteOutboxOptions {
  capacityBytes: number;
  /** "full" survives power loss; "normal" survives a process crash only (WAL), and is faster. */
  synchronous?: 'full' | 'normal';
  /** Hard cap on the database file in pages (PRAGMA max_page_count); tests use it to simulate a full disk. */
  maxPages?: number;
  /** Called when an unreadable database file was moved aside (kept for forensics) and a new one started. */
  onQuarantine?: (movedTo: string, err: Error) => void;
}

/** The durable outbox: one SQLite file in WAL mode; a result is committed before append() returns. */
export class SqliteOutbox implements Outbox {
  readonly capacityBytes: number;
  private readonly db: Database.Database;
  private used: number;
  private count: number;
  private readonly insert: Database.Statement;
  private readonly findId: Database.Statement;
  private readonly select: Database.Statement;
  private readonly selectStation: Database.Statement;
  private readonly del: Database.Statement;

  constructor(path: string, opts: SqliteOutboxOptions) {
    checkCapacity(opts.capacityBytes);
    this.capacityBytes = opts.capacityBytes;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = openDb(path, opts);
    } catch (e) {
      if (path === ':memory:' || !isCorruption(e)) throw e;
      // A damaged file must not stop the line: keep it aside for recovery and start a new outbox.
      const aside = `${path}.corrupt-${Date.now()}`;
      renameSync(path, aside);
      for (const ext of ['-wal', '-shm']) if (existsSync(path + ext)) renameSync(path + ext, aside + ext);
      opts.onQuarantine?.(aside, e as Error);
      db = openDb(path, opts);
    }
    this.db = db;
    this.db.exec(`CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      result_id TEXT NOT NULL UNIQUE,
      station TEXT NOT NULL,
      payload TEXT NOT NULL,
      bytes INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_station_seq ON outbox (station, seq);
    CREATE TABLE IF NOT EXISTS set_aside (
      seq INTEGER PRIMARY KEY,
      result_id TEXT NOT NULL,
      station TEXT NOT NULL,
      payload TEXT NOT NULL,
      reason TEXT NOT NULL,
      at TEXT NOT NULL
    );`);
    this.insert = this.db.prepare(
      'INSERT INTO outbox (result_id, station, payload, bytes) VALUES (?, ?, ?, ?)',
    );
    this.findId = this.db.prepare('SELECT seq FROM outbox WHERE result_id = ?').pluck();
    this.select = this.db.prepare('SELECT seq, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    this.selectStation = this.db.prepare(
      'SELECT seq, payload FROM outbox WHERE station = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
    this.del = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
    const totals = this.db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM outbox')
      .get() as {
      n: number;
      b: number;
    };
    this.used = totals.b;
    this.count = totals.n;
  }

  append(result: InspectionResult): number {
    const existing = this.findId.get(result.resultId) as number | undefined;
    if (existing !== undefined) return existing;
    const payload = encodeResult(result);
    const bytes = Buffer.byteLength(payload);
    if (this.used + bytes > this.capacityBytes) throw new OutboxFullError(this.used, this.capacityBytes);
    let info: Database.RunResult;
    try {
      info = this.insert.run(result.resultId, result.station, payload, bytes);
    } catch (e) {
      // SQLITE_FULL: the disk (or max_page_count) is full. Same policy as the byte bound: refuse, keep the rest.
      if ((e as { code?: string }).code === 'SQLITE_FULL')
        throw new OutboxFullError(this.used, this.capacityBytes, 'disk full');
      throw e;
    }
    this.used += bytes;
    this.count++;
    return Number(info.lastInsertRowid);
  }

  peek(limit: number, afterSeq = 0, station?: string): OutboxEntry[] {
    const rows = (
      station === undefined
        ? this.select.all(afterSeq, limit)
        : this.selectStation.all(station, afterSeq, limit)
    ) as { seq: number; payload: string }[];
    return rows.map((r) => ({ seq: r.seq, result: JSON.parse(r.payload) as InspectionResult }));
  }

  ack(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const sizeOf = this.db.prepare('SELECT bytes FROM outbox WHERE seq = ?').pluck();
    this.db.transaction(() => {
      for (const seq of seqs) {
        const b = sizeOf.get(seq) as number | undefined;
        if (b === undefined) continue;
        this.del.run(seq);
        this.used -= b;
        this.count--;
      }
    })();
  }

  setAside(seq: number, reason: string): void {
    const row = this.db
      .prepare('SELECT result_id, station, payload, bytes FROM outbox WHERE seq = ?')
      .get(seq) as { result_id: string; station: string; payload: string; bytes: number } | undefined;
    if (!row) return;
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT OR REPLACE INTO set_aside (seq, result_id, station, payload, reason, at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(seq, row.result_id, row.station, row.payload, reason.slice(0, 1000), new Date().toISOString());
      this.del.run(seq);
    })();
    this.used -= row.bytes;
    this.count--;
  }

  setAsideList(limit = 100) {
    return (
      this.db
        .prepare('SELECT result_id, station, reason, at FROM set_aside ORDER BY seq DESC LIMIT ?')
        .all(limit) as Array<{ result_id: string; station: string; reason: string; at: string }>
    ).map((r) => ({ resultId: r.result_id, station: r.station, reason: r.reason, at: r.at }));
  }

  setAsideCount(): number {
    return this.db.prepare('SELECT COUNT(*) FROM set_aside').pluck().get() as number;
  }

  depth(station?: string): number {
    if (station === undefined) return this.count;
    return this.db.prepare('SELECT COUNT(*) FROM outbox WHERE station = ?').pluck().get(station) as number;
  }

  usedBytes(): number {
    return this.used;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function openDb(path: string, opts: SqliteOutboxOptions): Database.Database {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${(opts.synchronous ?? 'full').toUpperCase()}`);
    if (opts.maxPages) db.pragma(`max_page_count = ${Math.floor(opts.maxPages)}`);
    db.prepare('SELECT COUNT(*) FROM sqlite_master').get();
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

function isCorruption(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT');
}
