import type { DiadPipeline, PipelineOptions } from '@diad/pipeline';
import type { FrameInput } from '../frame.js';
import { FrameDecodeError, type InspectionOutput, type InspectOptions, type Inspector } from './types.js';

export type DiadOptions = Pick<PipelineOptions, 'providers' | 'threads' | 'device'>;

/** Adapter from @diad/pipeline to the agent's Inspector; imported lazily so the agent runs without ONNX Runtime. */
export class DiadInspector implements Inspector {
  readonly model;
  readonly provider;
  readonly variant: string | null;
  readonly calibration;

  private constructor(
    private readonly pipeline: DiadPipeline,
    private readonly decodeError: new (message: string) => Error,
    sha256: string,
  ) {
    this.model = { name: pipeline.manifest.model.name, version: pipeline.manifest.model.version, sha256 };
    this.provider = pipeline.provider;
    this.variant = pipeline.providerReport?.variant ?? null;
    this.calibration = {
      image: pipeline.manifest.calibration.imageThreshold,
      pixel: pipeline.manifest.calibration.pixelThreshold,
    };
  }

  static async load(bundlePath: string, sha256: string, opts: DiadOptions = {}): Promise<DiadInspector> {
    // Imported here, not at the top, so an agent running a stand-in model never loads ONNX Runtime.
    const mod = await import('@diad/pipeline');
    // create() warms the sessions up (warmup defaults to true), so a model that fails there never goes live.
    const pipeline = await mod.DiadPipeline.create(bundlePath, {
      providers: opts.providers,
      threads: opts.threads,
      warmup: true,
      device: opts.device,
    });
    return new DiadInspector(pipeline, mod.ImageDecodeError, sha256);
  }

  async inspect(frame: FrameInput, opts?: InspectOptions): Promise<InspectionOutput> {
    try {
      return await this.pipeline.inspect(frame, opts);
    } catch (e) {
      if (e instanceof this.decodeError) throw new FrameDecodeError((e as Error).message);
      throw e;
    }
  }

  heatmapPng(frame: FrameInput, out: InspectionOutput): Promise<Buffer> {
    // The agent's output is the pipeline's own without its optional tensors, which the heatmap does not read.
    return this.pipeline.heatmapPng(frame, out as Parameters<DiadPipeline['heatmapPng']>[1]);
  }

  close(): Promise<void> {
    return this.pipeline.close();
  }
}
