import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest } from '@diad/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrtBackend } from '../src/backend/ort-backend.js';
import type { GraphSession, InferenceBackend, SessionConfig } from '../src/backend/types.js';
import { chooseVariant, graphFiles } from '../src/bundle/variants.js';
import { DiadPipeline } from '../src/pipeline.js';
import { parseLdconfig, parseNvidiaSmi } from '../src/providers/host-facts.js';
import { formatProviderTable, plainOrtMessage, probeProviders } from '../src/providers/probe.js';
import {
  checkRequirements,
  type HostFacts,
  ORT_PROVIDER_LIBS,
  SYSTEM_LIBS,
} from '../src/providers/requirements.js';
import { type LooseManifest, tinyGraphs, writeTinyBundle } from './helpers/tiny-bundle.js';

/** An x86 box with an RTX 4090, CUDA 12, cuDNN 9, TensorRT 10.3 and ONNX Runtime's GPU providers installed. */
function gpuBox(over: Partial<HostFacts> = {}): HostFacts {
  const libs: Record<string, string | null> = {};
  for (const n of [...SYSTEM_LIBS.cuda, ...SYSTEM_LIBS.tensorrt, ...SYSTEM_LIBS.webgpu])
    libs[n] = `/usr/lib/${n}`;
  return {
    platform: 'linux',
    arch: 'x64',
    ortBinDir: '/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64',
    ortFiles: ['onnxruntime_binding.node', 'libonnxruntime.so.1', ...ORT_PROVIDER_LIBS.tensorrt],
    libraries: libs,
    nvidia: { kind: 'discrete', evidence: '/dev/nvidia0' },
    gpus: [{ name: 'NVIDIA GeForce RTX 4090', computeCapability: '8.9', driverVersion: '550.54' }],
    tensorrtVersion: '10.3.0',
    ...over,
  };
}

describe('provider requirements', () => {
  it('accepts every provider on a complete GPU box', () => {
    for (const p of ['tensorrt', 'cuda', 'webgpu', 'cpu'] as const)
      expect(checkRequirements(p, gpuBox()).ok).toBe(true);
  });

  it('names the missing system library (cuDNN) for cuda and tensorrt, not for webgpu', () => {
    const f = gpuBox();
    f.libraries = { ...f.libraries, 'libcudnn.so.9': null };
    const cuda = checkRequirements('cuda', f);
    expect(cuda.ok).toBe(false);
    expect(cuda.reason).toContain('libcudnn.so.9');
    expect(checkRequirements('tensorrt', f).reason).toContain('libcudnn.so.9');
    expect(checkRequirements('webgpu', f).ok).toBe(true);
  });

  it('names the TensorRT libraries when only CUDA is installed', () => {
    const f = gpuBox();
    f.libraries = { ...f.libraries, 'libnvinfer.so.10': null, 'libnvonnxparser.so.10': null };
    expect(checkRequirements('cuda', f).ok).toBe(true);
    const r = checkRequirements('tensorrt', f);
    expect(r.reason).toMatch(/libnvinfer\.so\.10, libnvonnxparser\.so\.10/);
  });

  it("says how to install ONNX Runtime's provider libraries when the install step was skipped", () => {
    const r = checkRequirements(
      'cuda',
      gpuBox({ ortFiles: ['onnxruntime_binding.node', 'libonnxruntime.so.1'] }),
    );
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('libonnxruntime_providers_cuda.so');
    expect(r.reason).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
  });

  it('points a Jetson (arm64) at the source build and has no WebGPU there', () => {
    const jetson = gpuBox({
      arch: 'arm64',
      nvidia: { kind: 'tegra', evidence: '/etc/nv_tegra_release' },
      ortFiles: ['onnxruntime_binding.node'],
    });
    expect(checkRequirements('tensorrt', jetson).reason).toContain('--use_cuda --use_tensorrt');
    expect(checkRequirements('webgpu', jetson).reason).toContain('linux/arm64');
  });

  it('refuses GPU providers without a GPU, or with every GPU hidden', () => {
    expect(
      checkRequirements('cuda', gpuBox({ nvidia: { kind: null, evidence: 'no /dev/nvidia0' } })).reason,
    ).toContain('no NVIDIA GPU visible');
    expect(checkRequirements('cuda', gpuBox({ cudaVisibleDevices: '' })).reason).toContain(
      'CUDA_VISIBLE_DEVICES',
    );
    expect(checkRequirements('cuda', gpuBox({ cudaVisibleDevices: '1' })).ok).toBe(true);
  });

  it('needs the Vulkan loader for WebGPU on Linux', () => {
    const f = gpuBox();
    f.libraries = { ...f.libraries, 'libvulkan.so.1': null };
    expect(checkRequirements('webgpu', f).reason).toContain('libvulkan.so.1');
  });
});

