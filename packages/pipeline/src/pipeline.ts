import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type BundleManifest, GRAPH_NAMES, type GraphName, MAX_DRAWS } from '@diad/protocol';
import {
  type GraphSession,
  type InferenceBackend,
  PROVIDERS,
  type Provider,
  type SessionConfig,
} from './backend/types.js';
import { type LoadBundleOptions, loadBundle } from './bundle/load-bundle.js';
import { type BundleVariant, chooseVariant, type DeviceFacts, graphFiles } from './bundle/variants.js';
import { hasDynamicBatch, verifyGraphIo, verifyManifestGraphs } from './bundle/verify-graphs.js';
import { overlayHeatmap } from './core/heatmap.js';
import { normalizeToNchw } from './core/normalize.js';
import { alphasCumprod } from './core/schedule.js';
import { normalizedScore, thresholdMask, verdictOf } from './core/score.js';
import { BundleError } from './errors.js';
import { decodeToRgb, encodePng, type FrameInput } from './image/decode.js';
import { allocateRunBuffers, type RunBuffers } from './run/buffers.js';
import {
  type NoisePair,
  narrowBuffers,
  type RunParams,
  runDiad,
  type Sessions,
  StageClock,
} from './run/diad-run.js';
import { Mutex } from './run/mutex.js';

export interface PipelineLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

export interface PipelineOptions {
  /** Order of preference, default ['cpu']; the next one is tried when one fails to load. */
  providers?: Provider[];
  threads?: number;
  cudaDeviceId?: number;
  tensorrtFp16?: boolean;
  engineCacheDir?: string;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let ONNX Runtime's thread pool busy-wait for work (default false). Spinning threads compete with the
   * JavaScript thread (map maths, decoding, networking) and other processes; off was 2–3× faster on a shared
   * 2-core machine (docs/benchmarks.md). Turn on only on a dedicated box where every microsecond of latency counts.
   */
  allowSpinning?: boolean;
  /** Runs every graph once on load (default true). */
  warmup?: boolean;
  logger?: PipelineLogger;
  /** Largest number of frames per graph call in runBatch (dynamic-batch graphs only); default 8. */
  maxBatch?: number;
  /**
   * Averaged draws of a frame share graph calls: each call carries up to this many draws of every frame in the
   * batch, the frames repeated along the batch axis (dynamic-batch graphs only). Default: all of a frame's draws in
   * one call, as long as a call stays within max(maxBatch, 16) rows. 1 runs the draws one after another.
   */
  drawsPerCall?: number;
  /** Input pixel limit for decoding (default 100 megapixels). */
  maxInputPixels?: number;
  /** Where .tar bundles are extracted. */
  bundleCacheDir?: string;
  /** The inference engine; default ONNX Runtime (tests may inject another). */
  backend?: InferenceBackend;
  /**
   * The GPU's compute capability and TensorRT version, for choosing an accelerator variant of the bundle
   * (providers/host-facts.ts gathers them). Without them, variants that name either are passed over.
   */
  device?: DeviceFacts;
}

/** Which provider runs the bundle, from which variant, and why the providers before it were passed over. */
export interface ProviderReport {
  provider: Provider;
  /** The variant whose graphs run, if any; graphs it does not replace run from the plain files. */
  variant: string | null;
  /** Graph name → the file it runs from. */
  graphs: Record<GraphName, string>;
  /** Providers tried before the chosen one, each with the reason it was not used. */
  skipped: Array<{ provider: Provider; reason: string }>;
  /** Variants passed over on the chosen provider, with reasons (e.g. built for another GPU). */
  variantsRejected: string[];
}

export interface InspectOptions {
  seed?: number;
  steps?: number;
  startStep?: number;
  /** Reconstructions averaged per frame (default: the manifest's sampler.draws, else 1). */
  draws?: number;
  /** Injected noise instead of the seeded stream: one pair, or one per draw (an array sets the draw count). */
  noise?: NoisePair | NoisePair[];
  mode?: 'diad' | 'autoencoder';
  thresholds?: { image: number; pixel: number };
  keepTensors?: boolean;
  /** Receives every intermediate of the (first) frame; for parity tests. */
  trace?: (name: string, value: Float32Array) => void;
}

export interface InspectionOutput {
  score: number;
  map: Float32Array;
  mapWidth: number;
  mapHeight: number;
  verdict: 'OK' | 'NOK';
  normalizedScore: number;
  mask: Uint8Array;
  defectAreaPx: number;
  thresholds: { image: number; pixel: number };
  timingsMs: Record<string, number>;
  model: { name: string; version: string; sha256: string };
  provider: Provider;
  input?: Float32Array;
  reconstruction?: Float32Array;
}

