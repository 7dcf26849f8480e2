import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { type FrameInput, isRawFrame } from '../frame.js';
import { decodePnm, type Gray } from './pnm.js';
import { FrameDecodeError, type InspectionOutput, type InspectOptions, type Inspector } from './types.js';

/**
 * A fast deterministic stand-in for the DiAD pipeline, for tests and benchmarks: the anomaly map is the mean
 * brightness of an 8x8 grid of blocks (0..1), the score its maximum. It reads PGM/PPM and raw frames only.
 * A stand-in "bundle" is a small JSON file (format "diad-standin").
 */
export const StandInBundle = z.object({
  format: z.literal('diad-standin'),
  model: z.object({ name: z.string().min(1), version: z.string().min(1) }),
  calibration: z.object({ imageThreshold: z.number(), pixelThreshold: z.number() }),
  /** Simulated inference time (ms), to exercise queues. */
  delayMs: z.number().nonnegative().default(0),
  /** Makes warm-up fail: exercises "keep the old model" on update. */
  failWarmup: z.boolean().default(false),
});
export type StandInBundle = z.infer<typeof StandInBundle>;

const GRID = 8;

export class StandInInspector implements Inspector {
  readonly provider = 'cpu';
  readonly model;
  readonly calibration;

  constructor(
    private readonly bundle: StandInBundle,
    sha256: string,
  ) {
    this.model = { name: bundle.model.name, version: bundle.model.version, sha256 };
    this.calibration = { image: bundle.calibration.imageThreshold, pixel: bundle.calibration.pixelThreshold };
  }

  static async load(path: string, sha256?: string): Promise<StandInInspector> {
    const bytes = await readFile(path);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new TypeError(`stand-in bundle ${path}: expected JSON`);
    }
    const parsed = StandInBundle.safeParse(json);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new TypeError(`stand-in bundle ${path}: ${i.path.join('.')}: ${i.message}`);
    }
    const inspector = new StandInInspector(
      parsed.data,
      sha256 ?? createHash('sha256').update(bytes).digest('hex'),
    );
    if (parsed.data.failWarmup)
      throw new Error(`stand-in bundle ${path}: warm-up failed (failWarmup is set)`);
    return inspector;
  }

  async inspect(frame: FrameInput, opts: InspectOptions = {}): Promise<InspectionOutput> {
    const t0 = performance.now();
    const gray = await toGray(frame);
    const t1 = performance.now();
    if (this.bundle.delayMs > 0) await new Promise((r) => setTimeout(r, this.bundle.delayMs));
    const map = blockMeans(gray);
    let score = 0;
    for (const v of map) score = Math.max(score, v);
    const thresholds = opts.thresholds ?? this.calibration;
    const mask = new Uint8Array(map.length);
    let defectAreaPx = 0;
    for (let i = 0; i < map.length; i++) {
      mask[i] = map[i] >= thresholds.pixel ? 1 : 0;
      defectAreaPx += mask[i];
    }
    const normalizedScore =
      thresholds.image > 0
        ? Math.min(1, Math.max(0, score / (2 * thresholds.image)))
        : score >= thresholds.image
          ? 1
          : 0;
    const t2 = performance.now();
    return {
      score,
      map,
      mapWidth: GRID,
      mapHeight: GRID,
      verdict: score >= thresholds.image ? 'NOK' : 'OK',
      normalizedScore,
      mask,
      defectAreaPx,
      thresholds,
      timingsMs: { decode: t1 - t0, map: t2 - t1, total: t2 - t0 },
      model: { ...this.model },
      provider: this.provider,
    };
  }

  async close(): Promise<void> {}
}

async function toGray(frame: FrameInput): Promise<Gray> {
  if (typeof frame === 'string') {
    let bytes: Buffer;
    try {
      bytes = await readFile(frame);
    } catch (e) {
      throw new FrameDecodeError(`image: cannot read ${frame}: ${(e as Error).message}`);
    }
    return decodePnm(bytes);
  }
  if (!isRawFrame(frame)) return decodePnm(frame);
  const { data, width, height, channels } = frame;
  if (data.length !== width * height * channels || width < 1 || height < 1) {
    throw new FrameDecodeError(
      `image: raw frame: expected ${width}x${height}x${channels} bytes, got ${data.length}`,
    );
  }
  const luma = new Uint8Array(width * height);
  for (let p = 0; p < luma.length; p++) {
    let s = 0;
    const c = Math.min(channels, 3);
    for (let k = 0; k < c; k++) s += data[p * channels + k];
    luma[p] = s / c;
  }
  return { width, height, luma };
}

function blockMeans({ width, height, luma }: Gray): Float32Array {
  const sum = new Float64Array(GRID * GRID);
  const count = new Uint32Array(GRID * GRID);
  const colBlock = new Uint8Array(width);
  for (let x = 0; x < width; x++) colBlock[x] = Math.min(GRID - 1, Math.floor((x * GRID) / width));
  for (let y = 0; y < height; y++) {
    const row = Math.min(GRID - 1, Math.floor((y * GRID) / height)) * GRID;
    const off = y * width;
    for (let x = 0; x < width; x++) {
      const b = row + colBlock[x];
      sum[b] += luma[off + x];
      count[b]++;
    }
  }
  const map = new Float32Array(GRID * GRID);
  for (let i = 0; i < map.length; i++) map[i] = count[i] ? sum[i] / count[i] / 255 : 0;
  return map;
}
