import { FrameDecodeError } from './types.js';

export interface Gray {
  width: number;
  height: number;
  /** One value per pixel in [0, 255]. */
  luma: Uint8Array;
}

/** Decodes binary PGM (P5) / PPM (P6), 8 bit, to luma. Enough for the stand-in model and test fixtures. */
export function decodePnm(bytes: Uint8Array): Gray {
  const { width, height, channels, data } = decodePnmPixels(bytes);
  const n = width * height;
  const luma = new Uint8Array(n);
  if (channels === 1) luma.set(data);
  else
    for (let p = 0, j = 0; p < n; p++, j += 3)
      luma[p] = ((data[j] + data[j + 1] + data[j + 2]) * 21846) >>> 16;
  return { width, height, luma };
}

/** The pixels of a binary PGM/PPM as stored (1 or 3 channels). */
export function decodePnmPixels(bytes: Uint8Array): {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
} {
  if (bytes.length < 8 || bytes[0] !== 0x50 || (bytes[1] !== 0x35 && bytes[1] !== 0x36)) {
    throw new FrameDecodeError('image: expected a binary PGM (P5) or PPM (P6) file');
  }
  const channels: 1 | 3 = bytes[1] === 0x35 ? 1 : 3;
  const fields: number[] = [];
  let i = 2;
  while (fields.length < 3) {
    while (
      i < bytes.length &&
      (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
    )
      i++;
    if (bytes[i] === 0x23) {
      while (i < bytes.length && bytes[i] !== 0x0a) i++;
      continue;
    }
    let v = '';
    while (i < bytes.length && bytes[i] >= 0x30 && bytes[i] <= 0x39) v += String.fromCharCode(bytes[i++]);
    if (v === '') throw new FrameDecodeError('image: malformed PNM header');
    fields.push(Number(v));
  }
  i++;
  const [width, height, maxval] = fields;
  if (width < 1 || height < 1 || maxval !== 255)
    throw new FrameDecodeError('image: expected 8-bit PNM with size >= 1x1');
  const n = width * height;
  if (bytes.length - i < n * channels)
    throw new FrameDecodeError(`image: truncated, expected ${n * channels} pixel bytes`);
  return { width, height, channels, data: bytes.subarray(i, i + n * channels) };
}

/** Encodes an 8-bit PPM (P6) of a uniform grey level, with an optional bright square: a test/bench fixture. */
export function makePpm(
  width: number,
  height: number,
  grey: number,
  spot?: { x: number; y: number; size: number; level: number },
) {
  const header = Buffer.from(`P6\n${width} ${height}\n255\n`, 'ascii');
  const px = Buffer.alloc(width * height * 3, grey);
  if (spot) {
    for (let y = spot.y; y < Math.min(height, spot.y + spot.size); y++)
      for (let x = spot.x; x < Math.min(width, spot.x + spot.size); x++)
        px.fill(spot.level, (y * width + x) * 3, (y * width + x) * 3 + 3);
  }
  return new Uint8Array(Buffer.concat([header, px]));
}