const noopLogger: PipelineLogger = { info() {}, warn() {} };

function checkOptions(o: PipelineOptions): void {
  if (o.providers !== undefined) {
    if (!Array.isArray(o.providers) || o.providers.length === 0) {
      throw new TypeError('providers: expected a non-empty array of "tensorrt" | "cuda" | "webgpu" | "cpu"');
    }
    for (const p of o.providers) {
      if (!PROVIDERS.includes(p))
        throw new RangeError(`providers: unknown provider "${p}" (expected tensorrt, cuda, webgpu or cpu)`);
    }
  }
  if (o.threads !== undefined && (!Number.isInteger(o.threads) || o.threads < 0)) {
    throw new RangeError(`threads: expected an integer >= 0 (0 = runtime default), got ${o.threads}`);
  }
  if (o.cudaDeviceId !== undefined && (!Number.isInteger(o.cudaDeviceId) || o.cudaDeviceId < 0)) {
    throw new RangeError(`cudaDeviceId: expected an integer >= 0, got ${o.cudaDeviceId}`);
  }
  if (o.maxBatch !== undefined && (!Number.isInteger(o.maxBatch) || o.maxBatch < 1)) {
    throw new RangeError(`maxBatch: expected an integer >= 1, got ${o.maxBatch}`);
  }
  if (o.drawsPerCall !== undefined && (!Number.isInteger(o.drawsPerCall) || o.drawsPerCall < 1)) {
    throw new RangeError(`drawsPerCall: expected an integer >= 1, got ${o.drawsPerCall}`);
  }
}

/** ONNX Runtime, imported on first use. */
export async function defaultBackend(): Promise<InferenceBackend> {
  const { OrtBackend } = await import('./backend/ort-backend.js');
  return new OrtBackend();
}

async function releaseAll(sessions: Partial<Sessions>): Promise<void> {
  await Promise.all(Object.values(sessions).map((s) => s?.release().catch(() => undefined)));
}

/** DiAD inference for one bundle on one execution provider. Safe to share between cameras: runs are serialised. */
export class DiadPipeline {
  readonly manifest: BundleManifest;
  readonly provider: Provider;
  readonly providerReport: ProviderReport;
  readonly bundleSha256: string;
  readonly bundleDir: string;
  /** Whether runBatch sends several frames through one graph call. */
  readonly dynamicBatch: boolean;
  private readonly sessions: Sessions;
  private readonly alphas: Float64Array;
  /** The largest buffer set needed so far; smaller batches use a narrowed view of it. */
  private buffers?: RunBuffers;
  /** Buffers for frames × draws rows when draws share graph calls (separate: they hold the repeated frames). */
  private rowBufs?: RunBuffers;
  private readonly mutex = new Mutex();
  private readonly maxBatch: number;
  private readonly drawsPerCall?: number;
  private readonly maxRows: number;
  private readonly maxInputPixels?: number;
  private closed = false;

  private constructor(
    bundle: { dir: string; manifest: BundleManifest; sha256: string },
    report: ProviderReport,
    sessions: Sessions,
    opts: PipelineOptions,
  ) {
    this.manifest = bundle.manifest;
    this.bundleSha256 = bundle.sha256;
    this.bundleDir = bundle.dir;
    this.provider = report.provider;
    this.providerReport = report;
    this.sessions = sessions;
    // ᾱ rounded to float32, as the reference model stores it (a registered float32 buffer).
    this.alphas = alphasCumprod(bundle.manifest.schedule).map(Math.fround);
    this.dynamicBatch = hasDynamicBatch(bundle.manifest);
    this.maxBatch = this.dynamicBatch ? (opts.maxBatch ?? 8) : 1;
    this.drawsPerCall = opts.drawsPerCall;
    this.maxRows = Math.max(this.maxBatch, 16);
    this.maxInputPixels = opts.maxInputPixels;
  }

