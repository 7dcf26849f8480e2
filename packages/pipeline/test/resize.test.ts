/**
 * One resampling definition: resizeLikePil and the decoder reproduce the Python tools' resize (Pillow's bilinear,
 * antialiased when shrinking) byte for byte, on the fixtures scripts/make-resize-fixtures.py made with
 * tools.diad.data.load_rgb: odd sizes, shrinking, enlarging, both at once, grey, 16-bit grey, RGBA and JPEG input;
 * float planes against Pillow's mode "F".
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeFullRgb, decodeToRgb, resizeLikePil } from '../src/index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/resize');
const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
  cases: {
    input: string;
    inputWidth: number;
    inputHeight: number;
    width: number;
    height: number;
    rgb: string;
  }[];
  float: {
    inputWidth: number;
    inputHeight: number;
    width: number;
    height: number;
    input: string;
    output: string;
  }[];
};

function f32(name: string): Float32Array {
  const b = readFileSync(join(dir, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function diffCount(a: Uint8Array, b: Uint8Array): { count: number; max: number } {
  let count = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d) count++;
    max = Math.max(max, d);
  }
  return { count, max };
}

describe('resizeLikePil reproduces the Python tools (Pillow bilinear)', () => {
  for (const c of index.cases) {
    it(`${c.input} (${c.inputWidth}x${c.inputHeight}) to ${c.width}x${c.height}: every byte`, async () => {
      const want = new Uint8Array(readFileSync(join(dir, c.rgb)));
      const full = await decodeFullRgb(join(dir, c.input));
      expect([full.width, full.height]).toEqual([c.inputWidth, c.inputHeight]);
      const mine = resizeLikePil(full.data, full.width, full.height, 3, c.width, c.height);
      expect(diffCount(mine, want)).toEqual({ count: 0, max: 0 });
      // the pipeline's decoder takes the same path for the manifest's "bilinear"
      const decoded = await decodeToRgb(readFileSync(join(dir, c.input)), {
        width: c.width,
        height: c.height,
        resize: 'bilinear',
      });
      expect(diffCount(decoded, want)).toEqual({ count: 0, max: 0 });
    });
  }

  for (const c of index.float) {
    it(`float plane ${c.inputWidth}x${c.inputHeight} to ${c.width}x${c.height} matches Pillow mode F`, () => {
      const mine = resizeLikePil(f32(c.input), c.inputWidth, c.inputHeight, 1, c.width, c.height);
      const want = f32(c.output);
      let max = 0;
      for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(mine[i] - want[i]));
      expect(max).toBeLessThanOrEqual(1e-6);
    });
  }

  it('a single-channel plane and the same plane replicated to RGB resize alike', () => {
    const w = 37;
    const h = 21;
    const grey = new Uint8Array(w * h).map((_, i) => (i * 97) % 256);
    const rgb = new Uint8Array(w * h * 3).map((_, i) => grey[Math.floor(i / 3)]);
    const a = resizeLikePil(grey, w, h, 1, 10, 30);
    const b = resizeLikePil(rgb, w, h, 3, 10, 30);
    expect(Array.from(b.filter((_, i) => i % 3 === 0))).toEqual(Array.from(a));
  });

  it('differs from libvips bilinear on a shrink (why serving no longer lets sharp resize)', async () => {
    const c = index.cases.find((k) => k.input === 'rgb-45x31.png' && k.width === 16)!;
    const want = new Uint8Array(readFileSync(join(dir, c.rgb)));
    const vips = await sharp(join(dir, c.input))
      .resize(16, 16, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    expect(diffCount(new Uint8Array(vips), want).count).toBeGreaterThan(0);
  });

  it('rejects sizes and buffers that do not fit', () => {
    expect(() => resizeLikePil(new Uint8Array(5), 2, 2, 1, 1, 1)).toThrow(/expected 4 values/);
    expect(() => resizeLikePil(new Uint8Array(4), 2, 2, 1, 0, 1)).toThrow(/outWidth/);
    expect(() => resizeLikePil(new Uint8Array(4), 2, 2, 1, 1, 1, new Uint8Array(2))).toThrow(/out:/);
  });
});
