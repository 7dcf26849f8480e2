import { parseArgs } from 'node:util';
import { PROVIDERS, type Provider } from '../backend/types.js';
import { DiadPipeline } from '../pipeline.js';
import { gatherHostFacts } from '../providers/host-facts.js';
import { formatProviderTable, probeProviders } from '../providers/probe.js';
import type { CommandIo } from './inspect.js';

export const DOCTOR_USAGE = `usage: diad doctor [--providers tensorrt,cuda,webgpu,cpu] [--bundle <dir|tar>] [--json]
Checks each execution provider on this machine: the libraries and device it needs, then a warm-up run of a
small convolution graph. Prints one row per provider with the reason a provider cannot be used. With --bundle,
also opens the bundle the way an agent does and says which provider and variant would run it.
Exit code 0 when at least one provider works, 1 when none does, 2 for a usage error.`;

function parseProviders(v: string | undefined): Provider[] {
  if (v === undefined) return [...PROVIDERS];
  const list = v.split(',').map((s) => s.trim()) as Provider[];
  for (const p of list) {
    if (!PROVIDERS.includes(p))
      throw new RangeError(`--providers: unknown provider "${p}" (expected ${PROVIDERS.join(', ')})`);
  }
  return list;
}

/** `diad doctor`: what an engineer setting up a GPU box runs first. */
export async function doctorCommand(argv: string[], io: CommandIo): Promise<number> {
  let values: { providers?: string; bundle?: string; json?: boolean; help?: boolean };
  let providers: Provider[];
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        providers: { type: 'string' },
        bundle: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
    providers = parseProviders(values.providers);
  } catch (e) {
    io.stderr.write(`diad doctor: ${(e as Error).message}\n${DOCTOR_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${DOCTOR_USAGE}\n`);
    return 0;
  }
  const { OrtBackend } = await import('../backend/ort-backend.js');
  const backend = new OrtBackend();
  const facts = await gatherHostFacts();
  const checks = await probeProviders({ providers, facts, backend });
  let bundle: Record<string, unknown> | undefined;
  if (values.bundle) {
    const gpu = facts.gpus[0];
    try {
      const p = await DiadPipeline.create(values.bundle, {
        providers: checks.filter((c) => c.status === 'ok').map((c) => c.provider),
        backend,
        device: { computeCapability: gpu?.computeCapability, tensorrtVersion: facts.tensorrtVersion },
      });
      bundle = { path: values.bundle, ...p.providerReport };
      await p.close();
    } catch (e) {
      bundle = { path: values.bundle, error: (e as Error).message };
    }
  }
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ host: facts, providers: checks, bundle })}\n`);
  } else {
    io.stdout.write(formatProviderTable(checks, facts));
    if (bundle) {
      io.stdout.write(
        bundle.error
          ? `bundle: cannot be opened: ${bundle.error}\n`
          : `bundle: runs on ${bundle.provider}${bundle.variant ? ` (variant ${bundle.variant})` : ' (plain graphs)'}\n`,
      );
    }
  }
  return checks.some((c) => c.status === 'ok') && !bundle?.error ? 0 : 1;
}