  /** Loads and verifies a bundle (dir or .tar), opens its graphs on the first provider that loads, warms up. */
  static async create(bundlePath: string, opts: PipelineOptions = {}): Promise<DiadPipeline> {
    checkOptions(opts);
    const log = opts.logger ?? noopLogger;
    const bundle = await loadBundle(bundlePath, {
      cacheDir: opts.bundleCacheDir,
    } satisfies LoadBundleOptions);
    verifyManifestGraphs(bundle.manifest);
    const backend = opts.backend ?? (await defaultBackend());
    const providers = opts.providers ?? ['cpu'];
    const skipped: ProviderReport['skipped'] = [];
    const failures: string[] = [];
    const fail = (provider: Provider, reason: string, msg: string) => {
      failures.push(`${provider}: ${reason}`);
      skipped.push({ provider, reason });
      log.warn({ provider, reason }, msg);
    };
    for (const provider of providers) {
      const choice = chooseVariant(bundle.manifest, provider, opts.device ?? {});
      const variant: BundleVariant | undefined = choice.variant;
      if (choice.rejected.length)
        log.warn(
          { provider, reasons: choice.rejected },
          'bundle variants passed over; using the plain graphs',
        );
      const files = graphFiles(bundle.manifest, variant);
      const config: SessionConfig = {
        provider,
        threads: opts.threads,
        cudaDeviceId: opts.cudaDeviceId,
        tensorrtFp16: opts.tensorrtFp16,
        graphOptimization: opts.graphOptimization,
        allowSpinning: opts.allowSpinning ?? false,
      };
      if (provider === 'tensorrt') {
        if (opts.engineCacheDir) {
          config.engineCacheDir = join(opts.engineCacheDir, bundle.sha256, `cuda${opts.cudaDeviceId ?? 0}`);
          await mkdir(config.engineCacheDir, { recursive: true });
        }
        if (opts.tensorrtFp16 || opts.engineCacheDir) {
          log.warn(
            { provider, fp16: opts.tensorrtFp16 ?? false, engineCacheDir: config.engineCacheDir },
            'onnxruntime-node passes only deviceId to TensorRT: fp16 and the engine cache are requested but may be ignored',
          );
        }
      }
      const sessions: Partial<Sessions> = {};
      try {
        for (const g of GRAPH_NAMES) {
          const spec = variant?.graphs[g] ?? bundle.manifest.graphs[g];
          let s: GraphSession;
          try {
            s = await backend.createSession(join(bundle.dir, files[g]), config);
          } catch (e) {
            throw new ProviderLoadError(g, files[g], e);
          }
          sessions[g] = s;
          verifyGraphIo(spec, s);
        }
      } catch (e) {
        await releaseAll(sessions);
        if (e instanceof BundleError) throw e; // the bundle is wrong: no provider will fix it
        if (provider === 'cpu' && e instanceof ProviderLoadError) {
          // The CPU provider is always present, so a graph it cannot load is a broken file.
          throw new BundleError(e.file, `ONNX Runtime cannot load it: ${e.reason}`, { cause: e });
        }
        fail(
          provider,
          (e as Error).message,
          `execution provider ${provider} failed to load; trying the next one`,
        );
        continue;
      }
      const report: ProviderReport = {
        provider,
        variant: variant?.name ?? null,
        graphs: files,
        skipped: [...skipped],
        variantsRejected: choice.rejected,
      };
      const p = new DiadPipeline(bundle, report, sessions as Sessions, opts);
      log.info(
        {
          provider,
          variant: report.variant,
          skipped,
          model: bundle.manifest.model.name,
          version: bundle.manifest.model.version,
          sha256: bundle.sha256,
        },
        'pipeline ready',
      );
      if (opts.warmup ?? true) {
        try {
          await p.warmup();
        } catch (e) {
          await p.close();
          // A GPU provider can load and still fail on the first run (memory, engine build): try the next one.
          if (provider === 'cpu') throw e;
          fail(
            provider,
            `warm-up failed: ${(e as Error).message}`,
            `execution provider ${provider} failed to run; trying the next one`,
          );
          continue;
        }
      }
      return p;
    }
    throw new Error(`no execution provider could load the bundle (${failures.join('; ')})`);
  }

  /** Runs every graph once on a zero frame (TensorRT builds its engines here, CPU sizes its arenas). */
  private async warmup(): Promise<void> {
    const bufs = this.buffersFor(1);
    (bufs.x.data as Float32Array).fill(0);
    await runDiad(
      this.manifest,
      this.sessions,
      bufs,
      this.alphas,
      this.params({ steps: 1, draws: 1 }),
      new StageClock(),
    );
  }

