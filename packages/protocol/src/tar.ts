/**
 * The one tar reader and writer of DiAD Edge. Every place that opens a bundle (the registry on upload, the agent
 * and the pipeline when loading, tools that pack) goes through this module, so every reader sees the same files.
 *
 * Reading is two readers in step: a strict byte-level guard ({@link TarGuard}) that sees every byte first and
 * refuses anything ambiguous or unbounded, and tar-stream, which streams the entries. Each entry tar-stream
 * announces must match the guard's reading of the same header (name, kind, size), so a difference between two
 * tar implementations can only end in a refusal, never in two different archives.
 *
 * Refused, with a message naming the entry: links and special files, `..`, absolute, backslash, drive-letter and
 * control-character paths, duplicate names (also when they differ only in case), a file used as a folder,
 * ambiguous names (a GNU long name and a pax path on one entry, two long names or two pax headers for one entry,
 * a pax header with two records for one key, a global pax header that sets a path or size), metadata headers
 * larger than {@link TarLimits.maxMetaBytes} (refused from the header, before any of it is buffered), declared
 * sizes beyond the limit or beyond the data, truncated headers, bad checksums and bytes after the end marker.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';

/** An archive refused by the tar policy. The message names the entry (or the byte offset) and the problem. */
export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

export interface TarLimits {
  /** Largest pax or GNU long-name header, in bytes. Default 64 KiB. */
  maxMetaBytes?: number;
  /** Largest declared size of one file. Default 64 GiB. */
  maxEntryBytes?: number;
  /** Most entries (files and folders). Default 10,000. */
  maxEntries?: number;
}

const DEFAULT_META = 64 * 1024;
const DEFAULT_ENTRY = 64 * 1024 ** 3;
const DEFAULT_ENTRIES = 10_000;
const MAX_PATH_BYTES = 1024;
const BLOCK = 512;

/** Writes a name into a message without letting control characters or huge names through. */
function show(name: string): string {
  const s = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
  return s;
}

/**
 * The safe-path policy: returns the normalised relative path (no `.` parts, no empty parts, no trailing `/`) or
 * throws TarError. Refuses `..`, absolute paths, backslashes, drive letters and `:`, control characters, bytes
 * that are not UTF-8, and paths over 1024 bytes.
 */
