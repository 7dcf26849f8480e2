import { createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import { type BundleManifest, parseManifest } from '@diad/protocol';
import type { TarFile } from '@diad/protocol/tar';
import type { OnnxVerdict } from './onnx-check.js';

/** True for the archive paths that may hold the manifest (top level or inside one top-level folder). */
export function isManifestPath(path: string): boolean {
  return path === 'manifest.json' || /^[^/]+\/manifest\.json$/.test(path);
}

/**
 * Checks a scanned bundle against its own manifest: the manifest parses, and every file it lists is present with
 * the same size and sha256. Extra files (golden/, README.md) are allowed. With `onnx` (each file's verdict by
 * archive path), every graph the manifest names (plain and variant) must read as an ONNX model whose inputs and
 * outputs include the names the manifest gives. Throws TypeError naming what is wrong.
 */
export function verifyBundle(
  entries: TarFile[],
  content: (path: string) => Buffer | undefined,
  onnx?: ReadonlyMap<string, OnnxVerdict>,
): BundleManifest {
  let prefix = '';
  if (!entries.some((e) => e.path === 'manifest.json')) {
    const m = entries.find((e) => isManifestPath(e.path));
    if (!m)
      throw new TypeError('bundle: manifest.json not found at the top level or in one top-level folder');
    prefix = m.path.slice(0, -'manifest.json'.length);
  }
  const raw = content(`${prefix}manifest.json`);
  if (!raw) throw new TypeError('bundle: manifest.json is larger than 1 MiB');
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new TypeError(`bundle: manifest.json is not valid JSON (${(e as Error).message})`);
  }
  // A deeply nested manifest (free-form fields such as `source`) would overflow the stack of whatever walks it
  // recursively later (schema check, JSON columns): refused here, by an iterative walk.
  if (depthOf(json) > MAX_MANIFEST_DEPTH) {
    throw new TypeError(`manifest.json: nested deeper than ${MAX_MANIFEST_DEPTH} levels`);
  }
  const manifest = parseManifest(json);
  const byPath = new Map(
    entries.filter((e) => e.path.startsWith(prefix)).map((e) => [e.path.slice(prefix.length), e]),
  );
  for (const [path, want] of Object.entries(manifest.files)) {
    const got = byPath.get(path);
    if (!got) throw new TypeError(`bundle: ${path}: listed in manifest.files but missing from the archive`);
    if (got.size !== want.bytes) {
      throw new TypeError(`bundle: ${path}: manifest says ${want.bytes} bytes, archive has ${got.size}`);
    }
    if (got.sha256 !== want.sha256) {
      throw new TypeError(
        `bundle: ${path}: sha256 mismatch (manifest ${want.sha256}, archive ${got.sha256})`,
      );
    }
  }
  if (onnx) checkGraphs(manifest, (file) => onnx.get(prefix + file));
  return manifest;
}

type GraphSpec = BundleManifest['graphs']['encoder'];

function checkGraphs(manifest: BundleManifest, verdict: (file: string) => OnnxVerdict | undefined): void {
  const specs: Array<[string, GraphSpec]> = Object.entries(manifest.graphs);
  for (const [i, v] of (manifest.variants ?? []).entries()) {
    for (const [g, spec] of Object.entries(v.graphs)) if (spec) specs.push([`variants.${i}.${g}`, spec]);
  }
  for (const [role, spec] of specs) {
    const v = verdict(spec.file);
    if (!v) throw new TypeError(`bundle: ${spec.file}: graph ${role} was not read`);
    if (!v.ok) throw new TypeError(`bundle: ${spec.file}: graph ${role} is not an ONNX model (${v.reason})`);
    for (const [kind, want, got] of [
      ['input', spec.inputs, v.summary.inputs],
      ['output', spec.outputs, v.summary.outputs],
    ] as const) {
      const missing = want.map((t) => t.name).filter((n) => !got.includes(n));
      if (missing.length > 0) {
        throw new TypeError(
          `bundle: ${spec.file}: graph ${role} has no ${kind} ${missing.map((n) => JSON.stringify(n)).join(', ')} (the ONNX graph's ${kind}s: ${got.map((n) => JSON.stringify(n)).join(', ') || 'none'})`,
        );
      }
    }
  }
}

const MAX_MANIFEST_DEPTH = 32;

/** Nesting depth of parsed JSON, without recursion. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > MAX_MANIFEST_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** Reads an ed25519 public key given as PEM or as base64 of the raw 32 bytes. */
export function ed25519PublicKey(text: string): KeyObject {
  const t = text.trim();
  if (t.startsWith('-----BEGIN')) {
    const k = createPublicKey(t);
    if (k.asymmetricKeyType !== 'ed25519') throw new TypeError('publicKey: expected an ed25519 key');
    return k;
  }
  const raw = Buffer.from(t, 'base64');
  if (raw.length !== 32) throw new TypeError('publicKey: expected PEM or base64 of 32 raw ed25519 bytes');
  // SubjectPublicKeyInfo prefix for ed25519 (RFC 8410).
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** The signature covers the tar's sha256 as lowercase hex text (the same rule agents check). */
export function checkSignature(sha256Hex: string, signatureB64: string, key: KeyObject): boolean {
  const sig = Buffer.from(signatureB64, 'base64');
  if (sig.length !== 64) return false;
  return verifySignature(null, Buffer.from(sha256Hex, 'utf8'), key, sig);
}
