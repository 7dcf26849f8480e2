/** The only module of the repository that imports onnxruntime-node. */
import * as ort from 'onnxruntime-node';
import type { GraphSession, HostTensor, InferenceBackend, SessionConfig, ValueInfo } from './types.js';

function providerConfig(c: SessionConfig): ort.InferenceSession.ExecutionProviderConfig {
  switch (c.provider) {
    case 'cpu':
      return 'cpu';
    case 'cuda':
      return { name: 'cuda', deviceId: c.cudaDeviceId ?? 0 };
    case 'webgpu':
      // Bundled in the linux/x64, win32 and darwin binaries (Dawn); it picks the adapter itself.
      return { name: 'webgpu' };
    case 'tensorrt':
      // onnxruntime-node 1.30 reads only deviceId for TensorRT; the trt_* keys are passed for a binding that reads
      // them and are otherwise ignored (README: "What the Node API cannot configure").
      return {
        name: 'tensorrt',
        deviceId: c.cudaDeviceId ?? 0,
        trt_fp16_enable: c.tensorrtFp16 ?? false,
        trt_engine_cache_enable: c.engineCacheDir !== undefined,
        trt_engine_cache_path: c.engineCacheDir,
      } as ort.InferenceSession.ExecutionProviderConfig;
  }
}

function toValueInfo(m: ort.InferenceSession.ValueMetadata | undefined, name: string): ValueInfo {
  if (!m?.isTensor) return { name };
  return { name, dtype: m.type, shape: m.shape.length > 0 ? [...m.shape] : undefined };
}

function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as ort.Tensor.DataType, t.dims);
}

function fromOrt(t: ort.OnnxValue): HostTensor {
  const tensor = t as ort.Tensor;
  return {
    dtype: tensor.type as HostTensor['dtype'],
    data: tensor.data as HostTensor['data'],
    dims: tensor.dims,
  };
}

class OrtGraphSession implements GraphSession {
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  constructor(private readonly session: ort.InferenceSession) {
    this.inputs = session.inputNames.map((n, i) => toValueInfo(session.inputMetadata?.[i], n));
    this.outputs = session.outputNames.map((n, i) => toValueInfo(session.outputMetadata?.[i], n));
  }

  async run(feeds: Record<string, HostTensor>, outputs: Record<string, HostTensor>) {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) f[k] = toOrt(v);
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const [k, v] of Object.entries(outputs)) fetches[k] = toOrt(v);
    const r = await this.session.run(f, fetches);
    const out: Record<string, HostTensor> = {};
    for (const [k, pre] of Object.entries(outputs)) {
      const got = fromOrt(r[k]);
      // The binding writes into preallocated outputs; copy defensively if it handed back another buffer.
      if (got.data !== pre.data && got.data.buffer !== pre.data.buffer)
        (pre.data as Float32Array).set(got.data as Float32Array);
      out[k] = pre;
    }
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

// ONNX Runtime's own logger writes straight to the process's stderr (e.g. a missing CUDA library while the
// pipeline falls back); the pipeline logs those reasons itself, through its logger.
ort.env.logLevel = 'fatal';

export class OrtBackend implements InferenceBackend {
  async createSession(file: string | Uint8Array, config: SessionConfig): Promise<GraphSession> {
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [providerConfig(config)],
      graphOptimizationLevel: config.graphOptimization ?? 'all',
      // Sessions run one graph call at a time (the pipeline serialises), so inter-op parallelism buys nothing.
      executionMode: 'sequential',
      logSeverityLevel: 3,
    };
    // Session config entries (onnxruntime_session_options_config_keys.h); the Node binding flattens `extra`.
    const spin = config.allowSpinning ? '1' : '0';
    options.extra = { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } };
    // The binding rejects keys that are present but undefined.
    if (config.threads !== undefined && config.threads > 0) options.intraOpNumThreads = config.threads;
    const session =
      typeof file === 'string'
        ? await ort.InferenceSession.create(file, options)
        : await ort.InferenceSession.create(file, options);
    return new OrtGraphSession(session);
  }
}
