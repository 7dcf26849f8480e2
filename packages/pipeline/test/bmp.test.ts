import { describe, expect, it } from 'vitest';
import { decodeBmp } from '../src/image/bmp.js';
import { ImageDecodeError } from '../src/index.js';

/** Builds a BMP with a BITMAPINFOHEADER (or V4 header for bitfields with alpha) around raw rows. */
function bmp(opts: {
  width: number;
  height: number;
  bpp: number;
  rows: number[][]; // stored order (bottom-up unless height < 0), bytes per row before padding
  palette?: number[][]; // [b, g, r]
  compression?: number;
  masks?: number[]; // r, g, b, a
}): Uint8Array {
  const headerSize = opts.masks && opts.masks.length === 4 ? 108 : 40;
  const masksBytes = opts.masks && headerSize === 40 ? 12 : 0;
  const pal = (opts.palette ?? []).length * 4;
  const rowBytes = Math.ceil((Math.abs(opts.width) * opts.bpp) / 32) * 4;
  const dataOffset = 14 + headerSize + masksBytes + pal;
  const b = new Uint8Array(dataOffset + rowBytes * opts.rows.length);
  const dv = new DataView(b.buffer);
  b[0] = 0x42;
  b[1] = 0x4d;
  dv.setUint32(2, b.length, true);
  dv.setUint32(10, dataOffset, true);
  dv.setUint32(14, headerSize, true);
  dv.setInt32(18, opts.width, true);
  dv.setInt32(22, opts.height, true);
  dv.setUint16(26, 1, true);
  dv.setUint16(28, opts.bpp, true);
  dv.setUint32(30, opts.compression ?? (opts.masks ? 3 : 0), true);
  dv.setUint32(46, (opts.palette ?? []).length, true);
  for (const [i, m] of (opts.masks ?? []).entries()) dv.setUint32(54 + i * 4, m, true);
  for (const [i, c] of (opts.palette ?? []).entries()) b.set([...c, 0], 14 + headerSize + masksBytes + i * 4);
  for (const [i, r] of opts.rows.entries()) b.set(r, dataOffset + i * rowBytes);
  return b;
}

describe('BMP decoder', () => {
  it('24-bit bottom-up: BGR to RGB, last stored row is the top', () => {
    const img = decodeBmp(
      bmp({
        width: 2,
        height: 2,
        bpp: 24,
        rows: [
          [1, 2, 3, 4, 5, 6],
          [7, 8, 9, 10, 11, 12],
        ],
      }),
      100,
    );
    expect(img.channels).toBe(3);
    expect([...img.data]).toEqual([9, 8, 7, 12, 11, 10, 3, 2, 1, 6, 5, 4]);
  });

  it('8/4/1-bit palettes', () => {
    const palette = [
      [0, 0, 255],
      [0, 255, 0],
      [255, 0, 0],
    ];
    const p8 = decodeBmp(bmp({ width: 3, height: -1, bpp: 8, rows: [[2, 1, 0]], palette }), 100);
    expect([...p8.data]).toEqual([0, 0, 255, 0, 255, 0, 255, 0, 0]);
    const p4 = decodeBmp(bmp({ width: 3, height: -1, bpp: 4, rows: [[0x21, 0x00]], palette }), 100);
    expect([...p4.data]).toEqual([0, 0, 255, 0, 255, 0, 255, 0, 0]);
    const p1 = decodeBmp(bmp({ width: 3, height: -1, bpp: 1, rows: [[0b10100000]], palette }), 100);
    expect([...p1.data]).toEqual([0, 255, 0, 255, 0, 0, 0, 255, 0]);
  });

  it('32-bit bitfields with alpha (V4 header), top-down; 16-bit 5-5-5 default masks', () => {
    const masks = [0x0000ff00, 0x00ff0000, 0xff000000, 0x000000ff]; // r, g, b, a
    const img = decodeBmp(bmp({ width: 1, height: -1, bpp: 32, rows: [[0x80, 10, 20, 30]], masks }), 100);
    expect(img.channels).toBe(4);
    expect([...img.data]).toEqual([10, 20, 30, 0x80]);
    // 16-bit 0RRRRRGGGGGBBBBB: r=31, g=0, b=0 -> 0x7c00
    const s16 = decodeBmp(bmp({ width: 1, height: 1, bpp: 16, rows: [[0x00, 0x7c]] }), 100);
    expect([...s16.data]).toEqual([255, 0, 0]);
  });

  it('clear errors: truncated, RLE, huge header, bad depth', () => {
    const good = bmp({
      width: 2,
      height: 2,
      bpp: 24,
      rows: [
        [1, 2, 3, 4, 5, 6],
        [7, 8, 9, 10, 11, 12],
      ],
    });
    expect(() => decodeBmp(good.subarray(0, good.length - 4), 100)).toThrow(/truncated: pixel data needs/);
    expect(() => decodeBmp(good.subarray(0, 20), 100)).toThrow(/truncated/);
    expect(() =>
      decodeBmp(bmp({ width: 2, height: 1, bpp: 8, rows: [[0, 0]], compression: 1 }), 100),
    ).toThrow(/compression 1 is not supported/);
    expect(() => decodeBmp(bmp({ width: 50, height: 50, bpp: 24, rows: [] }), 100)).toThrow(
      /exceeds the pixel limit/,
    );
    expect(() => decodeBmp(bmp({ width: 1, height: 1, bpp: 2, rows: [[0]] }), 100)).toThrow(ImageDecodeError);
  });
});