export function safeTarPath(name: string): string {
  const why = unsafeReason(name);
  if (why) throw new TarError(`tar entry ${show(name)}: unsafe path (${why})`);
  return name
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

function unsafeReason(name: string): string | null {
  if (name === '') return 'empty name';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'control character';
  if (name.includes('\uFFFD')) return 'not valid UTF-8';
  if (Buffer.byteLength(name, 'utf8') > MAX_PATH_BYTES) return `longer than ${MAX_PATH_BYTES} bytes`;
  if (name.includes('\\')) return 'backslash';
  if (/^[A-Za-z]:/.test(name)) return 'drive letter';
  if (name.includes(':')) return '":" in a name';
  if (name.startsWith('/')) return 'absolute path';
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return '".." component';
  if (parts.length === 0) return 'empty name';
  return null;
}

/** One entry as the guard read its header: what tar-stream must report for the same header. */
export interface GuardedEntry {
  /** The name as written (after long names and pax), before normalisation. */
  raw: string;
  /** The normalised safe path. */
  path: string;
  kind: 'file' | 'directory';
  size: number;
}

type Pending = { longName?: string; paxPath?: string; paxSize?: number; pax?: true; at: number };

/**
 * Byte-level tar checker: fed every chunk in order, it holds at most one 512-byte header and one metadata
 * header (bounded by maxMetaBytes); file data is only counted. Throws TarError on the first problem.
 */
export class TarGuard {
  /** Entries read so far and not yet taken by the second reader. */
  readonly expected: GuardedEntry[] = [];
  private readonly maxMeta: number;
  private readonly maxEntry: number;
  private readonly maxEntries: number;
  private state: 'header' | 'meta' | 'data' | 'pad' | 'end' = 'header';
  private head = Buffer.alloc(BLOCK);
  private headFill = 0;
  private meta: Buffer = Buffer.alloc(0);
  private metaFill = 0;
  private metaType = '';
  private remaining = 0;
  private offset = 0;
  private headerAt = 0;
  private current: GuardedEntry | null = null;
  private pending: Pending | null = null;
  private count = 0;
  private readonly names = new Map<string, 'file' | 'directory'>();
  private readonly parents = new Set<string>();

  constructor(limits: TarLimits = {}) {
    this.maxMeta = limits.maxMetaBytes ?? DEFAULT_META;
    this.maxEntry = limits.maxEntryBytes ?? DEFAULT_ENTRY;
    this.maxEntries = limits.maxEntries ?? DEFAULT_ENTRIES;
  }

  push(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === 'header') {
        const n = Math.min(BLOCK - this.headFill, chunk.length - pos);
        this.head.set(chunk.subarray(pos, pos + n), this.headFill);
        this.headFill += n;
        pos += n;
        this.offset += n;
        if (this.headFill === BLOCK) {
          this.headFill = 0;
          this.headerAt = this.offset - BLOCK;
          this.header(this.head);
        }
      } else if (this.state === 'meta') {
        const n = Math.min(this.meta.length - this.metaFill, chunk.length - pos);
        this.meta.set(chunk.subarray(pos, pos + n), this.metaFill);
        this.metaFill += n;
        pos += n;
        this.offset += n;
        if (this.metaFill === this.meta.length) this.endMeta();
      } else if (this.state === 'data' || this.state === 'pad') {
        const n = Math.min(this.remaining, chunk.length - pos);
        pos += n;
        this.offset += n;
        this.remaining -= n;
        if (this.remaining === 0) this.afterData();
      } else {
        for (; pos < chunk.length; pos++, this.offset++) {
          if (chunk[pos] !== 0)
            throw new TarError(`tar: data after the end-of-archive marker at byte ${this.offset}`);
        }
      }
    }
  }

  /** Call when the input ends; throws when it ended inside a header, a metadata header or a file's data. */
  finish(): void {
    if (this.state === 'data' || (this.state === 'pad' && this.current)) {
      const c = this.current!;
      const got = c.size - (this.state === 'data' ? this.remaining : 0);
      throw new TarError(
        `tar entry ${show(c.raw)}: declares ${c.size} bytes but the archive ends after ${got} of them`,
      );
    }
    if (this.state === 'meta') {
      throw new TarError(
        `tar: metadata header at byte ${this.headerAt} declares ${this.meta.length} bytes but the archive ends after ${this.metaFill}`,
      );
    }
    if (this.state === 'pad') throw new TarError(`tar: archive ends inside padding at byte ${this.offset}`);
    if (this.state === 'header' && this.headFill > 0) {
      throw new TarError(`tar: truncated header at byte ${this.offset - this.headFill}`);
    }
    if (this.pending) {
      throw new TarError(`tar: metadata header at byte ${this.pending.at} is not followed by an entry`);
    }
    if (this.count === 0) throw new TarError('tar: no entries in the archive');
  }

  private afterData(): void {
    if (this.state === 'data') {
      const pad = (BLOCK - (this.current!.size % BLOCK)) % BLOCK;
      this.current = null;
      if (pad > 0) {
        this.state = 'pad';
        this.remaining = pad;
        return;
      }
    }
    this.current = null;
    this.state = 'header';
  }

  private header(h: Buffer): void {
    const at = this.headerAt;
    if (h.every((b) => b === 0)) {
      if (this.pending)
        throw new TarError(`tar: metadata header at byte ${this.pending.at} is not followed by an entry`);
      this.state = 'end';
      return;
    }
    const stored = numeric(h, 148, 8);
    let sum = 8 * 32;
    for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += h[i];
    if (stored === null || stored !== sum) {
      throw new TarError(`tar: header at byte ${at} has a bad checksum (corrupt, or not a tar file)`);
    }
    const magic = h.toString('latin1', 257, 265);
    const posix = magic === 'ustar\u000000';
    if (!posix && magic !== 'ustar  \u0000') {
      throw new TarError(`tar: header at byte ${at} is neither POSIX ustar nor GNU`);
    }
    const flag = h[156] === 0 ? '0' : String.fromCharCode(h[156]);
    let name = cstr(h, 0, 100);
    if (posix && h[345] !== 0) name = `${cstr(h, 345, 155)}/${name}`;
    const size = this.size(h, at, name);

    if (flag === 'x' || flag === 'g' || flag === 'L') {
      if (size > this.maxMeta) {
        throw new TarError(
          `tar: metadata header ("${flag}") at byte ${at} declares ${size} bytes, more than the limit of ${this.maxMeta}`,
        );
      }
      if (size === 0) throw new TarError(`tar: metadata header ("${flag}") at byte ${at} is empty`);
      this.metaType = flag;
      this.meta = Buffer.alloc(size);
      this.metaFill = 0;
      this.remaining = 0;
      this.state = 'meta';
      if (!this.pending) this.pending = { at };
      return;
    }

    const p = this.pending;
    this.pending = null;
    if (p?.longName !== undefined && p.paxPath !== undefined) {
      throw new TarError(
        `tar entry ${show(p.paxPath)}: ambiguous name (GNU long name ${show(p.longName)} and pax path ${show(p.paxPath)})`,
      );
    }
    const raw = p?.paxPath ?? p?.longName ?? name;
    if (p?.paxSize !== undefined && p.paxSize !== size) {
      throw new TarError(
        `tar entry ${show(raw)}: pax size ${p.paxSize} differs from the header's size ${size}`,
      );
    }
    let kind: 'file' | 'directory';
    if (flag === '0' || flag === '7') kind = 'file';
    else if (flag === '5') kind = 'directory';
    else
      throw new TarError(
        `tar entry ${show(raw)}: ${typeName(flag)}; only regular files and folders are allowed`,
      );
    if (kind === 'file' && raw.endsWith('/')) {
      throw new TarError(`tar entry ${show(raw)}: a regular file whose name ends with "/"`);
    }
    if (kind === 'directory' && size !== 0) {
      throw new TarError(`tar entry ${show(raw)}: a folder that declares ${size} bytes of data`);
    }
    if (size > this.maxEntry) {
      throw new TarError(
        `tar entry ${show(raw)}: declares ${size} bytes, more than the limit of ${this.maxEntry}`,
      );
    }
    const path = safeTarPath(raw);
    if (++this.count > this.maxEntries) {
      throw new TarError(`tar entry ${show(raw)}: more than ${this.maxEntries} entries in the archive`);
    }
    this.claim(raw, path, kind);
    const entry: GuardedEntry = { raw, path, kind, size };
    this.expected.push(entry);
    if (size > 0) {
      this.current = entry;
      this.remaining = size;
      this.state = 'data';
    }
  }

  private claim(raw: string, path: string, kind: 'file' | 'directory'): void {
    const key = path.normalize('NFC').toLowerCase();
    if (this.names.has(key) || (kind === 'file' && this.parents.has(key))) {
      throw new TarError(`tar entry ${show(raw)}: duplicate name (names are compared ignoring case)`);
    }
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) {
      const up = parts.slice(0, i).join('/');
      if (this.names.get(up) === 'file') {
        throw new TarError(`tar entry ${show(raw)}: ${show(up)} is a file, not a folder`);
      }
      this.parents.add(up);
    }
    this.names.set(key, kind);
  }

  private size(h: Buffer, at: number, name: string): number {
    if (h[124] & 0x80) {
      if (h[124] !== 0x80) throw new TarError(`tar entry ${show(name)}: negative or malformed size`);
      let v = 0;
      for (let i = 125; i < 136; i++) v = v * 256 + h[i];
      if (!Number.isSafeInteger(v)) throw new TarError(`tar entry ${show(name)}: size out of range`);
      return v;
    }
    const v = numeric(h, 124, 12);
    if (v === null) throw new TarError(`tar: header at byte ${at} has a malformed size field`);
    return v;
  }

  private endMeta(): void {
    const p = this.pending!;
    const data = this.meta;
    this.meta = Buffer.alloc(0);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    this.state = pad > 0 ? 'pad' : 'header';
    this.remaining = pad;
    if (this.metaType === 'L') {
      if (p.longName !== undefined)
        throw new TarError(`tar: two GNU long names for one entry (at byte ${p.at})`);
      const z = data.indexOf(0);
      if (z !== -1 && data.subarray(z).some((b) => b !== 0)) {
        throw new TarError(`tar: GNU long name at byte ${p.at} holds bytes after its terminator`);
      }
      p.longName = data.toString('utf8', 0, z === -1 ? data.length : z);
      safeTarPath(p.longName);
      return;
    }
    const records = parsePax(data, p.at);
    if (this.metaType === 'g') {
      for (const k of ['path', 'linkpath', 'size']) {
        if (records.has(k)) throw new TarError(`tar: global pax header at byte ${p.at} sets "${k}"`);
      }
      for (const k of records.keys()) {
        if (k.startsWith('GNU.sparse'))
          throw new TarError(`tar: global pax header at byte ${p.at} sets "${k}"`);
      }
      return;
    }
    if (p.pax) throw new TarError(`tar: two pax headers for one entry (at byte ${p.at})`);
    p.pax = true;
    for (const [k, v] of records) {
      if (k === 'path') {
        safeTarPath(v);
        p.paxPath = v;
      } else if (k === 'size') {
        if (!/^\d{1,16}$/.test(v)) throw new TarError(`tar: pax header at byte ${p.at} has a malformed size`);
        p.paxSize = Number(v);
      } else if (k === 'linkpath' || k.startsWith('GNU.sparse')) {
        throw new TarError(
          `tar: pax header at byte ${p.at} sets "${k}" (links and sparse files are refused)`,
        );
      }
    }
  }
}