describe('host fact parsers', () => {
  it('reads the loader cache and nvidia-smi output', () => {
    const ld = parseLdconfig(
      "1234 libs found in cache `/etc/ld.so.cache'\n\tlibcudnn.so.9 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.9\n\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n",
    );
    expect(ld.get('libcudnn.so.9')).toBe('/usr/lib/x86_64-linux-gnu/libcudnn.so.9');
    expect(ld.size).toBe(2);
    expect(parseNvidiaSmi('NVIDIA H100 80GB HBM3, 9.0, 550.54.15\nTesla T4, [N/A], 470.1\n')).toEqual([
      { name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', driverVersion: '550.54.15' },
      { name: 'Tesla T4', computeCapability: undefined, driverVersion: '470.1' },
    ]);
  });

  it("keeps ONNX Runtime's sentence and drops its source location", () => {
    expect(
      plainOrtMessage(
        '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::X::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters',
      ),
    ).toBe('Failed to get a WebGPU adapter: No supported adapters');
    expect(plainOrtMessage('plain message')).toBe('plain message');
  });
});

/** Runs "GPU" providers on ONNX Runtime's CPU provider, failing where told: a stand-in for a GPU box. */
class FakeGpuBackend implements InferenceBackend {
  readonly created: Array<{ file: string; provider: string }> = [];
  private readonly ort = new OrtBackend();
  constructor(
    private readonly behaviour: Partial<Record<string, 'load-fails' | 'run-fails' | 'wrong'>> = {},
  ) {}

  async createSession(file: string | Uint8Array, config: SessionConfig): Promise<GraphSession> {
    const how = this.behaviour[config.provider];
    if (how === 'load-fails')
      throw new Error(`${config.provider}: libcublasLt.so.12: cannot open shared object file`);
    const s = await this.ort.createSession(file, { ...config, provider: 'cpu' });
    this.created.push({ file: typeof file === 'string' ? file : '<probe>', provider: config.provider });
    return {
      inputs: s.inputs,
      outputs: s.outputs,
      async run(feeds, outputs) {
        if (how === 'run-fails') throw new Error('CUDA error: out of memory');
        const r = await s.run(feeds, outputs);
        if (how === 'wrong') for (const t of Object.values(r)) (t.data as Float32Array).fill(42);
        return r;
      },
      release: () => s.release(),
    };
  }
}

describe('probeProviders', () => {
  it('runs the probe graph on the real CPU provider', async () => {
    const [cpu] = await probeProviders({ providers: ['cpu'], facts: gpuBox(), backend: new OrtBackend() });
    expect(cpu.status).toBe('ok');
    expect(cpu.warmupMs).toBeGreaterThanOrEqual(0);
  });

  it('reports unavailable, failed loads, failed runs and wrong results, each with its reason', async () => {
    const facts = gpuBox();
    facts.libraries = { ...facts.libraries, 'libvulkan.so.1': null };
    const checks = await probeProviders({
      providers: ['tensorrt', 'cuda', 'webgpu', 'cpu'],
      facts,
      backend: new FakeGpuBackend({ tensorrt: 'load-fails', cuda: 'run-fails' }),
    });
    expect(checks.map((c) => c.status)).toEqual(['failed', 'failed', 'unavailable', 'ok']);
    expect(checks[0].reason).toContain('libcublasLt.so.12');
    expect(checks[1].reason).toContain('out of memory');
    expect(checks[2].reason).toContain('libvulkan.so.1');
    const wrong = await probeProviders({
      providers: ['cuda'],
      facts: gpuBox(),
      backend: new FakeGpuBackend({ cuda: 'wrong' }),
    });
    expect(wrong[0]).toMatchObject({ status: 'failed' });
    expect(wrong[0].reason).toContain('wrong results');
    const table = formatProviderTable(checks, facts);
    expect(table.split('\n')[0]).toMatch(/^provider\s+status\s+warm-up\s+reason$/);
    expect(table).toMatch(/webgpu\s+unavailable\s+-\s+Vulkan loader not found/);
    expect(table).toContain('GPU: NVIDIA GeForce RTX 4090 (sm 8.9); TensorRT: 10.3.0');
  });

  it('gives a warm-up that hangs a deadline', async () => {
    const hanging: InferenceBackend = { createSession: () => new Promise(() => {}) };
    const [c] = await probeProviders({
      providers: ['cuda'],
      facts: gpuBox(),
      backend: hanging,
      timeoutMs: 50,
    });
    expect(c).toMatchObject({ status: 'failed' });
    expect(c.reason).toContain('longer than 50 ms');
  });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('bundle variants', () => {
  let root: string;
  let dir: string;
  const trtDenoiser = tinyGraphs().denoiser;
  function addVariants(m: LooseManifest) {
    m.files['denoiser.trt-sm89.onnx'] = { sha256: sha(trtDenoiser), bytes: trtDenoiser.length };
    m.variants = [
      {
        name: 'trt-sm89-fp16',
        provider: 'tensorrt',
        precision: 'fp16',
        computeCapability: '8.9',
        tensorrtVersion: '10.3.0',
        graphs: { denoiser: { ...m.graphs.denoiser, file: 'denoiser.trt-sm89.onnx' } },
      },
    ];
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'diad-variants-'));
    dir = join(root, 'b');
    await writeTinyBundle(dir, {
      editManifest: addVariants,
      editFiles: (f) => {
        f['denoiser.trt-sm89.onnx'] = trtDenoiser;
      },
    });
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('checks variant entries in the manifest', () => {
    const m = JSON.parse(JSON.stringify({ ...require_manifest() }));
    expect(() => parseManifest(m)).not.toThrow();
    m.variants[0].graphs.denoiser.file = 'missing.onnx';
    expect(() => parseManifest(m)).toThrow(
      /variants\.0\.graphs\.denoiser\.file: "missing\.onnx" is not listed/,
    );
    m.variants[0].graphs = {};
    expect(() => parseManifest(m)).toThrow(/variants\.0\.graphs: expected at least one graph/);
  });

  it('chooses the variant that matches the device, else says why not', () => {
    const m = parseManifest(require_manifest());
    const hit = chooseVariant(m, 'tensorrt', { computeCapability: '8.9', tensorrtVersion: '10.3.1' });
    expect(hit.variant?.name).toBe('trt-sm89-fp16');
    expect(graphFiles(m, hit.variant).denoiser).toBe('denoiser.trt-sm89.onnx');
    expect(graphFiles(m, hit.variant).encoder).toBe('encoder.onnx');
    expect(
      chooseVariant(m, 'tensorrt', { computeCapability: '8.7', tensorrtVersion: '10.3.0' }).rejected,
    ).toEqual(['variant trt-sm89-fp16 is for compute capability 8.9, the device is 8.7']);
    expect(
      chooseVariant(m, 'tensorrt', { computeCapability: '8.9', tensorrtVersion: '8.6.1' }).rejected[0],
    ).toContain('built with TensorRT 10.3.0, the device has 8.6.1');
    expect(chooseVariant(m, 'tensorrt', {}).rejected[0]).toContain("the device's is unknown");
    expect(chooseVariant(m, 'cuda', { computeCapability: '8.9' })).toEqual({ rejected: [] });
  });

  let manifestCache: unknown;
  function require_manifest(): unknown {
    return manifestCache;
  }
  beforeAll(async () => {
    const { readFile } = await import('node:fs/promises');
    manifestCache = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  });

  it("runs the matching variant's graphs on its provider and reports it", async () => {
    const backend = new FakeGpuBackend();
    const p = await DiadPipeline.create(dir, {
      providers: ['tensorrt', 'cpu'],
      backend,
      device: { computeCapability: '8.9', tensorrtVersion: '10.3.0' },
    });
    try {
      expect(p.providerReport).toMatchObject({
        provider: 'tensorrt',
        variant: 'trt-sm89-fp16',
        skipped: [],
        graphs: { denoiser: 'denoiser.trt-sm89.onnx', encoder: 'encoder.onnx' },
      });
      expect(backend.created.map((c) => c.file.split('/').pop())).toContain('denoiser.trt-sm89.onnx');
    } finally {
      await p.close();
    }
  });

  it('falls back to the plain graphs on another GPU, and to the next provider when warm-up fails', async () => {
    const other = await DiadPipeline.create(dir, {
      providers: ['tensorrt', 'cpu'],
      backend: new FakeGpuBackend(),
      device: { computeCapability: '8.7', tensorrtVersion: '10.3.0' },
    });
    try {
      expect(other.providerReport.variant).toBeNull();
      expect(other.providerReport.graphs.denoiser).toBe('denoiser.onnx');
      expect(other.providerReport.variantsRejected[0]).toContain('compute capability 8.9');
    } finally {
      await other.close();
    }
    const failing = await DiadPipeline.create(dir, {
      providers: ['tensorrt', 'cuda', 'cpu'],
      backend: new FakeGpuBackend({ tensorrt: 'load-fails', cuda: 'run-fails' }),
      device: { computeCapability: '8.9', tensorrtVersion: '10.3.0' },
    });
    try {
      expect(failing.provider).toBe('cpu');
      expect(failing.providerReport.skipped).toEqual([
        { provider: 'tensorrt', reason: expect.stringContaining('libcublasLt.so.12') },
        { provider: 'cuda', reason: expect.stringContaining('warm-up failed: CUDA error: out of memory') },
      ]);
    } finally {
      await failing.close();
    }
  });

  it('refuses a bundle whose variant graph does not match its recorded hash', async () => {
    const bad = join(root, 'tampered');
    await writeTinyBundle(bad, {
      editManifest: addVariants,
      editFiles: (f) => {
        const t = trtDenoiser.slice();
        t[t.length - 1] ^= 1;
        f['denoiser.trt-sm89.onnx'] = t;
      },
    });
    await expect(DiadPipeline.create(bad, { backend: new FakeGpuBackend() })).rejects.toThrow(
      /denoiser\.trt-sm89\.onnx/,
    );
  });
});
