import { createHash, type Hash } from 'node:crypto';

export interface TarEntry {
  path: string;
  bytes: number;
  sha256: string;
}

const BLOCK = 512;

/**
 * Reads a POSIX tar (ustar, with pax and GNU long names) as it streams past: hashes every regular file and keeps
 * the contents of the few files asked for (e.g. manifest.json), without holding the archive in memory.
 */
export class TarScanner {
  readonly entries: TarEntry[] = [];
  private readonly kept = new Map<string, Buffer>();
  private buf: Buffer = Buffer.alloc(0);
  private state: 'header' | 'data' | 'pad' | 'end' = 'header';
  private remaining = 0;
  private pad = 0;
  private current: {
    path: string;
    bytes: number;
    hash: Hash;
    keep: Buffer[] | null;
    meta: 'x' | 'L' | null;
    /** Directories and global pax headers: read past, not listed. */
    skip: boolean;
  } | null = null;
  private nextPath: string | null = null;
  private offset = 0;

  /** `keep` says which paths (as written in the archive) to retain in memory, up to `maxKeptBytes` each. */
  constructor(
    private readonly keep: (path: string) => boolean,
    private readonly maxKeptBytes = 1024 * 1024,
  ) {}

  write(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let pos = 0;
    while (pos < this.buf.length && this.state !== 'end') {
      if (this.state === 'header') {
        if (this.buf.length - pos < BLOCK) break;
        this.header(this.buf.subarray(pos, pos + BLOCK));
        pos += BLOCK;
        this.offset += BLOCK;
      } else if (this.state === 'data') {
        const n = Math.min(this.remaining, this.buf.length - pos);
        this.data(this.buf.subarray(pos, pos + n));
        pos += n;
        this.offset += n;
        this.remaining -= n;
        if (this.remaining === 0) this.finishEntry();
      } else if (this.state === 'pad') {
        const n = Math.min(this.pad, this.buf.length - pos);
        pos += n;
        this.offset += n;
        this.pad -= n;
        if (this.pad === 0) this.state = 'header';
      }
    }
    this.buf = this.buf.subarray(pos);
    if (this.buf.length === 0) this.buf = Buffer.alloc(0);
  }

  /** Call after the last chunk; throws when the archive ended early. */
  end(): void {
    const partialHeader = this.state === 'header' && this.buf.length > 0;
    if (this.state === 'data' || this.state === 'pad' || this.current || partialHeader) {
      throw new TypeError(
        `bundle tar: truncated inside ${this.current?.path ?? 'an entry'} at byte ${this.offset}`,
      );
    }
    if (this.entries.length === 0) throw new TypeError('bundle tar: no files in the archive');
  }

  content(path: string): Buffer | undefined {
    return this.kept.get(path);
  }

  private header(h: Buffer): void {
    if (h.every((b) => b === 0)) {
      this.state = 'end';
      return;
    }
    const stored = parseOctal(h.subarray(148, 156));
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (stored !== sum) {
      throw new TypeError(`bundle tar: header checksum mismatch at byte ${this.offset} (not a tar file?)`);
    }
    const type = String.fromCharCode(h[156] || 48);
    const size = parseSize(h.subarray(124, 136));
    let name = cstr(h.subarray(0, 100));
    if (h.subarray(257, 262).toString('latin1') === 'ustar') {
      const prefix = cstr(h.subarray(345, 500));
      if (prefix) name = `${prefix}/${name}`;
    }
    if (this.nextPath) {
      name = this.nextPath;
      this.nextPath = null;
    }
    const meta = type === 'x' || type === 'L' ? type : null;
    if (type === '1' || type === '2')
      throw new TypeError(`bundle tar: ${name}: links are not allowed in a bundle`);
    if (type === 'g' || type === '5' || meta || type === '0' || type === '7') {
      const regular = type === '0' || type === '7';
      const path = normalise(name);
      if (regular && (path.startsWith('/') || path.split('/').includes('..'))) {
        throw new TypeError(`bundle tar: ${name}: absolute or parent paths are not allowed`);
      }
      this.current = {
        path,
        bytes: size,
        hash: createHash('sha256'),
        keep: meta || (regular && this.keep(path) && size <= this.maxKeptBytes) ? [] : null,
        meta,
        skip: !regular && !meta,
      };
    } else {
      throw new TypeError(`bundle tar: ${name}: unsupported entry type "${type}"`);
    }
    this.remaining = size;
    this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.finishEntry();
    else this.state = 'data';
  }

  private data(chunk: Buffer): void {
    const c = this.current!;
    c.hash.update(chunk);
    c.keep?.push(Buffer.from(chunk));
  }

  private finishEntry(): void {
    const c = this.current!;
    this.current = null;
    this.state = this.pad > 0 ? 'pad' : 'header';
    if (c.meta === 'L') {
      this.nextPath = cstr(Buffer.concat(c.keep!));
      return;
    }
    if (c.meta === 'x') {
      const path = paxPath(Buffer.concat(c.keep!).toString('utf8'));
      if (path) this.nextPath = path;
      return;
    }
    if (c.skip) return;
    this.entries.push({ path: c.path, bytes: c.bytes, sha256: c.hash.digest('hex') });
    if (c.keep) this.kept.set(c.path, Buffer.concat(c.keep));
  }
}

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z === -1 ? b.length : z).toString('utf8');
}

function parseOctal(b: Buffer): number {
  const s = cstr(b).trim();
  return s ? Number.parseInt(s, 8) : 0;
}

function parseSize(b: Buffer): number {
  if (b[0] & 0x80) {
    // GNU base-256 for files of 8 GiB and more.
    let v = 0;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i];
    return v;
  }
  const v = parseOctal(b);
  if (!Number.isSafeInteger(v) || v < 0) throw new TypeError('bundle tar: invalid entry size');
  return v;
}

function normalise(p: string): string {
  return p.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

function paxPath(text: string): string | null {
  for (const rec of text.split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(rec);
    if (m) return m[1];
  }
  return null;
}