  private params(o: InspectOptions): RunParams {
    const m = this.manifest;
    const seed = o.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new RangeError(`seed: expected a non-negative integer, got ${seed}`);
    const startStep = o.startStep ?? m.sampler.startStep;
    const steps = o.steps ?? m.sampler.steps;
    const T = m.schedule.trainSteps;
    if (!Number.isInteger(startStep) || startStep < 0 || startStep >= T) {
      throw new RangeError(`startStep: expected an integer in [0, ${T - 1}], got ${startStep}`);
    }
    if (!Number.isInteger(steps) || steps < 1 || steps > startStep + 1) {
      throw new RangeError(
        `steps: expected an integer in [1, startStep + 1 = ${startStep + 1}], got ${steps}`,
      );
    }
    const mode = o.mode ?? 'diad';
    if (mode !== 'diad' && mode !== 'autoencoder')
      throw new RangeError(`mode: expected "diad" or "autoencoder", got ${mode}`);
    // An array of injected noise pairs says how many draws it is for.
    const draws = o.draws ?? (Array.isArray(o.noise) ? o.noise.length : (m.sampler.draws ?? 1));
    if (!Number.isInteger(draws) || draws < 1 || draws > MAX_DRAWS) {
      throw new RangeError(`draws: expected an integer in [1, ${MAX_DRAWS}], got ${draws}`);
    }
    let noise: NoisePair[] | undefined;
    if (o.noise !== undefined) {
      noise = Array.isArray(o.noise) ? o.noise : [o.noise];
      if (mode === 'diad' && noise.length !== draws) {
        throw new RangeError(
          `noise: expected ${draws} pair(s) of n1, n2 (one per draw), got ${noise.length}`,
        );
      }
      const L = m.latent.channels * m.latent.height * m.latent.width;
      noise.forEach((pair, d) => {
        const at = noise!.length > 1 ? `noise[${d}]` : 'noise';
        for (const k of ['n1', 'n2'] as const) {
          const v = pair?.[k];
          if (!(v instanceof Float32Array)) throw new TypeError(`${at}.${k}: expected a Float32Array`);
          if (v.length !== L)
            throw new RangeError(`${at}.${k}: expected ${L} values (latent C×H×W), got ${v.length}`);
        }
      });
    }
    return {
      startStep,
      steps,
      draws,
      drawsPerCall: 1,
      seed,
      noise,
      mode,
      keepTensors: o.keepTensors ?? false,
      trace: o.trace,
    };
  }

  private thresholds(o: InspectOptions): { image: number; pixel: number } {
    const t = o.thresholds ?? {
      image: this.manifest.calibration.imageThreshold,
      pixel: this.manifest.calibration.pixelThreshold,
    };
    if (!Number.isFinite(t.image))
      throw new RangeError(`thresholds.image: expected a finite number, got ${t.image}`);
    if (!Number.isFinite(t.pixel))
      throw new RangeError(`thresholds.pixel: expected a finite number, got ${t.pixel}`);
    return { image: t.image, pixel: t.pixel };
  }

  /** Buffers for `batch` frames: grown (once per new largest batch) up to maxBatch, otherwise reused. */
  private buffersFor(batch: number): RunBuffers {
    if (!this.buffers || this.buffers.batch < batch) this.buffers = allocateRunBuffers(this.manifest, batch);
    return narrowBuffers(this.buffers, batch);
  }

  /** Rows for draws sharing graph calls; grown like `buffers`. */
  private rowBuffers(rows: number): RunBuffers {
    if (!this.rowBufs || this.rowBufs.batch < rows) this.rowBufs = allocateRunBuffers(this.manifest, rows);
    return narrowBuffers(this.rowBufs, rows);
  }

  /** How many draws of each of `frames` frames go into one graph call. */
  private drawsPerCallFor(frames: number, draws: number): number {
    if (!this.dynamicBatch) return 1;
    const fit = Math.max(1, Math.floor(this.maxRows / frames));
    return Math.max(1, Math.min(draws, this.drawsPerCall ?? draws, fit));
  }

  private decode(frame: FrameInput): Promise<Uint8Array> {
    const { width, height, resize } = this.manifest.input;
    return decodeToRgb(frame, { width, height, resize, maxInputPixels: this.maxInputPixels });
  }

  async inspect(frame: FrameInput, opts: InspectOptions = {}): Promise<InspectionOutput> {
    const [out] = await this.runFrames([frame], opts);
    return out;
  }

  /** Inspects several frames; graphs with a dynamic batch axis take up to maxBatch frames per call. */
  async runBatch(frames: FrameInput[], opts: InspectOptions = {}): Promise<InspectionOutput[]> {
    if (!Array.isArray(frames)) throw new TypeError('frames: expected an array of frames');
    const out: InspectionOutput[] = [];
    for (let i = 0; i < frames.length; i += this.maxBatch) {
      out.push(...(await this.runFrames(frames.slice(i, i + this.maxBatch), opts)));
    }
    return out;
  }

