import { crc32, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../src/png.js';

describe('encodePng', () => {
  it('writes signature, IHDR, IDAT (filter 0 rows) and IEND with valid CRCs', () => {
    const data = Uint8Array.from({ length: 3 * 2 * 3 }, (_, i) => i * 10);
    const png = encodePng(3, 2, 3, data);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const chunks: { type: string; body: Buffer }[] = [];
    for (let o = 8; o < png.length; ) {
      const len = png.readUInt32BE(o);
      const type = png.toString('ascii', o + 4, o + 8);
      const body = png.subarray(o + 8, o + 8 + len);
      expect(png.readUInt32BE(o + 8 + len)).toBe(crc32(png.subarray(o + 4, o + 8 + len)) >>> 0);
      chunks.push({ type, body });
      o += 12 + len;
    }
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    const ihdr = chunks[0].body;
    expect([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9]]).toEqual([3, 2, 8, 2]);
    const raw = inflateSync(chunks[1].body);
    expect([...raw]).toEqual([0, ...data.subarray(0, 9), 0, ...data.subarray(9)]);
  });

  it('checks its input', () => {
    expect(() => encodePng(2, 2, 1, new Uint8Array(3))).toThrow(RangeError);
    expect(() => encodePng(0, 2, 1, new Uint8Array(0))).toThrow(/width\/height/);
  });
});
