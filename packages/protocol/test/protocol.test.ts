import { InspectionResult, parseManifest, topics, UUID_RE, uuidv7 } from '@diad/protocol';
import { describe, expect, it } from 'vitest';

const sha = 'a'.repeat(64);
const graph = (file: string) => ({
  file,
  opset: 17,
  inputs: [{ name: 'x', shape: ['batch', 3, 256, 256], dtype: 'float32' }],
  outputs: [{ name: 'y', shape: ['batch', 4, 32, 32], dtype: 'float32' }],
});
export const validManifest = () => ({
  format: 'diad-bundle',
  formatVersion: 1,
  model: { name: 'diad-test', version: '1.0.0', created: '2026-11-28T16:00:00Z' },
  source: {},
  input: { width: 256, height: 256, channels: 3, channelOrder: 'RGB', mean: [0, 0, 0], std: [1, 1, 1] },
  latent: { channels: 4, height: 32, width: 32, scale: 0.18215 },
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
    mapWidth: 256,
    mapHeight: 256,
    upsample: 'bilinear-align-corners',
    sigma: 5,
    poolKernel: 8,
    poolRounds: 8,
  },
  calibration: { imageThreshold: 0.5, pixelThreshold: 0.5 },
  files: Object.fromEntries(
    ['encoder.onnx', 'denoiser.onnx', 'decoder.onnx', 'features.onnx'].map((f) => [
      f,
      { sha256: sha, bytes: 1 },
    ]),
  ),
});

describe('parseManifest', () => {
  it('accepts a valid manifest and fills defaults', () => {
    const m = parseManifest(validManifest());
    expect(m.scoring.truncate).toBe(4);
    expect(m.input.resize).toBe('bilinear');
  });
  it('names the failing key', () => {
    const bad = validManifest();
    (bad.model as { version: string }).version = 'one';
    expect(() => parseManifest(bad)).toThrow(/model\.version: expected a semantic version/);
  });
  it('rejects a graph file missing from files', () => {
    const bad = validManifest();
    delete (bad.files as Record<string, unknown>)['decoder.onnx'];
    expect(() => parseManifest(bad)).toThrow(/graphs\.decoder\.file/);
  });
  it('accepts fp16 graphs and a TensorRT EP-context variant whose files are listed', () => {
    const v = validManifest() as ReturnType<typeof validManifest> & { variants?: unknown[] };
    (v.graphs.denoiser as Record<string, unknown>).precision = 'fp16';
    const file = 'variants/trt-sm87-trt10.3-fp16/denoiser.onnx';
    (v.files as Record<string, unknown>)[file] = { sha256: sha, bytes: 9 };
    v.variants = [
      {
        name: 'trt-sm87-trt10.3-fp16',
        provider: 'tensorrt',
        computeCapability: '8.7',
        tensorrtVersion: '10.3.0',
        precision: 'fp16',
        graphs: { denoiser: { ...graph(file), precision: 'fp16' } },
      },
    ];
    const m = parseManifest(v);
    expect(m.graphs.denoiser.precision).toBe('fp16');
    expect(m.variants?.[0].graphs.denoiser?.file).toBe(file);
    expect(() =>
      parseManifest({
        ...v,
        graphs: { ...v.graphs, decoder: { ...graph('decoder.onnx'), precision: 'fp8' } },
      }),
    ).toThrow(/graphs\.decoder\.precision/);
  });
  it('rejects a start step beyond the schedule', () => {
    const bad = validManifest();
    bad.sampler.startStep = 1000;
    expect(() => parseManifest(bad)).toThrow(RangeError);
  });
});

describe('uuidv7', () => {
  it('encodes the timestamp first so ids sort by time', () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    expect(a).toMatch(UUID_RE);
    expect(a[14]).toBe('7');
    expect(a < b).toBe(true);
    expect(a.slice(0, 13)).toBe('018bcfe5-6800');
  });
});

describe('InspectionResult', () => {
  it('rejects a topic-breaking station id', () => {
    const r = InspectionResult.safeParse({ station: 'a/b' });
    expect(r.success).toBe(false);
  });
  it('builds v1 topics', () => {
    expect(topics.result({ site: 's', line: 'l', station: 'st' })).toBe('diad/s/l/st/result');
  });
});
