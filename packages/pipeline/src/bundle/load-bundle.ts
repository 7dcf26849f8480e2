import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { type BundleManifest, parseManifest } from '@diad/protocol';
import { extractTarFile, readTarFile, safeTarPath, TarError } from '@diad/protocol/tar';
import { BundleError } from '../errors.js';

export interface LoadedBundle {
  /** Directory holding the bundle's files (the bundle itself, or its extraction cache for a .tar). */
  dir: string;
  manifest: BundleManifest;
  /** sha256 of manifest.json's bytes: the bundle's stable id. */
  sha256: string;
}

export interface LoadBundleOptions {
  /** Where .tar bundles are extracted, one folder per manifest sha. Default $DIAD_BUNDLE_CACHE or <tmp>/diad-bundles. */
  cacheDir?: string;
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function parseManifestBytes(bytes: Buffer): BundleManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new BundleError('manifest.json', `not valid JSON (${(e as Error).message})`, { cause: e });
  }
  try {
    return parseManifest(json);
  } catch (e) {
    throw new BundleError('manifest.json', (e as Error).message.replace(/^manifest\.json: /, ''), {
      cause: e,
    });
  }
}

/** Checks every file listed in the manifest: present, exact byte size, sha256. */
export async function verifyFiles(dir: string, manifest: BundleManifest): Promise<void> {
  for (const [name, want] of Object.entries(manifest.files)) {
    let rel: string;
    try {
      rel = safeTarPath(name);
    } catch (e) {
      throw new BundleError('manifest.json', `files: ${(e as Error).message}`, { cause: e });
    }
    const path = join(dir, rel);
    let size: number;
    try {
      const s = await stat(path);
      if (!s.isFile()) throw new BundleError(name, 'is not a regular file');
      size = s.size;
    } catch (e) {
      if (e instanceof BundleError) throw e;
      throw new BundleError(name, 'missing (listed in manifest.json files, not found in the bundle)', {
        cause: e,
      });
    }
    if (size !== want.bytes) {
      const what = size < want.bytes ? 'truncated' : 'wrong size';
      throw new BundleError(name, `${what}: expected ${want.bytes} bytes, found ${size}`);
    }
    const got = await hashFile(path);
    if (got !== want.sha256)
      throw new BundleError(name, `sha256 mismatch: expected ${want.sha256}, got ${got}`);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** manifest.json is small; refuse absurd sizes before allocating. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** Reads an archive through the repo's one tar reader; a refusal becomes a BundleError naming the archive. */
async function viaTar<T>(label: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof TarError) throw new BundleError(label, e.message, { cause: e });
    throw e;
  }
}

async function materialiseTar(
  archive: string,
  cacheRoot: string,
): Promise<{ dir: string; manifestBytes: Buffer; cached: boolean }> {
  const label = basename(archive);
  const isManifest = (p: string) => p === 'manifest.json' || /^[^/]+\/manifest\.json$/.test(p);
  const scan = await viaTar(label, () =>
    readTarFile(archive, { keep: isManifest, maxKeptBytes: MAX_MANIFEST_BYTES }),
  );
  const seen = new Set(scan.files.map((e) => e.path));
  // manifest.json at the top level, or inside exactly one top-level folder.
  let only = '';
  if (!seen.has('manifest.json')) {
    const tops = new Set([...scan.files.map((e) => e.path), ...scan.dirs].map((p) => p.split('/')[0]));
    only = [...tops][0];
    if (tops.size !== 1 || !seen.has(`${only}/manifest.json`)) {
      throw new BundleError('manifest.json', `missing from archive ${label}`);
    }
  }
  const manifestPath = only ? `${only}/manifest.json` : 'manifest.json';
  const m = scan.files.find((e) => e.path === manifestPath)!;
  if (m.size > MAX_MANIFEST_BYTES)
    throw new BundleError('manifest.json', `${m.size} bytes is too large for a manifest`);
  const manifestBytes = scan.content(manifestPath)!;
  const sha = sha256Hex(manifestBytes);
  const dir = join(cacheRoot, sha);
  if (await exists(join(dir, '.complete'))) return { dir, manifestBytes, cached: true };
  await mkdir(cacheRoot, { recursive: true });
  const tmp = join(cacheRoot, `.${sha}.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    const out = await viaTar(label, () => extractTarFile(archive, tmp));
    if (out.files.find((e) => e.path === manifestPath)?.sha256 !== sha) {
      throw new BundleError(label, 'changed while it was being read');
    }
    const root = only ? join(tmp, only) : tmp;
    await writeFile(join(root, '.complete'), '');
    if (await exists(join(dir, '.complete'))) {
      await rm(tmp, { recursive: true, force: true }); // another process finished first: use its copy
    } else {
      await rm(dir, { recursive: true, force: true }); // an interrupted extraction's leftovers
      await rename(root, dir);
      if (only) await rm(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (await exists(join(dir, '.complete'))) return { dir, manifestBytes, cached: false };
    throw e instanceof BundleError
      ? e
      : new BundleError(label, `cannot extract: ${(e as Error).message}`, { cause: e });
  }
  return { dir, manifestBytes, cached: false };
}

/**
 * Loads a bundle from a directory or a .tar and verifies it before any session exists: manifest schema,
 * every listed file's size and sha256. Throws BundleError naming the file and the problem.
 */
export async function loadBundle(path: string, opts: LoadBundleOptions = {}): Promise<LoadedBundle> {
  if (typeof path !== 'string' || path === '')
    throw new TypeError('bundle: expected a directory or .tar path');
  let s: Awaited<ReturnType<typeof stat>>;
  try {
    s = await stat(path);
  } catch (e) {
    throw new BundleError(path, 'not found', { cause: e });
  }
  if (s.isDirectory()) {
    const dir = resolve(path);
    let manifestBytes: Buffer;
    try {
      manifestBytes = await readFile(join(dir, 'manifest.json'));
    } catch (e) {
      throw new BundleError('manifest.json', `missing from ${dir}`, { cause: e });
    }
    const manifest = parseManifestBytes(manifestBytes);
    await verifyFiles(dir, manifest);
    return { dir, manifest, sha256: sha256Hex(manifestBytes) };
  }
  const cacheRoot = opts.cacheDir ?? process.env.DIAD_BUNDLE_CACHE ?? join(tmpdir(), 'diad-bundles');
  const t = await materialiseTar(path, cacheRoot);
  const manifest = parseManifestBytes(t.manifestBytes);
  try {
    await verifyFiles(t.dir, manifest);
  } catch (e) {
    if (!t.cached || !(e instanceof BundleError)) throw e;
    // A damaged cache (not the archive): extract afresh once, so what gets verified is the archive itself.
    await rm(t.dir, { recursive: true, force: true });
    const again = await materialiseTar(path, cacheRoot);
    await verifyFiles(again.dir, manifest);
  }
  return { dir: t.dir, manifest, sha256: sha256Hex(t.manifestBytes) };
}
