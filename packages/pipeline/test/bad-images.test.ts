import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiadPipeline, decodeToRgb, ImageDecodeError } from '../src/index.js';
import { writeTinyBundle } from './helpers/tiny-bundle.js';

const corpus = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/bad-images');
const opts = { width: 32, height: 32, resize: 'bilinear' as const };

// The card: green stripe on top, red left half, blue right half (see scripts/make-bad-images.ts).
const errors: Record<string, RegExp> = {
  'zero-bytes.png': /empty input \(0 bytes\)/,
  'truncated.jpg': /premature end of JPEG/,
  'broken-crc.png': /cannot decode image: .*(libpng|crc|CRC)/,
  'huge-header-20000x20000.png': /exceeds pixel limit/,
  'huge-header-20000x20000.bmp': /20000x20000 exceeds the pixel limit/,
  'text-named.png': /unsupported image format/,
};
const decoded = [
  'one-pixel.png',
  'cmyk.jpg',
  'rgb16.png',
  'grey.png',
  'rgba.png',
  'exif-orientation-6.jpg',
  'rgb.tiff',
  'rgb24.bmp',
  'grey8.bmp',
];

const px = (rgb: Uint8Array, x: number, y: number) => [
  ...rgb.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3),
];
const near = (a: number[], b: number[], tol = 12) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

let root: string;
let pipeline: DiadPipeline;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'diad-bad-'));
  await writeTinyBundle(root);
  pipeline = await DiadPipeline.create(root);
});
afterAll(async () => {
  await pipeline.close();
  await rm(root, { recursive: true, force: true });
});

describe('bad-image corpus: a correct result or a clear error, never a crash or a hang', () => {
  for (const [file, message] of Object.entries(errors)) {
    it(`${file}: ImageDecodeError naming the file`, async () => {
      const path = join(corpus, file);
      const e = await pipeline.inspect(path).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(ImageDecodeError);
      expect((e as Error).message).toContain(path);
      expect((e as Error).message).toMatch(message);
      // The same bytes from memory fail the same way.
      await expect(pipeline.inspect(await readFile(path))).rejects.toThrow(message);
    });
  }

  for (const file of decoded) {
    it(`${file}: inspected`, async () => {
      const out = await pipeline.inspect(join(corpus, file));
      expect(Number.isFinite(out.score)).toBe(true);
      expect(out.map.every(Number.isFinite)).toBe(true);
    });
  }

  it('decodes colours and layout correctly', async () => {
    const rgb = await decodeToRgb(join(corpus, 'rgb24.bmp'), opts);
    expect(near(px(rgb, 0, 0), [0, 200, 0])).toBe(true);
    expect(near(px(rgb, 2, 20), [220, 20, 20])).toBe(true);
    expect(near(px(rgb, 30, 20), [20, 20, 220])).toBe(true);
    for (const f of ['rgb.tiff', 'rgb16.png']) {
      const o = await decodeToRgb(join(corpus, f), opts);
      expect(near(px(o, 2, 20), px(rgb, 2, 20), 2), f).toBe(true);
      expect(near(px(o, 30, 20), px(rgb, 30, 20), 2), f).toBe(true);
    }
    const grey = await decodeToRgb(join(corpus, 'grey.png'), opts);
    const g = px(grey, 2, 20);
    expect(g[0]).toBe(g[1]);
    expect(g[1]).toBe(g[2]);
    const grey8 = await decodeToRgb(join(corpus, 'grey8.bmp'), opts);
    expect(px(grey8, 2, 20)).toEqual([87, 87, 87]); // round((220+20+20)/3)
    const rgba = await decodeToRgb(join(corpus, 'rgba.png'), opts);
    // alpha is dropped, the colour kept (Pillow's convert("RGB"), OpenCV's imread: what training saw)
    expect(near(px(rgba, 2, 20), px(rgb, 2, 20), 2)).toBe(true);
    expect(px(await decodeToRgb(join(corpus, 'one-pixel.png'), opts), 17, 5)).toEqual([10, 200, 30]);
    const cmyk = await decodeToRgb(join(corpus, 'cmyk.jpg'), opts);
    // A CMYK round trip through ICC profiles shifts saturated colours (gamut): check the dominant channel.
    const [r1, g1, b1] = px(cmyk, 2, 20);
    const [r2, g2, b2] = px(cmyk, 30, 20);
    expect(r1 > g1 + 100 && r1 > b1 + 100).toBe(true);
    expect(b2 > r2 + 50 && b2 > g2 + 50).toBe(true);
  });

  it('applies EXIF orientation: the stored left half (red) ends up on top', async () => {
    const rgb = await decodeToRgb(join(corpus, 'exif-orientation-6.jpg'), opts);
    expect(near(px(rgb, 10, 2), [220, 20, 20], 25)).toBe(true);
    expect(near(px(rgb, 10, 29), [20, 20, 220], 25)).toBe(true);
    expect(near(px(rgb, 31, 16), [0, 200, 0], 25)).toBe(true); // the stored top stripe is now on the right
  });

  it('raw frames at the model size (fast path) decode exactly like the same pixels as PNG', async () => {
    const sharp = (await import('sharp')).default;
    for (const channels of [1, 3, 4] as const) {
      const data = new Uint8Array(32 * 32 * channels).map((_, i) => (i * 31 + (i % 7) * 40) & 255);
      const png = await sharp(data, { raw: { width: 32, height: 32, channels } })
        .png()
        .toBuffer();
      const direct = await decodeToRgb({ data, width: 32, height: 32, channels }, opts);
      const viaPng = await decodeToRgb(png, opts);
      expect(Buffer.from(direct).equals(Buffer.from(viaPng)), `channels ${channels}`).toBe(true);
    }
  });

  it('raw frames: grey and RGBA are accepted, wrong sizes rejected with the argument named', async () => {
    const grey = await decodeToRgb(
      { data: new Uint8Array(16).fill(90), width: 4, height: 4, channels: 1 },
      opts,
    );
    expect(px(grey, 5, 5)).toEqual([90, 90, 90]);
    const rgba = new Uint8Array(4 * 4 * 4).map((_, i) => (i % 4 === 3 ? 0 : 200));
    // fully transparent pixels keep their colour: alpha is dropped, as in training
    expect(px(await decodeToRgb({ data: rgba, width: 4, height: 4, channels: 4 }, opts), 0, 0)).toEqual([
      200, 200, 200,
    ]);
    await expect(
      decodeToRgb({ data: new Uint8Array(10), width: 4, height: 4, channels: 1 }, opts),
    ).rejects.toThrow(/frame\.data: expected 16 bytes/);
    await expect(
      decodeToRgb({ data: new Uint8Array(4), width: 2, height: 2, channels: 2 as 1 }, opts),
    ).rejects.toThrow(/frame\.channels/);
    await expect(decodeToRgb(42 as never, opts)).rejects.toThrow(TypeError);
    await expect(decodeToRgb('/nonexistent/image.png', opts)).rejects.toThrow(
      /image\.png: cannot read \(ENOENT\)/,
    );
  });
});
