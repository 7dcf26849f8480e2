import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { encodePng } from '@diad/pipeline';
import { InspectionResult, type Thresholds, uuidv7 } from '@diad/protocol';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import { type Frame, type FrameInput, isRawFrame } from './frame.js';
import type { ImageStore } from './images.js';
import type { ModelManager } from './inspector/model-manager.js';
import { decodePnmPixels } from './inspector/pnm.js';
import { FrameDecodeError, type InspectionOutput } from './inspector/types.js';
import type { AgentMetrics } from './metrics.js';
import { type Outbox, OutboxFullError } from './outbox/types.js';

export interface StationSpec {
  id: string;
  queueSize: number;
  category?: string;
}

/** Thresholds from the control plane (or config); null image/pixel = use the model's calibration. */
export interface ThresholdPolicy {
  version: number;
  image: number | null;
  pixel: number | null;
  categoryThresholds: Record<string, number>;
}

export interface InspectionDeps {
  deviceId: string;
  stations: StationSpec[];
  models: ModelManager;
  outbox: Outbox;
  clock: Clock;
  metrics: AgentMetrics;
  logger: Logger;
  images?: ImageStore;
  saveImages?: 'none' | 'nok' | 'all';
  /**
   * With `saveImages: 'nok'`, also keep this share (0–1) of OK images, so normal images for training collect on
   * the control plane without anyone copying files (docs/lifecycle.md). Chosen by result id, so a retried frame
   * makes the same choice.
   */
  okSampleRate?: number;
  seed?: number;
}

interface Pending {
  frame: Frame;
  enqueuedAt: number;
  resolve: (r: InspectionResult) => void;
  reject: (e: Error) => void;
}

/**
 * The inspection loop: one bounded queue and one worker per station. submit() resolves once the result is
 * stored in the outbox, which is the only point at which a source may acknowledge the frame.
 */
