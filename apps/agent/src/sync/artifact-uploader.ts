import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { backoffDelay, type Clock } from '../clock.js';
import { type ControlPlaneClient, ControlPlaneError } from './client.js';

const TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
};
/** Answers that will not change on retry: the upload is dropped (the file stays on the device). */
const PERMANENT = new Set([400, 403, 413, 415]);

export interface ArtifactUploaderOptions {
  dbPath: string;
  imagesRoot: string;
  client: ControlPlaneClient;
  credential: () => string | null;
  clock: Clock;
  backoff: { initialMs: number; maxMs: number };
  logger: Logger;
}

/**
 * Uploads defect images and heatmaps to the control plane, oldest first, from a small durable queue (SQLite),
 * so a result's pictures follow it even after a network outage or restart. Files swept by retention before
 * they could be sent are skipped.
 */
export class ArtifactUploader {
  private readonly db: Database.Database;
  private timer: unknown = null;
  private running = false;
  private busy: Promise<void> | null = null;
  private failures = 0;

  constructor(private readonly o: ArtifactUploaderOptions) {
    this.db = new Database(o.dbPath);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS artifacts (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      result_id TEXT NOT NULL,
      kind TEXT NOT NULL,
      ref TEXT NOT NULL,
      UNIQUE (result_id, kind)
    )`);
  }

  enqueue(resultId: string, kind: 'image' | 'heatmap', ref: string) {
    this.db
      .prepare('INSERT OR IGNORE INTO artifacts (result_id, kind, ref) VALUES (?, ?, ?)')
      .run(resultId, kind, ref);
    this.poke();
  }

  depth(): number {
    return this.db.prepare('SELECT COUNT(*) FROM artifacts').pluck().get() as number;
  }

  start() {
    this.running = true;
    this.poke();
  }

  async stop() {
    this.running = false;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.busy;
    this.db.close();
  }

  /** Sends pending uploads until one fails; returns how many were sent. */
  async uploadOnce(): Promise<number> {
    const cred = this.o.credential();
    if (!cred) return 0;
    let sent = 0;
    // One pass visits the rows queued when it began: a row sent to the back (409) waits for the next pass.
    const last = (this.db.prepare('SELECT MAX(seq) FROM artifacts').pluck().get() as number | null) ?? 0;
    const next = this.db.prepare(
      'SELECT seq, result_id AS resultId, kind, ref FROM artifacts WHERE seq <= ? ORDER BY seq LIMIT 1',
    );
    const del = this.db.prepare('DELETE FROM artifacts WHERE seq = ?');
    const add = this.db.prepare('INSERT INTO artifacts (result_id, kind, ref) VALUES (?, ?, ?)');
    for (;;) {
      const row = next.get(last) as
        | { seq: number; resultId: string; kind: 'image' | 'heatmap'; ref: string }
        | undefined;
      if (!row) return sent;
      const type = TYPES[extname(row.ref).toLowerCase()];
      let bytes: Buffer | null = null;
      if (type) bytes = await readFile(join(this.o.imagesRoot, row.ref)).catch(() => null);
      if (!type || !bytes) {
        this.o.logger.warn(
          { ref: row.ref },
          type
            ? 'artifact file gone (retention); not uploaded'
            : 'artifact type not accepted by the control plane; kept on the device only',
        );
        del.run(row.seq);
        continue;
      }
      try {
        await this.o.client.putArtifact(cred, row.resultId, row.kind, bytes, type);
        del.run(row.seq);
        sent++;
      } catch (e) {
        if (e instanceof ControlPlaneError && e.status === 409) {
          // The control plane has not stored the result yet (it travels on another path): try again later,
          // behind the others, instead of holding up the queue.
          this.db.transaction(() => {
            del.run(row.seq);
            add.run(row.resultId, row.kind, row.ref);
          })();
          continue;
        }
        if (e instanceof ControlPlaneError && e.status !== undefined && PERMANENT.has(e.status)) {
          this.o.logger.warn(
            { ref: row.ref, err: e.message },
            'artifact refused by the control plane; dropped',
          );
          del.run(row.seq);
          continue;
        }
        throw e;
      }
    }
  }

  /** Tries to upload now (new rows, enrolment, periodic nudge); no-op while a pass or a backoff is pending. */
  poke() {
    if (!this.running || this.busy || this.timer) return;
    this.busy = this.uploadOnce().then(
      () => {
        this.failures = 0;
        this.busy = null;
        // Rows enqueued while the pass was finishing.
        if (this.running && this.depth() > 0 && this.o.credential()) this.poke();
      },
      (e: Error) => {
        this.busy = null;
        const delay = backoffDelay(this.failures++, this.o.backoff.initialMs, this.o.backoff.maxMs);
        this.o.logger.warn({ err: e.message, retryInMs: delay }, 'artifact upload failed');
        this.timer = this.o.clock.setTimeout(() => {
          this.timer = null;
          this.poke();
        }, delay);
      },
    );
  }
}