/** Strict pax records: `<len> <key>=<value>\n`, lengths exact, every key once, UTF-8 only. */
function parsePax(data: Buffer, at: number): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    const lenText = sp === -1 ? '' : data.toString('latin1', i, sp);
    const len = /^[1-9]\d{0,6}$/.test(lenText) ? Number(lenText) : 0;
    if (!len || i + len > data.length || data[i + len - 1] !== 0x0a) {
      throw new TarError(`tar: pax header at byte ${at} has a malformed record at offset ${i}`);
    }
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq <= 0 || rec.includes('\uFFFD')) {
      throw new TarError(`tar: pax header at byte ${at} has a malformed record at offset ${i}`);
    }
    const key = rec.slice(0, eq);
    if (out.has(key)) throw new TarError(`tar: pax header at byte ${at} has two "${key}" records`);
    out.set(key, rec.slice(eq + 1));
    i += len;
  }
  return out;
}

function typeName(flag: string): string {
  const names: Record<string, string> = {
    '1': 'hard link',
    '2': 'symbolic link',
    '3': 'character device',
    '4': 'block device',
    '6': 'FIFO',
    K: 'GNU long link name',
    S: 'sparse file',
  };
  return `${names[flag] ?? 'unsupported entry'} (type ${JSON.stringify(flag)})`;
}