  private async runFrames(frames: FrameInput[], opts: InspectOptions): Promise<InspectionOutput[]> {
    if (this.closed) throw new Error('pipeline is closed');
    const params = this.params(opts);
    const thresholds = this.thresholds(opts);
    const t0 = performance.now();
    // Decoding needs no shared buffers, so it happens outside the lock (overlaps with other cameras' runs).
    const rgbs = await Promise.all(frames.map((f) => this.decode(f)));
    const decodeMs = performance.now() - t0;
    return this.mutex.runExclusive(async () => {
      if (this.closed) throw new Error('pipeline is closed');
      const clock = new StageClock();
      clock.timings.decode = decodeMs;
      clock.timings.wait = performance.now() - t0 - decodeMs;
      const bufs = this.buffersFor(frames.length);
      const { width, height, mean, std, channelOrder } = this.manifest.input;
      const x = bufs.x.data as Float32Array;
      rgbs.forEach((rgb, i) => {
        normalizeToNchw(rgb, width, height, mean, std, channelOrder, x, i * bufs.imageSize);
      });
      clock.mark('preprocess');
      const run = { ...params, drawsPerCall: this.drawsPerCallFor(frames.length, params.draws) };
      const results = await runDiad(this.manifest, this.sessions, bufs, this.alphas, run, clock, (rows) =>
        this.rowBuffers(rows),
      );
      const timingsMs: Record<string, number> = {
        ...clock.timings,
        inference: clock.inference,
        total: performance.now() - t0,
      };
      if (frames.length > 1) timingsMs.batch = frames.length;
      return results.map((r) => this.toOutput(r, thresholds, timingsMs));
    });
  }

  private toOutput(
    r: { score: number; map: Float32Array; input?: Float32Array; reconstruction?: Float32Array },
    thresholds: { image: number; pixel: number },
    timingsMs: Record<string, number>,
  ): InspectionOutput {
    const { mapWidth, mapHeight } = this.manifest.scoring;
    const mask = new Uint8Array(r.map.length);
    const defectAreaPx = thresholdMask(r.map, thresholds.pixel, mask);
    const std = this.manifest.calibration.normalScores?.std ?? 0;
    const m = this.manifest.model;
    const out: InspectionOutput = {
      score: r.score,
      map: r.map,
      mapWidth,
      mapHeight,
      verdict: verdictOf(r.score, thresholds.image),
      normalizedScore: normalizedScore(r.score, thresholds.image, std),
      mask,
      defectAreaPx,
      thresholds,
      timingsMs: { ...timingsMs },
      model: { name: m.name, version: m.version, sha256: this.bundleSha256 },
      provider: this.provider,
    };
    if (r.input) out.input = r.input;
    if (r.reconstruction) out.reconstruction = r.reconstruction;
    return out;
  }

  /**
   * PNG of the frame (resized to the map size) with the anomaly map in turbo colours blended at 50%;
   * the colour scale ends at 2 × the pixel threshold, so defect pixels are yellow to red.
   */
  async heatmapPng(frame: FrameInput, out: InspectionOutput): Promise<Buffer> {
    const { mapWidth: w, mapHeight: h, map } = out;
    if (!(map instanceof Float32Array) || map.length !== w * h) {
      throw new TypeError('out: expected an InspectionOutput with map of mapWidth × mapHeight values');
    }
    const rgb = await decodeToRgb(frame, {
      width: w,
      height: h,
      resize: this.manifest.input.resize,
      maxInputPixels: this.maxInputPixels,
    });
    return encodePng(overlayHeatmap(rgb, map, w, h, 2 * out.thresholds.pixel), w, h);
  }

  /** Releases the sessions after any run in progress finishes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.mutex.runExclusive(() => releaseAll(this.sessions));
  }
}

/** A session that could not be created on a provider (the provider is unavailable or rejected the graph). */
class ProviderLoadError extends Error {
  readonly file: string;
  readonly reason: string;
  constructor(graph: GraphName, file: string, cause: unknown) {
    const reason = (cause as Error)?.message ?? String(cause);
    super(`${graph} (${file}): ${reason}`, { cause });
    this.name = 'ProviderLoadError';
    this.file = file;
    this.reason = reason;
  }
}
