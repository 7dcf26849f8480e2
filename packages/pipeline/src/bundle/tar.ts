import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BundleError } from '../errors.js';

/** One regular file of a tar archive: its normalised relative path, size and where its data starts. */
export interface TarEntry {
  path: string;
  size: number;
  offset: number;
}

function cstr(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end === -1 || end > start + len ? start + len : end);
}

function octal(b: Buffer, start: number, len: number, what: string, archive: string): number {
  // GNU base-256 for sizes beyond 8 GiB: high bit of the first byte set.
  if (b[start] & 0x80) {
    let v = 0;
    for (let i = 1; i < len; i++) v = v * 256 + b[start + i];
    return v;
  }
  const s = cstr(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new BundleError(archive, `corrupt tar header: ${what} "${s}" is not octal`);
  return Number.parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = Number.parseInt(cstr(h, 148, 8).trim() || '0', 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === stored;
}

/** Normalises an archive path, rejecting absolute paths, `..` and other escapes. */
export function safeRelativePath(name: string, archive: string): string {
  const parts = name
    .replace(/\\/g, '/')
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || parts.some((p) => p === '..')) {
    throw new BundleError(archive, `unsafe path in archive: "${name}" (absolute paths and ".." are refused)`);
  }
  if (parts.length === 0) throw new BundleError(archive, `empty path in archive`);
  return parts.join('/');
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp === -1) break;
    const len = Number.parseInt(data.toString('utf8', i, sp), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

async function readExactly(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const b = Buffer.alloc(length);
  const { bytesRead } = await fh.read(b, 0, length, position);
  return bytesRead === length ? b : b.subarray(0, bytesRead);
}

/**
 * Lists the regular files of a POSIX (ustar/pax/GNU) tar. Directories are skipped; links, devices and other
 * special entries are refused, as are unsafe paths and corrupt headers.
 */
export async function listTar(archive: string, label = archive): Promise<TarEntry[]> {
  const fh = await open(archive, 'r');
  try {
    const { size: total } = await fh.stat();
    const entries: TarEntry[] = [];
    let pos = 0;
    let longName: string | undefined;
    let paxPath: string | undefined;
    while (pos + 512 <= total) {
      const h = await readExactly(fh, 512, pos);
      if (h.every((v) => v === 0)) break;
      if (!checksumOk(h))
        throw new BundleError(label, `corrupt tar header at byte ${pos} (checksum mismatch)`);
      const size = octal(h, 124, 12, 'size', label);
      const type = String.fromCharCode(h[156] || 0x30);
      const dataStart = pos + 512;
      if (dataStart + size > total) {
        throw new BundleError(
          label,
          `tar truncated: entry at byte ${pos} needs ${size} bytes, archive ends first`,
        );
      }
      const magic = h.toString('latin1', 257, 262);
      const prefix = magic === 'ustar' ? cstr(h, 345, 155) : '';
      const rawName = longName ?? paxPath ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
      if (type === 'L') {
        longName = (await readExactly(fh, size, dataStart)).toString('utf8').replace(/\0+$/, '');
      } else if (type === 'x') {
        paxPath = parsePax(await readExactly(fh, size, dataStart)).path;
      } else if (type === 'g') {
        // Global pax header: nothing the bundle needs.
      } else {
        longName = undefined;
        paxPath = undefined;
        if (type === '0' || type === '7') {
          entries.push({ path: safeRelativePath(rawName, label), size, offset: dataStart });
        } else if (type !== '5') {
          throw new BundleError(
            label,
            `tar entry "${rawName}" has type "${type}" (only regular files are allowed)`,
          );
        } else {
          safeRelativePath(rawName, label);
        }
      }
      pos = dataStart + Math.ceil(size / 512) * 512;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/** Copies the listed entries under `destDir` (already validated paths), streaming each file. */
export async function extractTar(archive: string, entries: TarEntry[], destDir: string): Promise<void> {
  for (const e of entries) {
    const target = join(destDir, e.path);
    await mkdir(dirname(target), { recursive: true });
    if (e.size === 0) {
      await writeFile(target, new Uint8Array(0), { flag: 'wx' });
      continue;
    }
    await pipeline(
      createReadStream(archive, { start: e.offset, end: e.offset + e.size - 1 }),
      createWriteStream(target, { flags: 'wx' }),
    );
  }
}
