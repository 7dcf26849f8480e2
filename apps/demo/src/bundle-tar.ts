import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type BundleManifest, parseManifest } from '@diad/protocol';

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
export function packBundle(dir: string): PackedBundle {
  const manifest = readBundleManifest(dir);
  const entries = [
    { name: 'manifest.json', data: readFileSync(join(dir, 'manifest.json')) },
    ...Object.keys(manifest.files).map((name) => ({ name, data: readFileSync(join(dir, name)) })),
  ];
  return { manifest, tar: ustar(entries) };
}

function ustar(entries: Array<{ name: string; data: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const { name, data } of entries) {
    if (Buffer.byteLength(name) > 100)
      throw new RangeError(`bundle: file name longer than 100 bytes: ${name}`);
    const h = Buffer.alloc(512);
    h.write(name, 0, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.fill(0x20, 148, 156);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
