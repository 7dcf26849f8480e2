import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from './clock.js';

const DAY_MS = 86_400_000;
const DAY_DIR = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Defect images and heatmaps under <root>/<YYYY-MM-DD>/<resultId>-<kind>.<ext>. Retention is by day folder:
 * sweep() removes folders older than retentionDays (by the injected clock).
 */
export class ImageStore {
  constructor(
    private readonly root: string,
    private readonly retentionDays: number,
    private readonly clock: Clock,
  ) {
    if (!(retentionDays > 0)) throw new RangeError('ImageStore: retentionDays: expected > 0');
  }

  /** Stores bytes and returns the reference recorded in the result (relative to root). */
  save(resultId: string, kind: 'image' | 'heatmap', ext: string, bytes: Uint8Array): string {
    const day = new Date(this.clock.now()).toISOString().slice(0, 10);
    mkdirSync(join(this.root, day), { recursive: true });
    const name = `${resultId}-${kind}${ext}`;
    writeFileSync(join(this.root, day, name), bytes);
    return `${day}/${name}`;
  }

  sweep(): string[] {
    let days: string[];
    try {
      days = readdirSync(this.root).filter((d) => DAY_DIR.test(d));
    } catch {
      return [];
    }
    const cutoff = this.clock.now() - this.retentionDays * DAY_MS;
    const removed: string[] = [];
    for (const d of days) {
      // A day folder is expired when its whole day lies before the cutoff.
      if (Date.parse(`${d}T00:00:00Z`) + DAY_MS <= cutoff) {
        rmSync(join(this.root, d), { recursive: true, force: true });
        removed.push(d);
      }
    }
    return removed;
  }
}
