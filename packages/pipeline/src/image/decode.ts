import { readFile, stat } from 'node:fs/promises';
import sharp, { type KernelEnum, type Sharp } from 'sharp';
import { resizeLikePil } from '../core/resize.js';
import { ImageDecodeError } from '../errors.js';
import { decodeBmp, isBmp } from './bmp.js';

/** A raw camera frame: interleaved 8-bit pixels, top row first. */
export interface RawFrame {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** Encoded image bytes (PNG/JPEG/BMP/TIFF), a raw camera frame, or a file path. */
export type FrameInput = Uint8Array | RawFrame | string;

export type ResizeKernel = 'bilinear' | 'bicubic' | 'nearest' | 'lanczos3';

export interface DecodeOptions {
  width: number;
  height: number;
  resize: ResizeKernel;
  /** Largest accepted input, in pixels (width × height); protects memory against huge headers. */
  maxInputPixels?: number;
  /** Largest accepted file, in bytes. */
  maxFileBytes?: number;
}

/** Default pixel limit: 100 megapixels (a 10000×10000 image is accepted, a 20000×20000 header is not). */
export const DEFAULT_MAX_INPUT_PIXELS = 100_000_000;
export const DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024;

const KERNELS: Record<ResizeKernel, keyof KernelEnum> = {
  bilinear: 'linear',
  bicubic: 'cubic',
  nearest: 'nearest',
  lanczos3: 'lanczos3',
};

function describe(frame: FrameInput): string {
  if (typeof frame === 'string') return frame;
  if (frame instanceof Uint8Array) return `${frame.length}-byte buffer`;
  return `raw ${frame.width}x${frame.height}x${frame.channels} frame`;
}

function checkRawFrame(f: RawFrame, maxPixels: number): void {
  if (!(f.data instanceof Uint8Array)) throw new TypeError('frame.data: expected a Uint8Array');
  for (const k of ['width', 'height'] as const) {
    if (!Number.isInteger(f[k]) || f[k] < 1)
      throw new RangeError(`frame.${k}: expected a positive integer, got ${f[k]}`);
  }
  if (f.channels !== 1 && f.channels !== 3 && f.channels !== 4) {
    throw new RangeError(`frame.channels: expected 1, 3 or 4, got ${f.channels}`);
  }
  if (f.width * f.height > maxPixels) {
    throw new RangeError(`frame: ${f.width}x${f.height} exceeds the pixel limit (${maxPixels} pixels)`);
  }
  const need = f.width * f.height * f.channels;
  if (f.data.length !== need) {
    throw new RangeError(
      `frame.data: expected ${need} bytes (width × height × channels), got ${f.data.length}`,
    );
  }
}

async function readBytes(path: string, maxBytes: number): Promise<Uint8Array> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw new ImageDecodeError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, {
      cause: e,
    });
  }
  if (size > maxBytes)
    throw new ImageDecodeError(`${path}: ${size} bytes exceeds the file size limit (${maxBytes})`);
  try {
    return await readFile(path);
  } catch (e) {
    throw new ImageDecodeError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, {
      cause: e,
    });
  }
}

/** Builds the sharp instance for a frame; EXIF orientation applied, BMP decoded here (libvips lacks it). */
async function openImage(frame: FrameInput, maxPixels: number, maxBytes: number): Promise<Sharp> {
  if (typeof frame !== 'string' && !(frame instanceof Uint8Array)) {
    if (frame === null || typeof frame !== 'object') {
      throw new TypeError('frame: expected encoded bytes (Uint8Array), a raw frame object, or a file path');
    }
    checkRawFrame(frame, maxPixels);
    return sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: frame.channels } });
  }
  const bytes = typeof frame === 'string' ? await readBytes(frame, maxBytes) : frame;
  if (bytes.length === 0) throw new ImageDecodeError(`${describe(frame)}: empty input (0 bytes)`);
  if (isBmp(bytes)) {
    const bmp = decodeBmp(bytes, maxPixels);
    return sharp(bmp.data, { raw: { width: bmp.width, height: bmp.height, channels: bmp.channels } });
  }
  // failOn 'warning' turns libvips' "premature end of data" warnings (truncated files) into errors.
  return sharp(bytes, { limitInputPixels: maxPixels, failOn: 'warning', sequentialRead: true }).rotate();
}

