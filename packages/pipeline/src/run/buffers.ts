import type { BundleManifest } from '@diad/protocol';
import type { HostTensor, TensorDtype } from '../backend/types.js';
import { type BlurPlan, planGaussianBlur } from '../core/blur.js';
import { type PoolPlan, planPoolScore } from '../core/pool.js';
import { planUpsample, type UpsamplePlan } from '../core/upsample.js';

export interface FeatureLayer {
  name: string;
  channels: number;
  height: number;
  width: number;
  ofInput: HostTensor;
  ofRecon: HostTensor;
  dist: Float32Array;
  upsample: UpsamplePlan;
}

/** Every tensor and scratch plane one run of `batch` frames needs; allocated once, reused for every run. */
export interface RunBuffers {
  batch: number;
  latentSize: number;
  imageSize: number;
  x: HostTensor;
  mean: HostTensor;
  logvar: HostTensor;
  z: HostTensor;
  eps: HostTensor;
  zIn: HostTensor;
  t: HostTensor;
  recon: HostTensor;
  n1: Float32Array;
  n2: Float32Array;
  layers: FeatureLayer[];
  mapRaw: Float32Array;
  /** Per-frame sum of the raw maps over the draws (batch × map size). */
  mapSums: Float32Array;
  blur: BlurPlan;
  pool: PoolPlan;
}

function f32(dims: number[]): HostTensor {
  return { dtype: 'float32', data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims };
}

function timestepTensor(dtype: TensorDtype, batch: number): HostTensor {
  if (dtype === 'int64') return { dtype, data: new BigInt64Array(batch), dims: [batch] };
  if (dtype === 'int32') return { dtype, data: new Int32Array(batch), dims: [batch] };
  return { dtype: 'float32', data: new Float32Array(batch), dims: [batch] };
}

export function allocateRunBuffers(m: BundleManifest, batch: number): RunBuffers {
  const { width: W, height: H } = m.input;
  const { channels: C, height: h, width: w } = m.latent;
  const { mapWidth, mapHeight } = m.scoring;
  const lat = [batch, C, h, w];
  const layers = m.graphs.features.outputs.map((o): FeatureLayer => {
    const [, c, fh, fw] = o.shape as number[];
    return {
      name: o.name,
      channels: c,
      height: fh,
      width: fw,
      ofInput: f32([batch, c, fh, fw]),
      ofRecon: f32([batch, c, fh, fw]),
      dist: new Float32Array(fh * fw),
      upsample: planUpsample(fh, fw, mapHeight, mapWidth),
    };
  });
  return {
    batch,
    latentSize: C * h * w,
    imageSize: 3 * H * W,
    x: f32([batch, 3, H, W]),
    mean: f32(lat),
    logvar: f32(lat),
    z: f32(lat),
    eps: f32(lat),
    zIn: f32(lat),
    t: timestepTensor(m.graphs.denoiser.inputs[1].dtype, batch),
    recon: f32([batch, 3, H, W]),
    n1: new Float32Array(C * h * w),
    n2: new Float32Array(C * h * w),
    layers,
    mapRaw: new Float32Array(mapWidth * mapHeight),
    mapSums: new Float32Array(batch * mapWidth * mapHeight),
    blur: planGaussianBlur(mapHeight, mapWidth, m.scoring.sigma, m.scoring.truncate),
    pool: planPoolScore(mapHeight, mapWidth, m.scoring.poolKernel, m.scoring.poolRounds),
  };
}
