/** Gathers the facts requirements.ts checks: files, device nodes, the loader cache and nvidia-smi. I/O only. */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { type GpuInfo, type GpuKind, type HostFacts, librariesToFind } from './requirements.js';

const run = promisify(execFile);

/** Folders where CUDA, cuDNN and TensorRT land when installed from NVIDIA's packages or JetPack. */
const WELL_KNOWN_LIB_DIRS = [
  '/usr/local/cuda/lib64',
  '/usr/local/cuda/targets/x86_64-linux/lib',
  '/usr/local/cuda/targets/aarch64-linux/lib',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu/tegra',
  '/usr/lib64',
];

/** Parses `ldconfig -p` lines ("\tlibcudnn.so.9 (libc6,x86-64) => /usr/lib/.../libcudnn.so.9"). */
export function parseLdconfig(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = /^\s*(\S+)\s+\(.*\)\s+=>\s+(\S+)\s*$/.exec(line);
    if (r && !m.has(r[1])) m.set(r[1], r[2]);
  }
  return m;
}

/** Parses `nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader`. */
export function parseNvidiaSmi(text: string): GpuInfo[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [name, cc, driver] = l.split(',').map((s) => s.trim());
      return {
        name,
        computeCapability: /^\d+\.\d+$/.test(cc ?? '') ? cc : undefined,
        driverVersion: driver || undefined,
      };
    });
}

/** Jetson modules by their Tegra SoC; JetPack has no nvidia-smi query for the compute capability. */
function tegraGpu(): GpuInfo | undefined {
  try {
    const model = readFileSync('/proc/device-tree/model', 'utf8').replace(/\0/g, '');
    if (/orin/i.test(model)) return { name: model, computeCapability: '8.7' };
    if (/xavier/i.test(model)) return { name: model, computeCapability: '7.2' };
    return { name: model };
  } catch {
    return undefined;
  }
}

function ortBinDir(): string | null {
  try {
    const req = createRequire(import.meta.url);
    const pkg = dirname(req.resolve('onnxruntime-node/package.json'));
    const dir = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}

function listDir(dir: string | null): string[] {
  if (!dir) return [];
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function loaderCache(): Promise<Map<string, string>> {
  for (const bin of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    try {
      const { stdout } = await run(bin, ['-p'], { timeout: 3000 });
      return parseLdconfig(stdout);
    } catch {}
  }
  return new Map();
}

async function nvidiaSmi(): Promise<GpuInfo[]> {
  try {
    const { stdout } = await run(
      'nvidia-smi',
      ['--query-gpu=name,compute_cap,driver_version', '--format=csv,noheader'],
      { timeout: 5000 },
    );
    return parseNvidiaSmi(stdout);
  } catch {
    return [];
  }
}

function nvidiaDevice(): { kind: GpuKind | null; evidence: string } {
  if (existsSync('/dev/nvidiactl') || existsSync('/dev/nvidia0'))
    return { kind: 'discrete', evidence: '/dev/nvidia0' };
  if (existsSync('/etc/nv_tegra_release') || existsSync('/dev/nvhost-ctrl-gpu'))
    return { kind: 'tegra', evidence: '/etc/nv_tegra_release' };
  if (process.platform === 'win32') return { kind: 'discrete', evidence: 'assumed on Windows' };
  return { kind: null, evidence: 'no /dev/nvidia0, /dev/nvidiactl or /etc/nv_tegra_release' };
}

export async function gatherHostFacts(env: NodeJS.ProcessEnv = process.env): Promise<HostFacts> {
  const cache = process.platform === 'linux' ? await loaderCache() : new Map<string, string>();
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...WELL_KNOWN_LIB_DIRS];
  const libraries: Record<string, string | null> = {};
  let tensorrtVersion: string | undefined;
  for (const name of librariesToFind()) {
    let found: string | null = null;
    for (const d of dirs) {
      const p = join(d, name);
      if (existsSync(p)) {
        found = p;
        break;
      }
    }
    libraries[name] = found ?? cache.get(name) ?? null;
  }
  const nvinfer = libraries['libnvinfer.so.10'];
  if (nvinfer) {
    const versioned = listDir(dirname(nvinfer)).find((f) => /^libnvinfer\.so\.\d+\.\d+\.\d+$/.test(f));
    if (versioned) tensorrtVersion = versioned.replace('libnvinfer.so.', '');
  }
  const nvidia = nvidiaDevice();
  let gpus = nvidia.kind === 'discrete' ? await nvidiaSmi() : [];
  if (nvidia.kind === 'tegra') {
    const t = tegraGpu();
    gpus = t ? [t] : [];
  }
  const bin = ortBinDir();
  return {
    platform: process.platform,
    arch: process.arch,
    ortBinDir: bin,
    ortFiles: listDir(bin),
    libraries,
    nvidia,
    gpus,
    tensorrtVersion,
    cudaVisibleDevices: env.CUDA_VISIBLE_DEVICES,
  };
}