function cstr(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end === -1 || end > start + len ? start + len : end);
}

/** An octal field: optional leading spaces, digits, then only spaces and NULs. Empty means 0. Null if malformed. */
function numeric(b: Buffer, start: number, len: number): number | null {
  const s = b.toString('latin1', start, start + len);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL terminates tar number fields
  const m = /^ *([0-7]*)[ \u0000]*$/.exec(s);
  if (!m) return null;
  return m[1] === '' ? 0 : Number.parseInt(m[1], 8);
}

/** One regular file of an archive as read: its safe path, size and sha256. */
export interface TarFile {
  path: string;
  size: number;
  sha256: string;
}

export interface TarContents {
  files: TarFile[];
  /** Folder entries (normalised paths). */
  dirs: string[];
  /** Bytes of a file kept in memory (see ReadTarOptions.keep), by normalised path. */
  content(path: string): Buffer | undefined;
}

export interface ReadTarOptions extends TarLimits {
  /** Which files (normalised paths) to keep in memory, up to maxKeptBytes each. */
  keep?: (path: string) => boolean;
  /** Default 1 MiB; a larger file asked for is not kept. */
  maxKeptBytes?: number;
  /** Where a regular file's bytes go (its path already checked); null to only hash it. */
  sink?: (path: string, size: number) => Writable | null | Promise<Writable | null>;
}

