/**
 * The agent's start-up check of execution providers: which ones this box can run, and why the others cannot.
 * The result decides which providers the model is opened on (a provider whose check failed is not tried again
 * for every bundle) and is reported in the log, the heartbeat (fleet view) and /metrics.
 */
import type { Provider } from '@diad/pipeline';
import type { Heartbeat } from '@diad/protocol';

export type AcceleratorReport = NonNullable<Heartbeat['accelerators']>;

export interface AcceleratorCheck {
  report: AcceleratorReport;
  /** Providers whose check passed, in the configured order: what the model is opened on. */
  usable: Provider[];
  device: { computeCapability?: string; tensorrtVersion?: string };
}

/** Host facts and one check per provider. Loaded lazily, like the pipeline itself, so a stand-in agent needs no ONNX Runtime. */
async function probe(providers: readonly string[]) {
  const pipeline = await import('@diad/pipeline');
  const facts = await pipeline.gatherHostFacts();
  const checks = await pipeline.probeProviders({
    providers: providers as Parameters<typeof pipeline.probeProviders>[0]['providers'],
    facts,
    backend: await pipeline.defaultBackend(),
  });
  return { pipeline, facts, checks };
}

export async function checkAccelerators(providers: readonly string[]): Promise<AcceleratorCheck> {
  const { facts, checks } = await probe(providers);
  const gpu = facts.gpus[0];
  return {
    report: {
      checks: checks.map((c) => ({
        provider: c.provider,
        status: c.status,
        reason: c.reason?.slice(0, 500),
      })),
      gpu: gpu ? `${gpu.name}${gpu.computeCapability ? ` (sm ${gpu.computeCapability})` : ''}` : null,
      variant: null,
    },
    usable: checks.filter((c) => c.status === 'ok').map((c) => c.provider),
    device: { computeCapability: gpu?.computeCapability, tensorrtVersion: facts.tensorrtVersion },
  };
}

/** The text table `diad-agent check --providers` prints. */
export async function providerTable(providers: readonly string[]): Promise<{ text: string; ok: boolean }> {
  const { pipeline, facts, checks } = await probe(providers);
  return { text: pipeline.formatProviderTable(checks, facts), ok: checks.some((c) => c.status === 'ok') };
}
