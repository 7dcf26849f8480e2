/**
 * Writes the bad/odd image corpus to <repo>/test/fixtures/bad-images/ (committed; rerun to regenerate):
 *   npx tsx packages/pipeline/scripts/make-bad-images.ts
 * Each file is made with sharp plus byte surgery; see README.md there for what each one is.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

const out = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/bad-images');

/** 48×32 RGB test card: red left half, blue right half, a green stripe along the top. */
function card(w = 48, h = 32): Buffer {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      if (y < 4) b.set([0, 200, 0], o);
      else if (x < w / 2) b.set([220, 20, 20], o);
      else b.set([20, 20, 220], o);
    }
  }
  return b;
}

const raw = (w = 48, h = 32) => sharp(card(w, h), { raw: { width: w, height: h, channels: 3 } });

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A PNG whose IHDR claims width×height but whose IDAT holds a single row: the header alone is "huge". */
function hugeHeaderPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const idat = deflateSync(Buffer.alloc(1 + width * 3));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Uncompressed BMP (24-bit, or 8-bit with a grey palette), bottom-up, from RGB pixels. */
function bmp(rgb: Buffer, w: number, h: number, bpp: 8 | 24, claimW = w, claimH = h): Buffer {
  const palette = bpp === 8 ? 256 * 4 : 0;
  const rowBytes = Math.ceil((w * bpp) / 32) * 4;
  const dataOffset = 14 + 40 + palette;
  const b = Buffer.alloc(dataOffset + rowBytes * h);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(dataOffset, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(claimW, 18);
  b.writeInt32LE(claimH, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(bpp, 28);
  b.writeUInt32LE(rowBytes * h, 34);
  if (bpp === 8) for (let i = 0; i < 256; i++) b.set([i, i, i, 0], 54 + i * 4);
  for (let y = 0; y < h; y++) {
    const row = dataOffset + (h - 1 - y) * rowBytes;
    for (let x = 0; x < w; x++) {
      const [r, g, bl] = rgb.subarray((y * w + x) * 3, (y * w + x) * 3 + 3);
      if (bpp === 24) b.set([bl, g, r], row + x * 3);
      else b[row + x] = Math.round((r + g + bl) / 3);
    }
  }
  return b;
}

async function main() {
  await mkdir(out, { recursive: true });
  const files: Record<string, Buffer> = {};
  files['zero-bytes.png'] = Buffer.alloc(0);
  const jpeg = await raw().jpeg({ quality: 90 }).toBuffer();
  files['truncated.jpg'] = jpeg.subarray(0, Math.floor(jpeg.length / 2));
  const png = await raw().png().toBuffer();
  const badCrc = Buffer.from(png);
  // The IDAT chunk's CRC is the 4 bytes before the IEND chunk (last 12 bytes of the file).
  badCrc[badCrc.length - 13] ^= 0xff;
  files['broken-crc.png'] = badCrc;
  files['one-pixel.png'] = await sharp(Buffer.from([10, 200, 30]), {
    raw: { width: 1, height: 1, channels: 3 },
  })
    .png()
    .toBuffer();
  files['huge-header-20000x20000.png'] = hugeHeaderPng(20000, 20000);
  files['huge-header-20000x20000.bmp'] = bmp(card(1, 1), 1, 1, 24, 20000, 20000);
  files['text-named.png'] = Buffer.from('This is a text file, not an image.\n');
  files['cmyk.jpg'] = await raw().toColourspace('cmyk').jpeg().toBuffer();
  files['rgb16.png'] = await raw().toColourspace('rgb16').png().toBuffer();
  files['grey.png'] = await raw().toColourspace('b-w').png().toBuffer();
  files['rgba.png'] = await raw().ensureAlpha(0.5).png().toBuffer();
  files['exif-orientation-6.jpg'] = await raw().jpeg().withMetadata({ orientation: 6 }).toBuffer();
  files['rgb.tiff'] = await raw().tiff({ compression: 'lzw' }).toBuffer();
  files['rgb24.bmp'] = bmp(card(), 48, 32, 24);
  files['grey8.bmp'] = bmp(card(), 48, 32, 8);
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(out, name), bytes);
  console.log(`wrote ${Object.keys(files).length} files to ${out}`);
}

await main();