export class InspectionService extends EventEmitter<{
  result: [InspectionResult];
  alarm: [string, boolean];
}> {
  private readonly queues = new Map<string, Pending[]>();
  private readonly busy = new Set<string>();
  private readonly specs = new Map<string, StationSpec>();
  private thresholds: ThresholdPolicy = { version: 0, image: null, pixel: null, categoryThresholds: {} };
  private full = false;
  private stopped = false;

  constructor(private readonly d: InspectionDeps) {
    super();
    for (const s of d.stations) {
      this.specs.set(s.id, s);
      this.queues.set(s.id, []);
      d.metrics.queueDepth.set({ station: s.id }, 0);
    }
    this.refreshOutboxGauges();
  }

  /** The control plane assigns the device id at enrolment; later results carry it. */
  setDeviceId(id: string) {
    if (typeof id !== 'string' || id.length === 0)
      throw new TypeError('deviceId: expected a non-empty string');
    this.d.deviceId = id;
  }

  setThresholds(t: ThresholdPolicy) {
    this.thresholds = { ...t, categoryThresholds: { ...t.categoryThresholds } };
  }

  get thresholdPolicy(): ThresholdPolicy {
    return this.thresholds;
  }

  /** True while the outbox is full: sources should stop taking frames (alarm raised). */
  get outboxFull(): boolean {
    return this.full;
  }

  queueDepth(station?: string): number {
    if (station) return this.queues.get(station)?.length ?? 0;
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /** Whether a frame for `station` would be inspected now (not overrun, outbox not full). */
  canAccept(station: string): boolean {
    const q = this.queues.get(station);
    const spec = this.specs.get(station);
    return !!q && !!spec && !this.full && !this.stopped && q.length < spec.queueSize;
  }

  submit(frame: Frame): Promise<InspectionResult> {
    const q = this.queues.get(frame.station);
    if (!q) return Promise.reject(new RangeError(`frame.station: unknown station "${frame.station}"`));
    if (typeof frame.partId !== 'string' || frame.partId.length < 1 || frame.partId.length > 128) {
      return Promise.reject(new TypeError('frame.partId: expected a string of 1..128 characters'));
    }
    if (this.stopped) return Promise.reject(new Error('inspection service stopped'));
    const spec = this.specs.get(frame.station)!;
    if (q.length >= spec.queueSize) {
      try {
        return Promise.resolve(
          this.store(frame, {
            state: 'overrun',
            error: { code: 'OVERRUN', message: `station queue full (${spec.queueSize})` },
          }),
        );
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => {
      q.push({ frame, enqueuedAt: this.d.clock.now(), resolve, reject });
      this.d.metrics.queueDepth.set({ station: frame.station }, q.length);
      void this.pump(frame.station);
    });
  }

  /**
   * Stores an error result for a frame that could not be captured (e.g. the trigger camera gave no image), so
   * the failure reaches MQTT and the PLC like any other result.
   */
  recordCaptureFailure(frame: Omit<Frame, 'image'>, code: string, message: string): InspectionResult {
    if (!this.specs.has(frame.station))
      throw new RangeError(`frame.station: unknown station "${frame.station}"`);
    return this.store({ ...frame, image: new Uint8Array(0) }, { state: 'error', error: { code, message } });
  }

  /** Stops taking frames and waits until queued ones are stored. */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.busy.size > 0 || this.queueDepth() > 0) await new Promise((r) => setTimeout(r, 5));
  }

  /** Re-checks the outbox alarm (the drainer calls this after acknowledging results). */
  refreshOutboxGauges() {
    const { outbox, metrics } = this.d;
    metrics.outboxDepth.set(outbox.depth());
    metrics.outboxBytes.set(outbox.usedBytes());
    // Hysteresis: the alarm clears once usage falls below 90% so it does not flap.
    if (this.full && outbox.usedBytes() < 0.9 * outbox.capacityBytes) this.setFull(false);
  }

  private setFull(full: boolean) {
    if (this.full === full) return;
    this.full = full;
    this.d.metrics.outboxFull.set(full ? 1 : 0);
    if (full)
      this.d.logger.error(
        { used: this.d.outbox.usedBytes(), capacity: this.d.outbox.capacityBytes },
        'outbox full: refusing new frames until results are delivered',
      );
    else this.d.logger.warn('outbox below 90%: accepting frames again');
    this.emit('alarm', 'outbox_full', full);
  }

  private async pump(station: string) {
    if (this.busy.has(station)) return;
    const q = this.queues.get(station)!;
    this.busy.add(station);
    try {
      while (q.length > 0) {
        const p = q.shift()!;
        this.d.metrics.queueDepth.set({ station }, q.length);
        this.d.metrics.stageSeconds.observe({ stage: 'queue' }, (this.d.clock.now() - p.enqueuedAt) / 1000);
        try {
          p.resolve(await this.inspectAndStore(p.frame));
        } catch (e) {
          p.reject(e as Error);
        }
      }
    } finally {
      this.busy.delete(station);
    }
  }

  private async inspectAndStore(frame: Frame): Promise<InspectionResult> {
    const lease = this.d.models.lease();
    try {
      const model = lease.active;
      if (!model)
        return this.store(frame, { state: 'error', error: { code: 'NO_MODEL', message: 'no model loaded' } });
      const thresholds = this.activeThresholds(frame, model.calibration);
      const opts = {
        seed: this.d.seed ?? 0,
        thresholds: { image: thresholds.image, pixel: thresholds.pixel },
      };
      const t0 = performance.now();
      let out: InspectionOutput;
      try {
        out = await model.inspect(frame.image, opts);
      } catch (e) {
        const code = e instanceof FrameDecodeError ? 'IMAGE_DECODE' : 'INSPECTION_FAILED';
        this.d.logger.warn(
          { station: frame.station, partId: frame.partId, err: (e as Error).message },
          'inspection failed',
        );
        return this.store(frame, {
          state: 'error',
          error: { code, message: (e as Error).message },
          model: model.model,
          thresholds,
          provider: model.provider,
        });
      }
      this.d.metrics.stageSeconds.observe({ stage: 'inspect' }, (performance.now() - t0) / 1000);
      for (const [stage, ms] of Object.entries(out.timingsMs))
        this.d.metrics.modelSeconds.observe({ stage }, ms / 1000);
      let shadow: InspectionResult['shadow'] = null;
      if (lease.shadow) {
        try {
          const s = await lease.shadow.inspect(frame.image, { seed: opts.seed });
          shadow = { model: lease.shadow.model, score: s.score, verdict: s.verdict };
        } catch (e) {
          this.d.logger.warn(
            { err: (e as Error).message, model: lease.shadow.model },
            'shadow model failed on a frame',
          );
        }
      }
      const resultId = uuidv7(this.d.clock.now());
      const refs = await this.saveImages(resultId, frame, out, model);
      return this.store(frame, {
        resultId,
        state: out.verdict === 'NOK' ? 'nok' : 'ok',
        verdict: out.verdict,
        score: out.score,
        normalizedScore: out.normalizedScore,
        defectAreaPx: out.defectAreaPx,
        thresholds,
        model: model.model,
        provider: out.provider,
        timingsMs: out.timingsMs,
        shadow,
        ...refs,
      });
    } finally {
      await this.d.models.release(lease);
    }
  }

  private activeThresholds(frame: Frame, calibration: { image: number; pixel: number }): Thresholds {
    const t = this.thresholds;
    const category = frame.category ?? this.specs.get(frame.station)?.category;
    const categoryImage = category !== undefined ? t.categoryThresholds[category] : undefined;
    return {
      version: t.version,
      image: categoryImage ?? t.image ?? calibration.image,
      pixel: t.pixel ?? calibration.pixel,
    };
  }

  private async saveImages(
    key: string,
    frame: Frame,
    out: InspectionOutput,
    model: { heatmapPng?: (f: FrameInput, o: InspectionOutput) => Promise<Buffer> },
  ) {
    const policy = this.d.saveImages ?? 'none';
    const store = this.d.images;
    const refs = { imageRef: null as string | null, heatmapRef: null as string | null };
    const sampledOk = out.verdict === 'OK' && sampled(key, this.d.okSampleRate ?? 0);
    if (!store || policy === 'none' || (policy === 'nok' && out.verdict !== 'NOK' && !sampledOk)) return refs;
    try {
      const { bytes, ext } = await imageBytes(frame.image);
      refs.imageRef = store.save(key, 'image', ext, bytes);
      if (model.heatmapPng)
        refs.heatmapRef = store.save(key, 'heatmap', '.png', await model.heatmapPng(frame.image, out));
    } catch (e) {
      this.d.logger.warn(
        { err: (e as Error).message },
        'could not save defect image; result kept without it',
      );
    }
    return refs;
  }

  private store(
    frame: Frame,
    fields: Partial<InspectionResult> & Pick<InspectionResult, 'state'>,
  ): InspectionResult {
    const t0 = performance.now();
    const now = this.d.clock.now();
    const result = InspectionResult.parse({
      schema: 'diad.result/v1',
      site: frame.site,
      line: frame.line,
      station: frame.station,
      camera: frame.camera,
      deviceId: this.d.deviceId,
      partId: frame.partId,
      category: frame.category ?? this.specs.get(frame.station)?.category,
      capturedAt: new Date(frame.capturedAt).toISOString(),
      inspectedAt: new Date(now).toISOString(),
      verdict: null,
      score: null,
      normalizedScore: null,
      thresholds: null,
      model: null,
      provider: null,
      ...fields,
      resultId: fields.resultId ?? uuidv7(now),
    });
    try {
      this.d.outbox.append(result);
    } catch (e) {
      if (e instanceof OutboxFullError) this.setFull(true);
      throw e;
    }
    this.d.metrics.stageSeconds.observe({ stage: 'store' }, (performance.now() - t0) / 1000);
    this.d.metrics.stageSeconds.observe({ stage: 'total' }, (now - frame.capturedAt) / 1000);
    this.d.metrics.frames.inc({ station: frame.station, state: result.state });
    this.refreshOutboxGauges();
    this.emit('result', result);
    return result;
  }
}

