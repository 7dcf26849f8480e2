import type {
  InspectionOutput as PipelineInspectionOutput,
  InspectOptions as PipelineInspectOptions,
} from '@diad/pipeline';
import type { ModelRef } from '@diad/protocol';
import type { FrameInput } from '../frame.js';

/** The part of @diad/pipeline's options the agent passes per frame. */
export type InspectOptions = Pick<PipelineInspectOptions, 'seed' | 'thresholds'>;

/**
 * @diad/pipeline's output without the optional tensors; `provider` is widened to a string so stand-in models
 * (tests, benchmarks) can name themselves.
 */
export type InspectionOutput = Omit<PipelineInspectionOutput, 'provider' | 'input' | 'reconstruction'> & {
  provider: string;
};

/** A loaded model the agent can run frames through. */
export interface Inspector {
  readonly model: ModelRef;
  readonly provider: string;
  /** The bundle variant the model runs (accelerator-specific graphs), when one was chosen. */
  readonly variant?: string | null;
  /** The bundle's own calibration, used when the control plane sent no thresholds. */
  readonly calibration: { image: number; pixel: number };
  inspect(frame: FrameInput, opts?: InspectOptions): Promise<InspectionOutput>;
  /** PNG of the anomaly map over the image, when the model can draw one. */
  heatmapPng?(frame: FrameInput, out: InspectionOutput): Promise<Buffer>;
  close(): Promise<void>;
}

/** Loads a bundle file (as downloaded and sha256-verified by the agent) into an Inspector. */
export type InspectorFactory = (bundlePath: string, bundleSha256: string) => Promise<Inspector>;

/** Thrown for a frame the model cannot read; becomes a result in state "error" with code IMAGE_DECODE. */
export class FrameDecodeError extends Error {
  override name = 'FrameDecodeError';
}
