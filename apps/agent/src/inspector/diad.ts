import type { FrameInput } from '../frame.js';
import { FrameDecodeError, type InspectionOutput, type InspectOptions, type Inspector } from './types.js';

/** The shape of @diad/pipeline we use, copied from PIPELINE_API.md so the agent builds without the package. */
interface PipelineLike {
  readonly manifest: {
    model: { name: string; version: string };
    calibration: { imageThreshold: number; pixelThreshold: number };
  };
  readonly provider: string;
  readonly providerReport?: { variant: string | null; skipped: Array<{ provider: string; reason: string }> };
  inspect(frame: FrameInput, opts?: InspectOptions): Promise<InspectionOutput>;
  heatmapPng(frame: FrameInput, out: InspectionOutput): Promise<Buffer>;
  close(): Promise<void>;
}
interface PipelineModule {
  DiadPipeline: {
    create(
      bundle: string,
      opts?: {
        providers?: string[];
        threads?: number;
        warmup?: boolean;
        device?: { computeCapability?: string; tensorrtVersion?: string };
      },
    ): Promise<PipelineLike>;
  };
  ImageDecodeError: new (...args: unknown[]) => Error;
}

export interface DiadOptions {
  providers?: string[];
  threads?: number;
  /** The GPU's compute capability and TensorRT version, for choosing a bundle variant. */
  device?: { computeCapability?: string; tensorrtVersion?: string };
  /** Module to import instead of @diad/pipeline (checks against an unmerged pipeline checkout). */
  pipelineModule?: string;
}

/** Adapter from @diad/pipeline to the agent's Inspector; imported lazily so the agent runs without ONNX Runtime. */
export class DiadInspector implements Inspector {
  readonly model;
  readonly provider;
  readonly variant: string | null;
  readonly calibration;

  private constructor(
    private readonly pipeline: PipelineLike,
    private readonly decodeError: new (...args: unknown[]) => Error,
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
    const specifier = opts.pipelineModule ?? '@diad/pipeline';
    const mod = (await import(specifier)) as PipelineModule;
    if (typeof mod.DiadPipeline?.create !== 'function') {
      throw new Error('@diad/pipeline: DiadPipeline.create is not available in this build');
    }
    // create() warms the sessions up (warmup defaults to true), so a model that fails there never goes live.
    const pipeline = await mod.DiadPipeline.create(bundlePath, {
      providers: opts.providers,
      threads: opts.threads,
      warmup: true,
      device: opts.device,
    });
    return new DiadInspector(pipeline, mod.ImageDecodeError ?? FrameDecodeError, sha256);
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
    return this.pipeline.heatmapPng(frame, out);
  }

  close(): Promise<void> {
    return this.pipeline.close();
  }
}
