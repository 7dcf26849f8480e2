import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `diad-${prefix}-`));
}

/** Writes a small solid image; the format follows the extension (png or jpg). */
export async function writeImage(path: string, value = 128, channels: 1 | 3 = 3): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const img = sharp(Buffer.alloc(8 * 8 * channels, value), { raw: { width: 8, height: 8, channels } });
  const buf = /\.jpe?g$/i.test(path) ? await img.jpeg().toBuffer() : await img.png().toBuffer();
  await writeFile(path, buf);
}

export async function writeText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}