type Entry = { name: string; type: string; size: number };

/**
 * Incremental reader: `write` each chunk (awaiting it gives backpressure), then `end()` for the contents. After a
 * refusal, writes return at once (so a caller storing the same bytes elsewhere is never blocked) and `end()` throws.
 */
export class TarReader {
  private readonly guard: TarGuard;
  private readonly ex = extract();
  private failed: Error | null = null;
  private finishedOk = false;
  private work: Promise<void> = Promise.resolve();
  private readonly files: TarFile[] = [];
  private readonly dirs: string[] = [];
  private readonly kept = new Map<string, Buffer>();

  constructor(private readonly opts: ReadTarOptions = {}) {
    this.guard = new TarGuard(opts);
    this.ex.on('entry', (header, stream, next) => {
      this.work = this.entry(header, stream as AsyncIterable<Buffer>).then(
        () => next(),
        (e) => this.fail(e),
      );
    });
    this.ex.on('error', (e: Error) =>
      this.fail(e instanceof TarError ? e : new TarError(`tar: ${e.message}`)),
    );
    this.ex.on('finish', () => {
      this.finishedOk = true;
    });
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.failed) return;
    try {
      this.guard.push(chunk);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    if (!this.ex.write(chunk)) await this.settle('drain');
  }

  async end(): Promise<TarContents> {
    if (!this.failed) {
      try {
        this.guard.finish();
      } catch (e) {
        this.fail(e as Error);
      }
    }
    if (!this.failed) {
      (this.ex as unknown as { end(): void }).end();
      await this.settle('finish');
      await this.work;
      if (!this.failed && !this.finishedOk) this.fail(new TarError('tar: the reader stopped early'));
      if (!this.failed && this.guard.expected.length > 0) {
        this.fail(new TarError(`tar entry ${show(this.guard.expected[0].raw)}: not read by both readers`));
      }
    }
    if (this.failed) throw this.failed;
    const kept = this.kept;
    return { files: this.files, dirs: this.dirs, content: (p) => kept.get(p) };
  }

  /** True once the archive has been refused (later writes are ignored). */
  get refused(): boolean {
    return this.failed !== null;
  }

