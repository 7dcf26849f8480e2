/**
 * Checks each execution provider the way an agent uses it: the host's requirements first (what is missing is the
 * user's next step), then a real session on a small convolution graph and one run whose output is compared with
 * the known answer (a provider that loads but computes garbage, or fails on the first run, is not usable).
 */
import type { InferenceBackend, Provider } from '../backend/types.js';
import { PROBE_GRAPH_BASE64, PROBE_INPUT, PROBE_OUTPUT, probeExpectedForOnes } from './probe-graph.js';
import { checkRequirements, type HostFacts } from './requirements.js';

export type ProviderStatus = 'ok' | 'unavailable' | 'failed';

export interface ProviderCheck {
  provider: Provider;
  /** ok: ran the probe correctly; unavailable: a requirement is missing; failed: loaded or ran and failed. */
  status: ProviderStatus;
  reason?: string;
  /** Session creation plus the first run, when attempted. */
  warmupMs?: number;
}

export interface ProbeOptions {
  providers: readonly Provider[];
  facts: HostFacts;
  backend: InferenceBackend;
  cudaDeviceId?: number;
  /** Milliseconds per provider before its warm-up counts as failed (TensorRT builds an engine here). */
  timeoutMs?: number;
  now?: () => number;
}

const TOLERANCE = 1e-3;

/**
 * ONNX Runtime's messages start with its source file, line and function; the user needs the sentence after it
 * ("Failed to get a WebGPU adapter: No supported adapters").
 */
export function plainOrtMessage(msg: string): string {
  const check = / was false\. (.+)$/s.exec(msg);
  if (check) return check[1].trim();
  return msg.replace(/^\/\S+\.(?:cc|cpp|h):\d+ [^ ]+ /, '').trim();
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function warmUp(provider: Provider, o: ProbeOptions): Promise<void> {
  const bytes = Uint8Array.from(Buffer.from(PROBE_GRAPH_BASE64, 'base64'));
  const session = await o.backend.createSession(bytes, {
    provider,
    cudaDeviceId: o.cudaDeviceId,
    threads: 1,
    graphOptimization: 'all',
  });
  try {
    const n = (PROBE_INPUT.dims as readonly number[]).reduce((a, b) => a * b, 1);
    const out = await session.run(
      { [PROBE_INPUT.name]: { dtype: 'float32', data: new Float32Array(n).fill(1), dims: PROBE_INPUT.dims } },
      { [PROBE_OUTPUT.name]: { dtype: 'float32', data: new Float32Array(4), dims: PROBE_OUTPUT.dims } },
    );
    const got = out[PROBE_OUTPUT.name].data as Float32Array;
    const want = probeExpectedForOnes();
    for (let i = 0; i < want.length; i++) {
      if (!(Math.abs(got[i] - want[i]) <= TOLERANCE))
        throw new Error(
          `probe output ${i} is ${got[i]}, expected ${want[i]}: the provider computes wrong results`,
        );
    }
  } finally {
    await session.release().catch(() => undefined);
  }
}

/** One check per provider, in the order given. Never throws for a provider's failure: it is reported. */
export async function probeProviders(o: ProbeOptions): Promise<ProviderCheck[]> {
  const now = o.now ?? (() => performance.now());
  const checks: ProviderCheck[] = [];
  for (const provider of o.providers) {
    const req = checkRequirements(provider, o.facts);
    if (!req.ok) {
      checks.push({ provider, status: 'unavailable', reason: req.reason });
      continue;
    }
    const t0 = now();
    try {
      await withTimeout(warmUp(provider, o), o.timeoutMs ?? 120_000, `${provider} warm-up`);
      checks.push({ provider, status: 'ok', warmupMs: now() - t0 });
    } catch (e) {
      checks.push({
        provider,
        status: 'failed',
        reason: plainOrtMessage((e as Error).message),
        warmupMs: now() - t0,
      });
    }
  }
  return checks;
}

/** A fixed-width table for terminals (`diad doctor`, `diad-agent check --providers`). */
export function formatProviderTable(checks: readonly ProviderCheck[], facts?: HostFacts): string {
  const rows = checks.map((c) => [
    c.provider,
    c.status,
    c.warmupMs === undefined ? '-' : `${c.warmupMs.toFixed(0)} ms`,
    c.reason ?? '',
  ]);
  const head = ['provider', 'status', 'warm-up', 'reason'];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.slice().map((r) => (i < 3 ? r[i].length : 0))),
  );
  const line = (r: string[]) =>
    r
      .map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell))
      .join('  ')
      .trimEnd();
  const out = [line(head), ...rows.map(line)];
  if (facts) {
    const gpu = facts.gpus.length
      ? facts.gpus
          .map((g) => `${g.name}${g.computeCapability ? ` (sm ${g.computeCapability})` : ''}`)
          .join(', ')
      : 'none found';
    out.push(
      '',
      `host: ${facts.platform}/${facts.arch}; GPU: ${gpu}; TensorRT: ${facts.tensorrtVersion ?? 'not found'}`,
    );
  }
  return `${out.join('\n')}\n`;
}
