import { ImageDecodeError } from '../errors.js';

/** A decoded BMP as interleaved 8-bit RGB or RGBA, top row first. */
export interface DecodedBmp {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

/**
 * Decodes uncompressed Windows bitmaps (sharp/libvips has no BMP loader here): BITMAPINFOHEADER and V4/V5
 * headers, 1/4/8-bit palettes, 16/24/32-bit (BI_RGB or BI_BITFIELDS), bottom-up or top-down.
 * RLE-compressed and JPEG/PNG-in-BMP files are rejected with a clear error.
 */
export function decodeBmp(bytes: Uint8Array, maxPixels: number): DecodedBmp {
  const fail = (why: string): never => {
    throw new ImageDecodeError(`BMP: ${why}`);
  };
  if (!isBmp(bytes)) fail('missing "BM" signature');
  if (bytes.length < 26) fail(`file truncated (${bytes.length} bytes, header needs at least 26)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  if (headerSize < 40) fail(`unsupported header size ${headerSize} (OS/2 bitmaps are not supported)`);
  if (bytes.length < 14 + headerSize) fail(`file truncated in the info header`);
  const width = dv.getInt32(18, true);
  const rawHeight = dv.getInt32(22, true);
  const bpp = dv.getUint16(28, true);
  const compression = dv.getUint32(30, true);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) fail(`invalid dimensions ${width}x${rawHeight}`);
  if (width * height > maxPixels) {
    fail(`${width}x${height} exceeds the pixel limit (${maxPixels} pixels)`);
  }
  if (compression !== 0 && compression !== 3)
    fail(`compression ${compression} is not supported (only BI_RGB, BI_BITFIELDS)`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) fail(`unsupported bit depth ${bpp}`);

  let masks = { r: 0, g: 0, b: 0, a: 0 };
  if (compression === 3) {
    const at = headerSize >= 52 ? 54 : 14 + headerSize;
    if (bytes.length < at + 12) fail('file truncated in the bitfield masks');
    masks = {
      r: dv.getUint32(at, true),
      g: dv.getUint32(at + 4, true),
      b: dv.getUint32(at + 8, true),
      a: headerSize >= 56 ? dv.getUint32(at + 12, true) : 0,
    };
  } else if (bpp === 16) {
    masks = { r: 0x7c00, g: 0x03e0, b: 0x001f, a: 0 };
  } else if (bpp === 32) {
    masks = { r: 0x00ff0000, g: 0x0000ff00, b: 0x000000ff, a: 0 };
  }

  let palette: Uint8Array | undefined;
  if (bpp <= 8) {
    const colours = dv.getUint32(46, true) || 1 << bpp;
    const at = 14 + headerSize;
    if (bytes.length < at + colours * 4) fail('file truncated in the palette');
    palette = bytes.subarray(at, at + colours * 4);
  }

  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + rowBytes * height > bytes.length) {
    fail(
      `file truncated: pixel data needs ${dataOffset + rowBytes * height} bytes, file has ${bytes.length}`,
    );
  }
  const hasAlpha = (bpp === 32 || bpp === 16) && masks.a !== 0;
  const channels = hasAlpha ? 4 : 3;
  const out = new Uint8Array(width * height * channels);
  const mr = maskShift(masks.r);
  const mg = maskShift(masks.g);
  const mb = maskShift(masks.b);
  const ma = maskShift(masks.a);
  const scale = (v: number, m: { max: number }) => (m.max === 0 ? 0 : Math.round((v * 255) / m.max));

  for (let y = 0; y < height; y++) {
    const srcRow = dataOffset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      if (palette) {
        const bitPos = x * bpp;
        const byte = bytes[srcRow + (bitPos >> 3)];
        const idx = (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1);
        if (idx * 4 + 2 >= palette.length) fail(`palette index ${idx} out of range`);
        out[o] = palette[idx * 4 + 2];
        out[o + 1] = palette[idx * 4 + 1];
        out[o + 2] = palette[idx * 4];
      } else if (bpp === 24) {
        const s = srcRow + x * 3;
        out[o] = bytes[s + 2];
        out[o + 1] = bytes[s + 1];
        out[o + 2] = bytes[s];
      } else {
        const v = bpp === 32 ? dv.getUint32(srcRow + x * 4, true) : dv.getUint16(srcRow + x * 2, true);
        out[o] = scale((v & masks.r) >>> mr.shift, mr);
        out[o + 1] = scale((v & masks.g) >>> mg.shift, mg);
        out[o + 2] = scale((v & masks.b) >>> mb.shift, mb);
        if (hasAlpha) out[o + 3] = scale((v & masks.a) >>> ma.shift, ma);
      }
    }
  }
  return { data: out, width, height, channels };
}