/** The frame as a file to keep: encoded images as they came, raw frames and PGM/PPM as PNG. */
async function imageBytes(image: FrameInput): Promise<{ bytes: Uint8Array; ext: string }> {
  if (isRawFrame(image))
    return { bytes: await encodePng(image.data, image.width, image.height, image.channels), ext: '.png' };
  const bytes = typeof image === 'string' ? await readFile(image) : image;
  const ext = extOf(bytes);
  if (ext === '.ppm' || ext === '.pgm') {
    const p = decodePnmPixels(bytes);
    return { bytes: await encodePng(p.data, p.width, p.height, p.channels), ext: '.png' };
  }
  return { bytes, ext };
}

function extOf(b: Uint8Array): string {
  if (b[0] === 0x89 && b[1] === 0x50) return '.png';
  if (b[0] === 0xff && b[1] === 0xd8) return '.jpg';
  if (b[0] === 0x42 && b[1] === 0x4d) return '.bmp';
  if ((b[0] === 0x49 && b[1] === 0x49) || (b[0] === 0x4d && b[1] === 0x4d)) return '.tif';
  if (b[0] === 0x50 && (b[1] === 0x35 || b[1] === 0x36)) return b[1] === 0x35 ? '.pgm' : '.ppm';
  return '.bin';
}

/** Whether an id falls in the sampled share: its first 8 hex digits after the dashes, as a fraction of 2³². */
export function sampled(id: string, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  const h = Number.parseInt(createHash('sha256').update(id).digest('hex').slice(0, 8), 16);
  return h / 0x1_0000_0000 < rate;
}
