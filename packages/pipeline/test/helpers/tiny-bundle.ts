/**
 * A tiny DiAD-shaped bundle of hand-made ONNX graphs (real ORT sessions, known arithmetic), written to a temp dir.
 *   encoder:  p = AvgPool8(x) [3,4,4]; mean = concat(p, p[0:1]); logvar = 0.5*mean − 2
 *   denoiser: eps = 0.1·z_t + 0.001·t + 0.05·concat(AvgPool8(hint), AvgPool8(hint)[2:3])
 *   decoder:  r = 2·tanh(nearest-upsample×8(z[0:3]))
 *   features: f0 = AvgPool2(x), f1 = AvgPool4(x), f2 = concat(AvgPool8(x), |AvgPool8(x)|)
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildModel, type Dim, type Initializer, type NodeSpec } from './onnx-builder.js';

// biome-ignore lint/suspicious/noExplicitAny: tests edit manifests freely, including into invalid shapes.
export type LooseManifest = Record<string, any>;

export const TINY = { size: 32, latent: 4, latentChannels: 4, scale: 0.5 } as const;

const i64 = (name: string, values: number[]): Initializer => ({
  name,
  dtype: 'int64',
  dims: [values.length],
  values,
});
const f32 = (name: string, v: number): Initializer => ({ name, dtype: 'float32', dims: [], values: [v] });
const pool = (k: number, inp: string, out: string): NodeSpec => ({
  op: 'AveragePool',
  inputs: [inp],
  outputs: [out],
  attrs: { kernel_shape: [k, k], strides: [k, k] },
});
const slice = (inp: string, from: string, to: string, out: string): NodeSpec => ({
  op: 'Slice',
  inputs: [inp, from, to, 'axis1'],
  outputs: [out],
});

export function tinyGraphs(
  batch: Dim = 'batch',
  externalData = false,
): Record<'encoder' | 'denoiser' | 'decoder' | 'features', Uint8Array> {
  const S = TINY.size;
  const img = (name: string) => ({ name, dtype: 'float32' as const, shape: [batch, 3, S, S] });
  const lat = (name: string) => ({ name, dtype: 'float32' as const, shape: [batch, 4, 4, 4] });
  const common = [i64('axis1', [1]), i64('c0', [0]), i64('c1', [1]), i64('c2', [2]), i64('c3', [3])];
  const encoder = buildModel({
    inputs: [img('image')],
    outputs: [lat('mean'), lat('logvar')],
    initializers: [...common, f32('half', 0.5), f32('minus2', -2)],
    nodes: [
      pool(8, 'image', 'p'),
      slice('p', 'c0', 'c1', 'p0'),
      { op: 'Concat', inputs: ['p', 'p0'], outputs: ['mean'], attrs: { axis: 1 } },
      { op: 'Mul', inputs: ['mean', 'half'], outputs: ['hm'] },
      { op: 'Add', inputs: ['hm', 'minus2'], outputs: ['logvar'] },
    ],
  });
  const denoiser = buildModel({
    inputs: [lat('z_t'), { name: 't', dtype: 'int64', shape: [batch] }, img('hint')],
    outputs: [lat('eps')],
    initializers: [
      ...common,
      externalData
        ? { ...f32('k01', 0.1), external: { location: 'denoiser.onnx.data', offset: 0 } }
        : f32('k01', 0.1),
      f32('k001', 0.001),
      f32('k005', 0.05),
      i64('shape_b111', [-1, 1, 1, 1]),
    ],
    nodes: [
      { op: 'Mul', inputs: ['z_t', 'k01'], outputs: ['a'] },
      { op: 'Cast', inputs: ['t'], outputs: ['tf'], attrs: { to: 1 } },
      { op: 'Reshape', inputs: ['tf', 'shape_b111'], outputs: ['t4'] },
      { op: 'Mul', inputs: ['t4', 'k001'], outputs: ['b'] },
      pool(8, 'hint', 'hp'),
      slice('hp', 'c2', 'c3', 'hp2'),
      { op: 'Concat', inputs: ['hp', 'hp2'], outputs: ['h4'], attrs: { axis: 1 } },
      { op: 'Mul', inputs: ['h4', 'k005'], outputs: ['c'] },
      { op: 'Add', inputs: ['a', 'b'], outputs: ['ab'] },
      { op: 'Add', inputs: ['ab', 'c'], outputs: ['eps'] },
    ],
  });
  const decoder = buildModel({
    inputs: [lat('z')],
    outputs: [img('image')],
    initializers: [
      ...common,
      { name: 'scales', dtype: 'float32', dims: [4], values: [1, 1, 8, 8] },
      f32('two', 2),
    ],
    nodes: [
      slice('z', 'c0', 'c3', 'z3'),
      {
        op: 'Resize',
        inputs: ['z3', '', 'scales'],
        outputs: ['up'],
        attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
      },
      { op: 'Tanh', inputs: ['up'], outputs: ['th'] },
      { op: 'Mul', inputs: ['th', 'two'], outputs: ['image'] },
    ],
  });
  const features = buildModel({
    inputs: [img('image')],
    outputs: [
      { name: 'f0', dtype: 'float32', shape: [batch, 3, 16, 16] },
      { name: 'f1', dtype: 'float32', shape: [batch, 3, 8, 8] },
      { name: 'f2', dtype: 'float32', shape: [batch, 6, 4, 4] },
    ],
    nodes: [
      pool(2, 'image', 'f0'),
      pool(4, 'image', 'f1'),
      pool(8, 'image', 'p8'),
      { op: 'Abs', inputs: ['p8'], outputs: ['a8'] },
      { op: 'Concat', inputs: ['p8', 'a8'], outputs: ['f2'], attrs: { axis: 1 } },
    ],
  });
  return { encoder, denoiser, decoder, features };
}

export function tinyManifest(batch: Dim = 'batch'): LooseManifest {
  const S = TINY.size;
  const img = (name: string) => ({ name, shape: [batch, 3, S, S], dtype: 'float32' });
  const lat = (name: string) => ({ name, shape: [batch, 4, 4, 4], dtype: 'float32' });
  return {
    format: 'diad-bundle',
    formatVersion: 1,
    model: { name: 'tiny-test', version: '0.0.1', created: '2026-11-28T16:00:00Z' },
    source: { config: 'hand-made test graphs' },
    input: {
      width: S,
      height: S,
      channels: 3,
      channelOrder: 'RGB',
      mean: [0.5, 0.4, 0.3],
      std: [0.25, 0.2, 0.3],
      resize: 'bilinear',
    },
    latent: { channels: 4, height: 4, width: 4, scale: TINY.scale },
    schedule: { type: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012, trainSteps: 1000 },
    sampler: { type: 'ddim', eta: 0, startStep: 299, steps: 3 },
    graphs: {
      encoder: {
        file: 'encoder.onnx',
        opset: 17,
        inputs: [img('image')],
        outputs: [lat('mean'), lat('logvar')],
      },
      denoiser: {
        file: 'denoiser.onnx',
        opset: 17,
        inputs: [lat('z_t'), { name: 't', shape: [batch], dtype: 'int64' }, img('hint')],
        outputs: [lat('eps')],
      },
      decoder: { file: 'decoder.onnx', opset: 17, inputs: [lat('z')], outputs: [img('image')] },
      features: {
        file: 'features.onnx',
        opset: 17,
        inputs: [img('image')],
        outputs: [
          { name: 'f0', shape: [batch, 3, 16, 16], dtype: 'float32' },
          { name: 'f1', shape: [batch, 3, 8, 8], dtype: 'float32' },
          { name: 'f2', shape: [batch, 6, 4, 4], dtype: 'float32' },
        ],
      },
    },
    features: { network: 'avgpool-pyramid', layers: ['p2', 'p4', 'p8'] },
    scoring: {
      mapWidth: S,
      mapHeight: S,
      upsample: 'bilinear-align-corners',
      sigma: 1.5,
      truncate: 4,
      poolKernel: 4,
      poolRounds: 2,
    },
    calibration: {
      normalScores: { count: 10, mean: 0.3, std: 0.05, p50: 0.3, p95: 0.38, p99: 0.4, max: 0.41 },
      imageThreshold: 0.5,
      pixelThreshold: 0.4,
    },
    files: {},
  };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Writes the tiny bundle; `edit` may change the manifest (after file hashes are filled in) or the files. */
export async function writeTinyBundle(
  dir: string,
  opts: {
    batch?: Dim;
    /** Put one denoiser weight in denoiser.onnx.data (listed in files like any other file). */
    externalData?: boolean;
    editManifest?: (m: LooseManifest) => void;
    editFiles?: (files: Record<string, Uint8Array>) => void;
  } = {},
): Promise<LooseManifest> {
  await mkdir(dir, { recursive: true });
  const graphs = tinyGraphs(opts.batch, opts.externalData);
  const manifest = tinyManifest(opts.batch);
  const files: Record<string, Uint8Array> = {};
  for (const [g, bytes] of Object.entries(graphs)) files[`${g}.onnx`] = bytes;
  if (opts.externalData) files['denoiser.onnx.data'] = new Uint8Array(Float32Array.of(0.1).buffer);
  for (const [name, bytes] of Object.entries(files))
    manifest.files[name] = { sha256: sha(bytes), bytes: bytes.length };
  opts.editManifest?.(manifest);
  opts.editFiles?.(files);
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}