  /** Stops reading; the first error wins. */
  fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    this.ex.destroy(e);
  }

  private settle(event: 'drain' | 'finish'): Promise<void> {
    if (this.failed || this.ex.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.ex.off(event, done);
        this.ex.off('close', done);
        resolve();
      };
      this.ex.on(event, done);
      this.ex.on('close', done);
    });
  }

  private async entry(header: Entry, stream: AsyncIterable<Buffer>): Promise<void> {
    const want = this.guard.expected.shift();
    const kind = header.type === 'file' || header.type === 'contiguous-file' ? 'file' : header.type;
    if (!want || want.raw !== header.name || want.kind !== kind || want.size !== header.size) {
      throw new TarError(
        `tar entry ${show(want?.raw ?? header.name)}: the two tar readers disagree on this header`,
      );
    }
    if (want.kind === 'directory') {
      for await (const _ of stream) {
        // a folder has no data; drain whatever the stream yields
      }
      this.dirs.push(want.path);
      return;
    }
    const hash = createHash('sha256');
    const max = this.opts.maxKeptBytes ?? 1024 * 1024;
    const keep = this.opts.keep?.(want.path) && want.size <= max ? ([] as Buffer[]) : null;
    const sink = (await this.opts.sink?.(want.path, want.size)) ?? null;
    try {
      for await (const chunk of stream) {
        hash.update(chunk);
        keep?.push(Buffer.from(chunk));
        if (sink && !sink.write(chunk)) {
          await new Promise<void>((resolve, reject) => {
            const ok = () => {
              sink.off('error', bad);
              resolve();
            };
            const bad = (err: Error) => {
              sink.off('drain', ok);
              reject(err);
            };
            sink.once('drain', ok);
            sink.once('error', bad);
          });
        }
      }
      if (sink) {
        sink.end();
        await finished(sink);
      }
    } catch (e) {
      sink?.destroy();
      throw e;
    }
    this.files.push({ path: want.path, size: want.size, sha256: hash.digest('hex') });
    if (keep) this.kept.set(want.path, Buffer.concat(keep));
  }
}

/** Reads a whole archive from a stream of bytes. Throws TarError on any refusal. */
export async function readTar(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: ReadTarOptions = {},
): Promise<TarContents> {
  const reader = new TarReader(opts);
  for await (const chunk of source) {
    await reader.write(chunk);
    if (reader.refused) break;
  }
  return reader.end();
}

/** Reads an archive file (see readTar). */
export function readTarFile(archive: string, opts: ReadTarOptions = {}): Promise<TarContents> {
  return readTar(createReadStream(archive), opts);
}

/**
 * Extracts an archive (a stream of bytes) into `destDir` (which should be new or empty): folders and regular
 * files only, each file created exclusively, every name through the one safe-path policy. Throws TarError on any
 * refusal; what was written so far is left for the caller to remove.
 */
export function extractTar(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  destDir: string,
  opts: Omit<ReadTarOptions, 'sink'> = {},
): Promise<TarContents> {
  return readTar(source, {
    ...opts,
    sink: async (path) => {
      const target = join(destDir, path);
      await mkdir(dirname(target), { recursive: true });
      return createWriteStream(target, { flags: 'wx' });
    },
  });
}

/** Extracts an archive file (see extractTar). */
export function extractTarFile(
  archive: string,
  destDir: string,
  opts: Omit<ReadTarOptions, 'sink'> = {},
): Promise<TarContents> {
  return extractTar(createReadStream(archive), destDir, opts);
}

export interface TarInput {
  /** Relative path inside the archive (checked with the same policy as reading). */
  name: string;
  /** File contents; absent for a folder. */
  data?: Uint8Array | string;
  mode?: number;
}

/**
 * Packs files into an in-memory POSIX tar (long names go to pax headers). Names are checked with the reading
 * policy, so whatever this writes, readTar accepts.
 */
export async function packTar(inputs: TarInput[]): Promise<Buffer> {
  const p = pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of p as AsyncIterable<Buffer>) out.push(Buffer.from(chunk));
  })();
  const mtime = new Date(0);
  for (const e of inputs) {
    const name = safeTarPath(e.name);
    if (e.data === undefined) {
      p.entry({ name, type: 'directory', mode: e.mode ?? 0o755, mtime });
    } else {
      const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
      await new Promise<void>((resolve, reject) =>
        p.entry({ name, size: data.length, mode: e.mode ?? 0o644, mtime }, data, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    }
  }
  p.finalize();
  await done;
  return Buffer.concat(out);
}