function wrap(frame: FrameInput, e: unknown): Error {
  if (e instanceof ImageDecodeError || e instanceof TypeError || e instanceof RangeError) {
    if (e instanceof ImageDecodeError && !e.message.startsWith(describe(frame))) {
      return new ImageDecodeError(`${describe(frame)}: ${e.message}`, { cause: e });
    }
    return e;
  }
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return new ImageDecodeError(`${describe(frame)}: cannot decode image: ${msg}`, { cause: e });
}

/**
 * A raw frame as interleaved RGB without libvips: grey is replicated, alpha dropped (the colour samples are kept as
 * they are, as Pillow's convert("RGB") and OpenCV's imread do for the training tools and the official code).
 */
function rawToRgb(f: RawFrame): Uint8Array {
  const n = f.width * f.height;
  if (f.channels === 3) return f.data.slice();
  const out = new Uint8Array(n * 3);
  if (f.channels === 1) {
    for (let p = 0; p < n; p++) out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = f.data[p];
  } else {
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = f.data[p * 4 + c];
  }
  return out;
}

/** A decoded image at its own size: interleaved 8-bit RGB, top row first. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decodes a frame to interleaved 8-bit sRGB at its own size, without resampling: EXIF orientation applied, grey
 * replicated to RGB, alpha dropped (colour samples kept, as Pillow's convert("RGB") does), 16-bit samples reduced to
 * their high byte, CMYK converted by libvips.
 */
export async function decodeFullRgb(
  frame: FrameInput,
  opts: Pick<DecodeOptions, 'maxInputPixels' | 'maxFileBytes'> = {},
): Promise<RgbImage> {
  const maxPixels = opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  try {
    if (typeof frame === 'object' && frame !== null && !(frame instanceof Uint8Array)) {
      checkRawFrame(frame, maxPixels);
      return { data: rawToRgb(frame), width: frame.width, height: frame.height };
    }
    const img = await openImage(frame, maxPixels, maxBytes);
    const { data, info } = await img
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new ImageDecodeError(`decoded to ${info.channels} channels, expected 3`);
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
    };
  } catch (e) {
    throw wrap(frame, e);
  }
}

/**
 * Decodes a frame to interleaved 8-bit sRGB at exactly width × height (fit: fill).
 * `bilinear` is Pillow's bilinear resize, reproduced exactly by resizeLikePil (the training tools' resampling, so
 * serving sees what training saw); the other kernels are libvips'. Grey is replicated to RGB; alpha is dropped; 16-bit samples are reduced to their high byte (bilinear: before resizing; libvips kernels: after);
 * CMYK is converted to sRGB by libvips.
 */
export async function decodeToRgb(frame: FrameInput, opts: DecodeOptions): Promise<Uint8Array> {
  const maxPixels = opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (opts.resize === 'bilinear') {
    const img = await decodeFullRgb(frame, opts);
    return resizeLikePil(img.data, img.width, img.height, 3, opts.width, opts.height);
  }
  try {
    if (typeof frame === 'object' && frame !== null && !(frame instanceof Uint8Array)) {
      checkRawFrame(frame, maxPixels);
      if (frame.width === opts.width && frame.height === opts.height) return rawToRgb(frame);
    }
    const img = await openImage(frame, maxPixels, maxBytes);
    const { data, info } = await img
      .toColourspace('srgb')
      .resize(opts.width, opts.height, { fit: 'fill', kernel: KERNELS[opts.resize] })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== opts.width || info.height !== opts.height) {
      throw new ImageDecodeError(
        `decoded to ${info.width}x${info.height}x${info.channels}, expected ${opts.width}x${opts.height}x3`,
      );
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (e) {
    throw wrap(frame, e);
  }
}

/** Encodes interleaved 8-bit grey (1), RGB (3) or RGBA (4) pixels as PNG (grey stays single-channel). */
export async function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3 | 4 = 3,
): Promise<Buffer> {
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new RangeError(`encodePng: width/height: expected positive integers, got ${width}x${height}`);
  }
  if (pixels.length !== width * height * channels) {
    throw new RangeError(
      `encodePng: pixels: expected ${width * height * channels} bytes, got ${pixels.length}`,
    );
  }
  const img = sharp(pixels, { raw: { width, height, channels } });
  return (channels === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
}
