import { constants, mkdirSync } from 'node:fs';
import { lstat, readdir, readFile, rename, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import type { Logger } from 'pino';
import type { Frame } from '../frame.js';
import { OutboxFullError } from '../outbox/types.js';

export interface HotFolderOptions {
  path: string;
  site: string;
  line: string;
  station: string;
  camera: string;
  pollMs: number;
  settleMs: number;
  extensions: string[];
  submit: (frame: Frame) => Promise<InspectionResult>;
  logger: Logger;
  now?: () => number;
}

/**
 * Watches a folder by polling (reliable on network shares, unlike fs.watch). A file is taken once its size
 * and mtime are unchanged between two polls and it is at least settleMs old, i.e. fully written. After its
 * result is stored it moves to done/ (ok, nok) or failed/ (error, overrun). If the outbox is full the file
 * stays where it is and is retried. The part id is the file name without extension.
 */
export class HotFolderSource {
  private readonly seen = new Map<string, { size: number; mtimeMs: number }>();
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<unknown> | null = null;
  readonly doneDir: string;
  readonly failedDir: string;

  constructor(private readonly o: HotFolderOptions) {
    this.doneDir = join(o.path, 'done');
    this.failedDir = join(o.path, 'failed');
  }

  start() {
    mkdirSync(this.doneDir, { recursive: true });
    mkdirSync(this.failedDir, { recursive: true });
    this.timer = setInterval(() => {
      if (!this.polling) this.polling = this.pollOnce().finally(() => (this.polling = null));
    }, this.o.pollMs);
    this.timer.unref();
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
  }

  /** One scan of the folder; returns the files handed to inspection. */
  async pollOnce(): Promise<string[]> {
    const now = this.o.now?.() ?? Date.now();
    let names: string[];
    try {
      names = await readdir(this.o.path);
    } catch (e) {
      this.o.logger.error({ path: this.o.path, err: (e as Error).message }, 'hot folder unreadable');
      return [];
    }
    const exts = new Set(this.o.extensions.map((x) => x.toLowerCase()));
    const taken: string[] = [];
    const jobs: Promise<void>[] = [];
    for (const name of names.sort()) {
      if (!exts.has(extname(name).toLowerCase()) || this.inFlight.has(name)) continue;
      const file = join(this.o.path, name);
      // lstat: a symbolic link is not a file here (a link to the agent's own credentials must not be read).
      const st = await lstat(file).catch(() => null);
      if (!st?.isFile()) continue;
      const prev = this.seen.get(name);
      this.seen.set(name, { size: st.size, mtimeMs: st.mtimeMs });
      const stable =
        prev && prev.size === st.size && prev.mtimeMs === st.mtimeMs && now - st.mtimeMs >= this.o.settleMs;
      if (!stable) continue;
      this.inFlight.add(name);
      taken.push(name);
      jobs.push(this.process(name, file));
    }
    await Promise.all(jobs);
    return taken;
  }

  private async process(name: string, file: string) {
    try {
      // O_NOFOLLOW: a file swapped for a link after the check is refused too.
      const bytes = await readFile(file, { flag: constants.O_RDONLY | constants.O_NOFOLLOW });
      const frame: Frame = {
        site: this.o.site,
        line: this.o.line,
        station: this.o.station,
        camera: this.o.camera,
        partId: partIdOf(name),
        capturedAt: this.seen.get(name)?.mtimeMs ?? Date.now(),
        image: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      };
      const result = await this.o.submit(frame);
      const target = result.state === 'ok' || result.state === 'nok' ? this.doneDir : this.failedDir;
      await rename(file, await freeName(target, name));
      this.seen.delete(name);
    } catch (e) {
      // Outbox full: leave the file for a later poll. Anything else: the file is kept too, and logged.
      const level = e instanceof OutboxFullError ? 'warn' : 'error';
      this.o.logger[level]({ file, err: (e as Error).message }, 'hot-folder file not processed; will retry');
    } finally {
      this.inFlight.delete(name);
    }
  }
}

async function freeName(dir: string, name: string): Promise<string> {
  const ext = extname(name);
  const base = basename(name, ext);
  for (let i = 0; ; i++) {
    const candidate = join(dir, i === 0 ? name : `${base}.${i}${ext}`);
    if (!(await stat(candidate).catch(() => null))) return candidate;
  }
}

/** A part id from a file name: control characters replaced, at most 128 characters. */
function partIdOf(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: file names may hold what a part id must not
  const id = basename(name, extname(name)).replace(/[\u0000-\u001f\u007f-\u009f]/g, '_');
  return id.slice(0, 128) || 'unnamed';
}
