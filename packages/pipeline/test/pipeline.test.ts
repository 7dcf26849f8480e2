import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrtBackend } from '../src/backend/ort-backend.js';
import {
  DiadPipeline,
  fillNormal,
  type InferenceBackend,
  planPoolScore,
  poolScore,
  type RawFrame,
  seededNoise,
  Xoshiro128,
} from '../src/index.js';
import { SpyBackend } from './helpers/spy-backend.js';
import { writeTinyBundle } from './helpers/tiny-bundle.js';
import { referenceRun } from './helpers/tiny-reference.js';

let root: string;
let dynDir: string;
let fixedDir: string;

function frame(seed: number): RawFrame {
  const data = new Uint8Array(32 * 32 * 3);
  let s = seed * 7919 + 13;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    // smooth gradient plus noise, so features vary across the image
    data[i] = (((i / 3) % 32) * 4 + (s % 64)) & 255;
  }
  return { data, width: 32, height: 32, channels: 3 };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'diad-pipeline-'));
  dynDir = join(root, 'dyn');
  fixedDir = join(root, 'fixed');
  await writeTinyBundle(dynDir);
  await writeTinyBundle(fixedDir, { batch: 1 });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('DiadPipeline on real ONNX Runtime sessions (tiny hand-made graphs)', () => {
  it('reproduces an independent float64 computation of the whole run (seeded noise)', async () => {
    const p = await DiadPipeline.create(dynDir);
    try {
      const f = frame(1);
      const out = await p.inspect(f, { seed: 5, keepTensors: true });
      const n1 = new Float32Array(64);
      const n2 = new Float32Array(64);
      seededNoise(5, n1, n2);
      const ref = referenceRun(f.data, n1, n2, { startStep: 299, steps: 3 });
      expect(maxAbsDiff(out.input!, ref.x)).toBeLessThan(1e-5);
      expect(maxAbsDiff(out.reconstruction!, ref.recon)).toBeLessThan(1e-5);
      expect(maxAbsDiff(out.map, ref.map)).toBeLessThan(1e-5);
      expect(Math.abs(out.score - ref.score) / ref.score).toBeLessThan(1e-5);
      expect(out.score).toBeGreaterThan(0.01); // the reconstruction really differs from the input
      expect(out.mapWidth).toBe(32);
      expect(out.mapHeight).toBe(32);
      expect(out.provider).toBe('cpu');
      expect(out.model).toEqual({ name: 'tiny-test', version: '0.0.1', sha256: p.bundleSha256 });
    } finally {
      await p.close();
    }
  });

  it('loads graphs whose weights are ONNX external data (sidecar files, as large models need)', async () => {
    const dir = join(root, 'external');
    const m = await writeTinyBundle(dir, { externalData: true });
    expect(Object.keys(m.files)).toContain('denoiser.onnx.data');
    const p = await DiadPipeline.create(dir);
    try {
      const f = frame(1);
      const n1 = new Float32Array(64);
      const n2 = new Float32Array(64);
      seededNoise(5, n1, n2);
      const ref = referenceRun(f.data, n1, n2, { startStep: 299, steps: 3 });
      const out = await p.inspect(f, { seed: 5 });
      expect(maxAbsDiff(out.map, ref.map)).toBeLessThan(1e-5);
    } finally {
      await p.close();
    }
  });

  it('injected noise, step overrides and autoencoder mode all match the reference', async () => {
    const p = await DiadPipeline.create(dynDir);
    try {
      const f = frame(2);
      const n1 = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
      const n2 = Float32Array.from({ length: 64 }, (_, i) => Math.cos(3 * i));
      const a = await p.inspect(f, { noise: { n1, n2 }, steps: 5, startStep: 499 });
      const ra = referenceRun(f.data, n1, n2, { startStep: 499, steps: 5 });
      expect(maxAbsDiff(a.map, ra.map)).toBeLessThan(1e-5);
      expect(a.score).toBeCloseTo(ra.score, 5);
      const b = await p.inspect(f, { noise: { n1, n2 } });
      const rb = referenceRun(f.data, n1, n2, { startStep: 299, steps: 3 });
      expect(b.score).toBeCloseTo(rb.score, 5);
      expect(b.score).not.toBeCloseTo(a.score, 5);
      const ae = await p.inspect(f, { mode: 'autoencoder' });
      const rae = referenceRun(f.data, n1, n2, { startStep: 0, steps: 1, mode: 'autoencoder' });
      expect(maxAbsDiff(ae.map, rae.map)).toBeLessThan(1e-5);
    } finally {
      await p.close();
    }
  });

  it('same seed gives the same result, another seed another; verdict, mask and normalised score agree', async () => {
    const p = await DiadPipeline.create(dynDir);
    try {
      const f = frame(3);
      const a = await p.inspect(f, { seed: 1 });
      const b = await p.inspect(f, { seed: 1 });
      const c = await p.inspect(f, { seed: 2 });
      expect(b.score).toBe(a.score);
      expect(b.map).toEqual(a.map);
      expect(c.score).not.toBe(a.score);
      const lo = await p.inspect(f, { seed: 1, thresholds: { image: a.score + 1e-6, pixel: 1e9 } });
      expect(lo.verdict).toBe('OK');
      expect(lo.normalizedScore).toBeLessThan(0.5);
      expect(lo.defectAreaPx).toBe(0);
      const hi = await p.inspect(f, { seed: 1, thresholds: { image: a.score, pixel: -1 } });
      expect(hi.verdict).toBe('NOK');
      expect(hi.normalizedScore).toBe(0.5);
      expect(hi.defectAreaPx).toBe(32 * 32);
      expect(hi.mask.every((v) => v === 1)).toBe(true);
      for (const k of [
        'decode',
        'preprocess',
        'encode',
        'denoise',
        'decode_latent',
        'features',
        'map',
        'total',
        'inference',
      ]) {
        expect(hi.timingsMs[k], k).toBeGreaterThanOrEqual(0);
      }
      expect(hi.timingsMs.total).toBeGreaterThanOrEqual(hi.timingsMs.inference);
    } finally {
      await p.close();
    }
  });

  it('draws: averages the anomaly maps of several reconstructions, noise pairs taken in order from one stream', async () => {
    const p = await DiadPipeline.create(dynDir);
    try {
      const f = frame(4);
      const out = await p.inspect(f, { seed: 7, draws: 3, keepTensors: true });
      const rng = new Xoshiro128(7);
      const pairs = [0, 1, 2].map(() => ({
        n1: fillNormal(rng, new Float32Array(64)),
        n2: fillNormal(rng, new Float32Array(64)),
      }));
      const refs = pairs.map(({ n1, n2 }) => referenceRun(f.data, n1, n2, { startStep: 299, steps: 3 }));
      // The blur is linear, so the blurred mean of the raw maps is the mean of the blurred maps.
      const meanMap = refs[0].map.map((_, k) => (refs[0].map[k] + refs[1].map[k] + refs[2].map[k]) / 3);
      expect(maxAbsDiff(out.map, meanMap)).toBeLessThan(1e-5);
      const { mapHeight, mapWidth, poolKernel, poolRounds } = p.manifest.scoring;
      const expected = poolScore(
        Float32Array.from(meanMap),
        planPoolScore(mapHeight, mapWidth, poolKernel, poolRounds),
      );
      expect(out.score).toBeCloseTo(expected, 5);
      // The averaged score is none of the single-draw scores, and the first draw is the one-draw run.
      for (const r of refs) expect(out.score).not.toBeCloseTo(r.score, 4);
      const one = await p.inspect(f, { seed: 7, keepTensors: true });
      expect(one.score).toBeCloseTo(refs[0].score, 5);
      expect(maxAbsDiff(out.reconstruction!, one.reconstruction!)).toBe(0);
      const injected = await p.inspect(f, { noise: pairs });
      expect(injected.score).toBe(out.score);
    } finally {
      await p.close();
    }
  });

  it("draws: sampler.draws of the manifest is the default; a frame's draws share one denoiser, decoder and features call", async () => {
    const dir = join(root, 'draws2');
    await writeTinyBundle(dir, { editManifest: (m) => ((m.sampler as { draws?: number }).draws = 2) });
    const spy = new SpyBackend();
    const p = await DiadPipeline.create(dir, { backend: spy, warmup: false });
    const plain = await DiadPipeline.create(dynDir);
    try {
      const f = frame(5);
      const a = await p.inspect(f, { seed: 3 });
      const b = await plain.inspect(f, { seed: 3, draws: 2 });
      expect(a.score).toBeCloseTo(b.score, 6);
      const count = (file: string) => spy.runs.filter((r) => r.file === file).length;
      expect(count('encoder.onnx')).toBe(1);
      expect(count('denoiser.onnx')).toBe(3); // 3 steps, both draws in each call
      expect(count('decoder.onnx')).toBe(1);
      expect(count('features.onnx')).toBe(2); // the input once, both reconstructions in one call
      const rows = (file: string) =>
        spy.runs.filter((r) => r.file === file).map((r) => Object.values(r.feeds)[0].dims[0]);
      expect(rows('denoiser.onnx')).toEqual([2, 2, 2]);
      expect(rows('features.onnx')).toEqual([1, 2]);
      spy.runs.length = 0;
      await p.inspect(f, { mode: 'autoencoder' });
      expect(count('decoder.onnx')).toBe(1); // the autoencoder has no noise to average
      expect(count('denoiser.onnx')).toBe(0);
      spy.runs.length = 0;
      await p.inspect(f, { draws: 1 });
      expect(count('decoder.onnx')).toBe(1);
    } finally {
      await p.close();
      await plain.close();
    }
  });

  it('draws: batched draws give the scores and maps of draws run one after another (several frames, 3 and 5 draws)', async () => {
    const spy = new SpyBackend();
    const batched = await DiadPipeline.create(dynDir, { warmup: false, backend: spy });
    const oneByOne = await DiadPipeline.create(dynDir, { warmup: false, drawsPerCall: 1 });
    const capped = await DiadPipeline.create(dynDir, { warmup: false, drawsPerCall: 2 });
    try {
      const frames = [frame(2), frame(7), frame(9)];
      for (const opts of [
        { seed: 11, draws: 3 },
        { seed: 4, draws: 5 },
      ]) {
        const a = await batched.runBatch(frames, opts);
        const b = await oneByOne.runBatch(frames, opts);
        const c = await capped.runBatch(frames, opts);
        for (let i = 0; i < frames.length; i++) {
          expect(a[i].score).toBeCloseTo(b[i].score, 6);
          expect(c[i].score).toBeCloseTo(b[i].score, 6);
          let max = 0;
          for (let k = 0; k < a[i].map.length; k++) max = Math.max(max, Math.abs(a[i].map[k] - b[i].map[k]));
          expect(max).toBeLessThanOrEqual(1e-6);
        }
      }
      const rows = spy.runs.filter((r) => r.file === 'denoiser.onnx').map((r) => r.feeds.z_t.dims[0]);
      // 3 frames x 3 draws in one call; 3 x 5 = 15 rows fit in the default 16-row limit
      expect(new Set(rows)).toEqual(new Set([9, 15]));
      await expect(DiadPipeline.create(dynDir, { drawsPerCall: 0 })).rejects.toThrow(
        /^drawsPerCall: expected/,
      );
    } finally {
      await batched.close();
      await oneByOne.close();
      await capped.close();
    }
  });

  it('draws: out-of-range counts and noise that does not match them are refused, naming the option', async () => {
    const p = await DiadPipeline.create(dynDir, { warmup: false });
    try {
      const n = () => ({ n1: new Float32Array(64), n2: new Float32Array(64) });
      for (const draws of [0, 65, 1.5, Number.NaN]) {
        await expect(p.inspect(frame(1), { draws })).rejects.toThrow(RangeError);
        await expect(p.inspect(frame(1), { draws })).rejects.toThrow(
          /^draws: expected an integer in \[1, 64\]/,
        );
      }
      await expect(p.inspect(frame(1), { draws: 2, noise: n() })).rejects.toThrow(
        /noise: expected 2 pair\(s\) of n1, n2 \(one per draw\), got 1/,
      );
      await expect(
        p.inspect(frame(1), {
          draws: 2,
          noise: [n(), { n1: new Float32Array(64), n2: new Float32Array(3) }],
        }),
      ).rejects.toThrow(/noise\[1\]\.n2: expected 64 values/);
    } finally {
      await p.close();
    }
  });

  it('reuses the same tensors for every frame (allocated once per session)', async () => {
    const spy = new SpyBackend();
    const p = await DiadPipeline.create(dynDir, { backend: spy, warmup: false });
    try {
      await p.inspect(frame(1));
      await p.inspect(frame(2));
      const den = spy.runs.filter((r) => r.file === 'denoiser.onnx');
      expect(den.length).toBe(6); // 3 steps x 2 frames
      expect(new Set(den.map((r) => r.feeds.z_t.data.buffer)).size).toBe(1);
      expect(new Set(den.map((r) => r.outputs.eps.data.buffer)).size).toBe(1);
      const enc = spy.runs.filter((r) => r.file === 'encoder.onnx');
      expect(enc[0].feeds.image.data.buffer).toBe(enc[1].feeds.image.data.buffer);
    } finally {
      await p.close();
    }
  });

  it('runBatch uses the dynamic batch axis and equals frame-by-frame results', async () => {
    const spy = new SpyBackend();
    const p = await DiadPipeline.create(dynDir, { backend: spy, maxBatch: 2 });
    try {
      expect(p.dynamicBatch).toBe(true);
      const frames = [frame(1), frame(2), frame(3)];
      spy.runs.length = 0;
      const batch = await p.runBatch(frames, { seed: 9 });
      const dims = spy.runs.filter((r) => r.file === 'denoiser.onnx').map((r) => r.feeds.z_t.dims[0]);
      expect(dims).toEqual([2, 2, 2, 1, 1, 1]);
      for (let i = 0; i < frames.length; i++) {
        const single = await p.inspect(frames[i], { seed: 9 });
        expect(batch[i].score).toBeCloseTo(single.score, 6);
        expect(maxAbsDiff(batch[i].map, single.map)).toBeLessThan(1e-6);
      }
    } finally {
      await p.close();
    }
  });

  it('a bundle with a fixed batch of 1 runs batches frame by frame', async () => {
    const spy = new SpyBackend();
    const p = await DiadPipeline.create(fixedDir, { backend: spy });
    try {
      expect(p.dynamicBatch).toBe(false);
      spy.runs.length = 0;
      const out = await p.runBatch([frame(1), frame(2)], { seed: 3 });
      expect(out).toHaveLength(2);
      expect(spy.runs.every((r) => Object.values(r.feeds).every((t) => t.dims[0] === 1))).toBe(true);
    } finally {
      await p.close();
    }
  });

  it('is safe to share between cameras: concurrent inspections equal sequential ones', async () => {
    const p = await DiadPipeline.create(dynDir);
    try {
      const frames = [1, 2, 3, 4, 5, 6].map(frame);
      const sequential = [];
      for (const f of frames) sequential.push(await p.inspect(f, { seed: 4 }));
      const concurrent = await Promise.all(frames.map((f) => p.inspect(f, { seed: 4 })));
      concurrent.forEach((c, i) => {
        expect(c.score).toBe(sequential[i].score);
        expect(c.map).toEqual(sequential[i].map);
      });
    } finally {
      await p.close();
    }
  });

  it('falls back from an unavailable provider to the next, logging why', async () => {
    const warns: { o: object; msg?: string }[] = [];
    const logger = { info() {}, warn: (o: object, msg?: string) => warns.push({ o, msg }) };
    const p = await DiadPipeline.create(dynDir, { providers: ['cuda', 'cpu'], logger });
    try {
      expect(p.provider).toBe('cpu');
      expect(warns).toHaveLength(1);
      expect(warns[0].o).toMatchObject({ provider: 'cuda' });
      expect(String((warns[0].o as { reason: string }).reason)).toMatch(
        /encoder.*(cuda|CUDA|shared library)/i,
      );
      expect((await p.inspect(frame(1))).provider).toBe('cpu');
    } finally {
      await p.close();
    }
  });

  it('keys the TensorRT engine cache by bundle and device, says what Node cannot set, then falls back', async () => {
    const warns: { o: object; msg?: string }[] = [];
    const cache = join(root, 'engines');
    const p = await DiadPipeline.create(dynDir, {
      providers: ['tensorrt', 'cpu'],
      tensorrtFp16: true,
      engineCacheDir: cache,
      cudaDeviceId: 1,
      logger: { info() {}, warn: (o, msg) => warns.push({ o, msg }) },
    });
    try {
      expect(p.provider).toBe('cpu');
      expect(existsSync(join(cache, p.bundleSha256, 'cuda1'))).toBe(true);
      expect(warns[0].msg).toMatch(/only deviceId/);
      expect(warns[0].o).toMatchObject({ fp16: true, engineCacheDir: join(cache, p.bundleSha256, 'cuda1') });
      expect(warns[1].o).toMatchObject({ provider: 'tensorrt' });
    } finally {
      await p.close();
    }
  });

  it('falls back when a provider loads but fails its warm-up run', async () => {
    const inner = new OrtBackend();
    const flaky: InferenceBackend = {
      async createSession(file, config) {
        const s = await inner.createSession(file, { ...config, provider: 'cpu' });
        if (config.provider !== 'cuda') return s;
        return {
          inputs: s.inputs,
          outputs: s.outputs,
          run: () => Promise.reject(new Error('CUDA out of memory')),
          release: () => s.release(),
        };
      },
    };
    const warns: object[] = [];
    const p = await DiadPipeline.create(dynDir, {
      providers: ['cuda', 'cpu'],
      backend: flaky,
      logger: { info() {}, warn: (o: object) => warns.push(o) },
    });
    try {
      expect(p.provider).toBe('cpu');
      expect(warns).toEqual([{ provider: 'cuda', reason: 'warm-up failed: CUDA out of memory' }]);
    } finally {
      await p.close();
    }
  });

  it('accepts thread, optimisation and spinning settings', async () => {
    const p = await DiadPipeline.create(dynDir, {
      threads: 1,
      graphOptimization: 'basic',
      allowSpinning: true,
    });
    try {
      expect(Number.isFinite((await p.inspect(frame(1))).score)).toBe(true);
    } finally {
      await p.close();
    }
  });

  it('fails with every reason when no provider loads, and rejects bad options', async () => {
    await expect(DiadPipeline.create(dynDir, { providers: ['tensorrt', 'cuda'] })).rejects.toThrow(
      /no execution provider.*tensorrt:.*cuda:/s,
    );
    await expect(DiadPipeline.create(dynDir, { providers: ['gpu' as never] })).rejects.toThrow(RangeError);
    await expect(DiadPipeline.create(dynDir, { threads: -1 })).rejects.toThrow(/threads/);
  });

  it('checks per-call options at the boundary', async () => {
    const p = await DiadPipeline.create(dynDir, { warmup: false });
    try {
      await expect(p.inspect(frame(1), { steps: 0 })).rejects.toThrow(/steps/);
      await expect(p.inspect(frame(1), { startStep: 1000 })).rejects.toThrow(/startStep/);
      await expect(p.inspect(frame(1), { seed: -3 })).rejects.toThrow(/seed/);
      await expect(
        p.inspect(frame(1), { noise: { n1: new Float32Array(3), n2: new Float32Array(64) } }),
      ).rejects.toThrow(/noise\.n1.*64/);
      await expect(
        p.inspect({ data: new Uint8Array(5), width: 32, height: 32, channels: 3 }),
      ).rejects.toThrow(/frame\.data/);
    } finally {
      await p.close();
    }
    await expect(p.inspect(frame(1))).rejects.toThrow(/closed/);
  });

  it('refuses to give a verdict when the graphs produce NaN', async () => {
    const p = await DiadPipeline.create(dynDir, { warmup: false });
    try {
      const n1 = new Float32Array(64).fill(Number.NaN);
      await expect(p.inspect(frame(1), { noise: { n1, n2: new Float32Array(64) } })).rejects.toThrow(
        /non-finite values/,
      );
      // the pipeline stays usable
      expect(Number.isFinite((await p.inspect(frame(1))).score)).toBe(true);
    } finally {
      await p.close();
    }
  });

  it('accepts encoded images and draws a heatmap PNG of the map size', async () => {
    const p = await DiadPipeline.create(dynDir);
    try {
      const f = frame(1);
      const png = await sharp(f.data, { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toBuffer();
      const fromPng = await p.inspect(png, { seed: 1 });
      const fromRaw = await p.inspect(f, { seed: 1 });
      expect(fromPng.score).toBe(fromRaw.score);
      const heat = await p.heatmapPng(png, fromPng);
      const meta = await sharp(heat).metadata();
      expect(meta.format).toBe('png');
      expect([meta.width, meta.height, meta.channels]).toEqual([32, 32, 3]);
    } finally {
      await p.close();
    }
  });
});
