import { identityOnnx } from './onnx.js';
import { makeTar, sha256 } from './tar.js';

const graph = (file: string) => ({
  file,
  opset: 17,
  inputs: [{ name: 'x', shape: ['batch', 3, 64, 64], dtype: 'float32' }],
  outputs: [{ name: 'y', shape: ['batch', 3, 64, 64], dtype: 'float32' }],
});

export function manifestFor(
  name: string,
  version: string,
  files: Record<string, Buffer>,
  imageThreshold = 0.5,
) {
  return {
    format: 'diad-bundle',
    formatVersion: 1,
    model: { name, version, created: '2026-11-28T16:00:00Z', description: `test model ${version}` },
    source: { config: 'test' },
    input: {
      width: 64,
      height: 64,
      channels: 3,
      channelOrder: 'RGB',
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      resize: 'bilinear',
    },
    latent: { channels: 4, height: 8, width: 8, scale: 0.18215 },
    schedule: { type: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012, trainSteps: 1000 },
    sampler: { type: 'ddim', eta: 0, startStep: 999, steps: 10 },
    graphs: {
      encoder: graph('encoder.onnx'),
      denoiser: graph('denoiser.onnx'),
      decoder: graph('decoder.onnx'),
      features: graph('features.onnx'),
    },
    features: { network: 'mobilenet_v2', layers: ['a', 'b', 'c'] },
    scoring: {
      mapWidth: 64,
      mapHeight: 64,
      upsample: 'bilinear-align-corners',
      sigma: 4,
      truncate: 4,
      poolKernel: 8,
      poolRounds: 1,
    },
    calibration: { imageThreshold, pixelThreshold: 0.3 },
    files: Object.fromEntries(
      Object.entries(files).map(([p, b]) => [p, { sha256: sha256(b), bytes: b.length }]),
    ),
  };
}

/** A well-formed bundle tar with small real ONNX graphs (Identity x → y, random padding); `tamper` changes a file after the manifest was written. */
export function makeBundle(
  name: string,
  version: string,
  opts: {
    folder?: string;
    tamper?: boolean;
    imageThreshold?: number;
    fileBytes?: number;
    /** Adds a TensorRT denoiser variant for this compute capability (docs/bundle.md, "Variants"). */
    tensorrtVariantFor?: string;
  } = {},
): Promise<Buffer> {
  const files: Record<string, Buffer> = {};
  for (const g of ['encoder', 'denoiser', 'decoder', 'features'])
    files[`${g}.onnx`] = identityOnnx(opts.fileBytes ?? 1500);
  const cc = opts.tensorrtVariantFor;
  if (cc) files[`denoiser.trt-sm${cc.replace('.', '')}.onnx`] = identityOnnx(opts.fileBytes ?? 1500);
  const manifest: Record<string, unknown> = manifestFor(name, version, files, opts.imageThreshold);
  if (cc)
    manifest.variants = [
      {
        name: `trt-sm${cc.replace('.', '')}-fp16`,
        provider: 'tensorrt',
        precision: 'fp16',
        computeCapability: cc,
        tensorrtVersion: '10.3.0',
        graphs: { denoiser: graph(`denoiser.trt-sm${cc.replace('.', '')}.onnx`) },
      },
    ];
  if (opts.tamper) files['decoder.onnx'][0] ^= 0xff;
  const pre = opts.folder ? `${opts.folder}/` : '';
  return makeTar([
    { path: `${pre}manifest.json`, data: JSON.stringify(manifest, null, 2) },
    ...Object.entries(files).map(([p, data]) => ({ path: `${pre}${p}`, data })),
    { path: `${pre}README.md`, data: 'notes' },
  ]);
}
