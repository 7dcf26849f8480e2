import type { ModelRef } from '@diad/protocol';
import type { FrameInput } from '../frame.js';

/** The subset of @diad/pipeline's InspectOptions/InspectionOutput the agent relies on (docs: PIPELINE_API.md). */
export interface InspectOptions {
  seed?: number;
  thresholds?: { image: number; pixel: number };
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
  provider: string;
}

/** A loaded model the agent can run frames through. */
export interface Inspector {
  readonly model: ModelRef;
  readonly provider: string;
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
