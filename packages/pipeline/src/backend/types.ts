/** The pipeline's view of an inference engine; only backend/ort-backend.ts knows ONNX Runtime. */

/** Execution providers in the order an agent prefers them. */
export type Provider = 'tensorrt' | 'cuda' | 'webgpu' | 'cpu';
export const PROVIDERS: readonly Provider[] = ['tensorrt', 'cuda', 'webgpu', 'cpu'];

export type TensorDtype = 'float32' | 'int64' | 'int32' | 'float16';
export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint16Array;

export interface HostTensor {
  dtype: TensorDtype;
  data: TensorData;
  dims: readonly number[];
}

export interface ValueInfo {
  name: string;
  /** Undefined when the runtime does not report it. */
  dtype?: string;
  /** Numbers for fixed axes, strings for symbolic ones; undefined when unknown. */
  shape?: ReadonlyArray<number | string>;
}

export interface GraphSession {
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /**
   * Runs the graph. `outputs` may hold preallocated tensors to write into (no allocation per call);
   * the returned map holds every requested output.
   */
  run(
    feeds: Record<string, HostTensor>,
    outputs: Record<string, HostTensor>,
  ): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

export interface SessionConfig {
  provider: Provider;
  threads?: number;
  cudaDeviceId?: number;
  tensorrtFp16?: boolean;
  /** Already keyed by bundle sha and device by the caller. */
  engineCacheDir?: string;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Let ORT's worker threads busy-wait between operators (default false). */
  allowSpinning?: boolean;
}

export interface InferenceBackend {
  /**
   * Creates a session for an .onnx file (or the model's bytes) on exactly the configured provider, or throws why
   * it cannot.
   */
  createSession(file: string | Uint8Array, config: SessionConfig): Promise<GraphSession>;
}
