/**
 * Our pipeline on every execution provider that loads, for one bundle: per-image time, peak RSS and parity of
 * score and anomaly map against the CPU provider on the same frames. A provider that cannot run gets a row
 * with the reason (from the same check the agent runs at start).
 *   npx tsx --conditions=@diad/source bench/gpu/providers.ts <bundle> [--images 4] [--providers tensorrt,cuda,webgpu,cpu]
 * Prints one JSON line per provider (used by bench/gpu/run.sh).
 */
import { parseArgs } from 'node:util';
import {
  DiadPipeline,
  defaultBackend,
  gatherHostFacts,
  type InspectionOutput,
  PROVIDERS,
  type Provider,
  probeProviders,
  type RawFrame,
} from '@diad/pipeline';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    images: { type: 'string', default: '4' },
    providers: { type: 'string', default: PROVIDERS.join(',') },
  },
});
const bundle = positionals[0] ?? 'models/diad-synth-tiny';
const nImages = Number(values.images);
const wanted = values.providers.split(',') as Provider[];

function frame(w: number, h: number, seed: number): RawFrame {
  const data = new Uint8Array(w * h * 3);
  let s = seed * 2654435761;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    data[i] = (((i / 3) % w) * 0.6 + (s >>> 24) * 0.3) | 0;
  }
  return { data, width: w, height: h, channels: 3 };
}

async function runOn(provider: Provider, device: { computeCapability?: string; tensorrtVersion?: string }) {
  const t0 = performance.now();
  const p = await DiadPipeline.create(bundle, { providers: [provider], device });
  const loadMs = performance.now() - t0;
  const m = p.manifest;
  const frames = Array.from({ length: nImages }, (_, i) => frame(m.input.width, m.input.height, i + 1));
  const outs: InspectionOutput[] = [];
  const ms: number[] = [];
  for (const f of frames) {
    const s = performance.now();
    outs.push(await p.inspect(f, { seed: 7 }));
    ms.push(performance.now() - s);
  }
  const report = p.providerReport;
  await p.close();
  ms.sort((a, b) => a - b);
  return { outs, loadMs, medianMs: ms[Math.floor(ms.length / 2)], variant: report.variant };
}

const facts = await gatherHostFacts();
const gpu = facts.gpus[0];
const device = { computeCapability: gpu?.computeCapability, tensorrtVersion: facts.tensorrtVersion };
const checks = await probeProviders({ providers: wanted, facts, backend: await defaultBackend() });
// CPU first: it is the reference every other provider is compared with.
const cpu = await runOn('cpu', device);
for (const c of checks) {
  const row: Record<string, unknown> = { engine: 'diad-pipeline', bundle, provider: c.provider };
  if (c.status !== 'ok') {
    console.log(JSON.stringify({ ...row, skipped: `${c.status}: ${c.reason}` }));
    continue;
  }
  try {
    const r = c.provider === 'cpu' ? cpu : await runOn(c.provider, device);
    let scoreRel = 0;
    let mapAbs = 0;
    r.outs.forEach((o, i) => {
      const ref = cpu.outs[i];
      scoreRel = Math.max(scoreRel, Math.abs(o.score - ref.score) / Math.max(Math.abs(ref.score), 1e-12));
      for (let k = 0; k < o.map.length; k++) mapAbs = Math.max(mapAbs, Math.abs(o.map[k] - ref.map[k]));
    });
    console.log(
      JSON.stringify({
        ...row,
        variant: r.variant,
        loadMs: Math.round(r.loadMs),
        medianMs: Math.round(r.medianMs * 10) / 10,
        images: nImages,
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        scoreRelDiffVsCpu: scoreRel,
        mapMaxAbsDiffVsCpu: mapAbs,
      }),
    );
  } catch (e) {
    console.log(JSON.stringify({ ...row, skipped: `failed: ${(e as Error).message}` }));
  }
}
