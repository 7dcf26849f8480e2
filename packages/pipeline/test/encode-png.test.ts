import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../src/image/decode.js';

describe('encodePng (sharp)', () => {
  it.each([1, 3, 4] as const)('round-trips %i-channel pixels losslessly', async (channels) => {
    const pixels = Uint8Array.from({ length: 5 * 3 * channels }, (_, i) => (i * 37) % 256);
    const png = await encodePng(pixels, 5, 3, channels);
    expect([...png.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([5, 3, channels]);
    const decoded = sharp(png);
    const { data } = await (channels === 1 ? decoded.toColourspace('b-w') : decoded)
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([...data]).toEqual([...pixels]);
  });

  it('checks its input', async () => {
    await expect(encodePng(new Uint8Array(3), 2, 2, 1)).rejects.toThrow(RangeError);
    await expect(encodePng(new Uint8Array(0), 0, 2, 1)).rejects.toThrow(/width\/height/);
  });
});
