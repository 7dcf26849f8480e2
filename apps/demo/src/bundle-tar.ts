import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type BundleManifest, parseManifest } from '@diad/protocol';
import { packTar } from '@diad/protocol/tar';

export interface PackedBundle {
  manifest: BundleManifest;
  tar: Buffer;
}

/** Reads a bundle folder's manifest (checked against the bundle contract). */
export function readBundleManifest(dir: string): BundleManifest {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('bundle: expected a folder path');
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch {
    throw new RangeError(`bundle: ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new RangeError(`bundle: ${dir} is not a bundle folder`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch (e) {
    throw new RangeError(`bundle: ${join(dir, 'manifest.json')} is unreadable: ${(e as Error).message}`);
  }
  return parseManifest(json);
}

/**
 * Packs a bundle folder into the .tar the registry takes: manifest.json and the files it lists, nothing else
 * (bundle folders may hold golden test data or an archive copy beside the model).
 */
export async function packBundle(dir: string): Promise<PackedBundle> {
  const manifest = readBundleManifest(dir);
  const entries = [
    { name: 'manifest.json', data: readFileSync(join(dir, 'manifest.json')) },
    ...Object.keys(manifest.files).map((name) => ({ name, data: readFileSync(join(dir, name)) })),
  ];
  return { manifest, tar: await packTar(entries) };
}
