/**
 * What each execution provider needs on the host, and the pure check of a host's facts against it. The facts are
 * gathered by host-facts.ts; keeping this part pure lets tests describe any machine (a Jetson, a box without cuDNN,
 * a laptop) without owning one.
 */
import type { Provider } from '../backend/types.js';

export type GpuKind = 'discrete' | 'tegra';

export interface GpuInfo {
  name: string;
  /** "8.9", "8.7": what TensorRT engines are compiled for. */
  computeCapability?: string;
  driverVersion?: string;
}

export interface HostFacts {
  platform: string;
  arch: string;
  /** Folder of onnxruntime-node's native binding, or null when it could not be found. */
  ortBinDir: string | null;
  /** File names present in ortBinDir. */
  ortFiles: readonly string[];
  /** Shared library name → where it was found, or null. */
  libraries: Readonly<Record<string, string | null>>;
  /** Evidence of an NVIDIA GPU: device nodes or the Tegra release file. */
  nvidia: { kind: GpuKind | null; evidence: string };
  gpus: readonly GpuInfo[];
  /** TensorRT version from the library's file name (libnvinfer.so.10.3.0 → "10.3.0"), if found. */
  tensorrtVersion?: string;
  /** CUDA_VISIBLE_DEVICES as set, when set. */
  cudaVisibleDevices?: string;
}

/** ONNX Runtime's provider libraries that the package's install step places beside the binding. */
export const ORT_PROVIDER_LIBS: Readonly<Record<'cuda' | 'tensorrt', readonly string[]>> = {
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  tensorrt: [
    'libonnxruntime_providers_shared.so',
    'libonnxruntime_providers_cuda.so',
    'libonnxruntime_providers_tensorrt.so',
  ],
};

/**
 * System libraries each GPU provider loads (ONNX Runtime 1.30's CUDA 12 build): CUDA runtime and cuBLAS, cuDNN 9,
 * cuFFT, the driver's libcuda; TensorRT 10 adds nvinfer, its plugins and the ONNX parser.
 */
export const SYSTEM_LIBS: Readonly<Record<'cuda' | 'tensorrt' | 'webgpu', readonly string[]>> = {
  cuda: [
    'libcuda.so.1',
    'libcudart.so.12',
    'libcublas.so.12',
    'libcublasLt.so.12',
    'libcufft.so.11',
    'libcudnn.so.9',
  ],
  tensorrt: ['libnvinfer.so.10', 'libnvinfer_plugin.so.10', 'libnvonnxparser.so.10'],
  webgpu: ['libvulkan.so.1'],
};

/** Every library name host-facts.ts should look for. */
export function librariesToFind(): string[] {
  return [...new Set([...SYSTEM_LIBS.cuda, ...SYSTEM_LIBS.tensorrt, ...SYSTEM_LIBS.webgpu])];
}

/** Platforms whose onnxruntime-node binary bundles the WebGPU provider (Dawn). linux/arm64's does not. */
const WEBGPU_PLATFORMS = new Set(['linux/x64', 'win32/x64', 'win32/arm64', 'darwin/arm64', 'darwin/x64']);

function missing(names: readonly string[], present: (n: string) => boolean): string[] {
  return names.filter((n) => !present(n));
}

/**
 * Whether a provider can be tried on this host; `reason` says what is missing (the user's next step) when not.
 * Passing this check is necessary, not sufficient: the warm-up run decides.
 */
export function checkRequirements(provider: Provider, f: HostFacts): { ok: boolean; reason?: string } {
  if (provider === 'cpu') return { ok: true };
  const lib = (n: string) => f.libraries[n] != null;
  if (provider === 'webgpu') {
    if (!WEBGPU_PLATFORMS.has(`${f.platform}/${f.arch}`))
      return {
        ok: false,
        reason: `onnxruntime-node for ${f.platform}/${f.arch} is built without the WebGPU provider`,
      };
    if (f.platform === 'linux') {
      const gone = missing(SYSTEM_LIBS.webgpu, lib);
      if (gone.length)
        return {
          ok: false,
          reason: `Vulkan loader not found (${gone.join(', ')}); install the GPU's Vulkan driver`,
        };
    }
    return { ok: true };
  }
  // cuda and tensorrt
  if (f.platform !== 'linux' && f.platform !== 'win32')
    return { ok: false, reason: `NVIDIA providers are not available on ${f.platform}` };
  if (!f.nvidia.kind) return { ok: false, reason: `no NVIDIA GPU visible (${f.nvidia.evidence})` };
  if (f.cudaVisibleDevices !== undefined && /^\s*(-1)?\s*$/.test(f.cudaVisibleDevices))
    return { ok: false, reason: `CUDA_VISIBLE_DEVICES="${f.cudaVisibleDevices}" hides every GPU` };
  const ortGone = missing(ORT_PROVIDER_LIBS[provider], (n) => f.ortFiles.includes(n));
  if (ortGone.length) {
    const where = f.ortBinDir ?? "onnxruntime-node's binding folder";
    const how =
      f.arch === 'arm64'
        ? 'build onnxruntime-node with --use_cuda --use_tensorrt for this device (docs/gpu.md, Jetson)'
        : 'run the onnxruntime-node install step with ONNXRUNTIME_NODE_INSTALL=cuda12 (docs/gpu.md)';
    return {
      ok: false,
      reason: `ONNX Runtime's ${provider} provider is not installed: ${ortGone.join(', ')} missing in ${where}; ${how}`,
    };
  }
  const sysGone = missing(
    provider === 'tensorrt' ? [...SYSTEM_LIBS.cuda, ...SYSTEM_LIBS.tensorrt] : SYSTEM_LIBS.cuda,
    lib,
  );
  if (sysGone.length)
    return {
      ok: false,
      reason: `system libraries not found: ${sysGone.join(', ')} (install CUDA 12, cuDNN 9${provider === 'tensorrt' ? ' and TensorRT 10' : ''}, or add their folder to LD_LIBRARY_PATH)`,
    };
  return { ok: true };
}
