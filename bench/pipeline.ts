/**
 * Pipeline speed and memory on CPU for one bundle:
 *   npx tsx --conditions=@diad/source bench/pipeline.ts [bundle] [--images N] [--threads N] [--batch N] [--draws N] [--json]
 *   [--spinning] lets ORT's threads busy-wait (PipelineOptions.allowSpinning). --draws overrides sampler.draws.
 *   --draw-batching: single-frame latency with --draws (default 4) draws run one after another (drawsPerCall 1,
 *   the former behaviour) against all draws in one batched call, two pipelines in the same process, frames
 *   alternating between them so machine load hits both alike; prints the medians and nothing else.
 * Default bundle: models/diad-synth-tiny, else packages/pipeline/test/fixtures/micro-random.
 * Prints images/s, mean ms per stage, the pipeline's own overhead (total − time inside session.run) as a share
 * of the total, and peak RSS. Inputs are synthetic frames of the manifest size (raw and PNG-encoded).
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { DiadPipeline, type InspectionOutput, type RawFrame } from '@diad/pipeline';
import sharp from 'sharp';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    images: { type: 'string', default: '20' },
    threads: { type: 'string' },
    batch: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
    spinning: { type: 'boolean', default: false },
    draws: { type: 'string' },
    'draw-batching': { type: 'boolean', default: false },
  },
});
const bundle =
  positionals[0] ??
  (existsSync('models/diad-synth-tiny/manifest.json')
    ? 'models/diad-synth-tiny'
    : 'packages/pipeline/test/fixtures/micro-random');
const nImages = Number(values.images);
const batch = Number(values.batch);
const threads = values.threads === undefined ? undefined : Number(values.threads);
const draws = values.draws === undefined ? undefined : Number(values.draws);

function syntheticFrame(w: number, h: number, seed: number): RawFrame {
  const data = new Uint8Array(w * h * 3);
  let s = seed * 2654435761;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    const p = i / 3;
    data[i] = ((((p % w) * 255) / w) * 0.7 + (s >>> 24) * 0.3) | 0;
  }
  return { data, width: w, height: h, channels: 3 };
}

function summarise(outs: InspectionOutput[], wallMs: number) {
  const keys = [...new Set(outs.flatMap((o) => Object.keys(o.timingsMs)))].filter((k) => k !== 'batch');
  const mean: Record<string, number> = {};
  for (const k of keys) mean[k] = outs.reduce((a, o) => a + (o.timingsMs[k] ?? 0), 0) / outs.length;
  const totals = outs.map((o) => o.timingsMs.total).sort((a, b) => a - b);
  const medianTotalMs = totals[Math.floor((totals.length - 1) / 2)];
  const overhead = (mean.total - mean.inference) / mean.total;
  const overheadNoDecode = (mean.total - mean.inference - (mean.decode ?? 0)) / mean.total;
  return {
    imagesPerSecond: (outs.length * 1000) / wallMs,
    meanMs: mean,
    medianTotalMs,
    overhead,
    overheadExcludingDecode: overheadNoDecode,
  };
}

if (values['draw-batching']) {
  const d = draws ?? 4;
  const seq = await DiadPipeline.create(bundle, { threads, allowSpinning: values.spinning, drawsPerCall: 1 });
  const bat = await DiadPipeline.create(bundle, { threads, allowSpinning: values.spinning });
  const mm = seq.manifest;
  const fr = Array.from({ length: nImages }, (_, i) =>
    syntheticFrame(mm.input.width, mm.input.height, i + 1),
  );
  const times: Record<'sequential' | 'batched', number[]> = { sequential: [], batched: [] };
  const load0 = loadavg()[0];
  for (let i = 0; i < fr.length; i++) {
    // alternate which goes first, so neither always follows the other's cache state
    const order = i % 2 ? (['batched', 'sequential'] as const) : (['sequential', 'batched'] as const);
    for (const k of order) {
      const out = await (k === 'batched' ? bat : seq).inspect(fr[i], { draws: d });
      times[k].push(out.timingsMs.total);
    }
  }
  await seq.close();
  await bat.close();
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
  const res = {
    bundle,
    draws: d,
    frames: nImages,
    medianMs: { sequential: med(times.sequential), batched: med(times.batched) },
    speedup: med(times.sequential) / med(times.batched),
    cpu: `${cpus()[0]?.model ?? '?'} x${cpus().length}`,
    loadAverage: [load0, loadavg()[0]],
  };
  console.log(values.json ? JSON.stringify(res, null, 2) : res);
  process.exit(0);
}

const t0 = performance.now();
const pipeline = await DiadPipeline.create(bundle, { threads, allowSpinning: values.spinning });
const loadMs = performance.now() - t0;
const m = pipeline.manifest;
const frames = Array.from({ length: nImages }, (_, i) =>
  syntheticFrame(m.input.width, m.input.height, i + 1),
);
const pngs = await Promise.all(
  frames.map((f) =>
    sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } })
      .png()
      .toBuffer(),
  ),
);

async function sequential(inputs: (RawFrame | Buffer)[]) {
  const outs: InspectionOutput[] = [];
  const w0 = performance.now();
  for (const f of inputs) outs.push(await pipeline.inspect(f, { draws }));
  return summarise(outs, performance.now() - w0);
}

const raw = await sequential(frames);
const png = await sequential(pngs);
let batched: ReturnType<typeof summarise> | undefined;
if (pipeline.dynamicBatch && batch > 1) {
  const w0 = performance.now();
  const outs: InspectionOutput[] = [];
  for (let i = 0; i < frames.length; i += batch)
    outs.push(...(await pipeline.runBatch(frames.slice(i, i + batch), { draws })));
  // per-frame timings of a batch are the batch's: divide the wall time by frames for images/s only
  batched = summarise(outs, performance.now() - w0);
}
await pipeline.close();
const peakRssMiB = process.resourceUsage().maxRSS / 1024;

const result = {
  bundle,
  model: `${m.model.name}@${m.model.version}`,
  input: `${m.input.width}x${m.input.height}`,
  latent: `${m.latent.channels}x${m.latent.height}x${m.latent.width}`,
  sampler: `startStep ${m.sampler.startStep}, ${m.sampler.steps} steps, ${draws ?? m.sampler.draws} draw(s)`,
  provider: pipeline.provider,
  threads: threads ?? 'ORT default',
  spinning: values.spinning,
  cpu: `${cpus()[0]?.model ?? '?'} x${cpus().length}`,
  images: nImages,
  loadAndWarmupMs: loadMs,
  raw,
  png,
  batched: batched ? { batch, imagesPerSecond: batched.imagesPerSecond } : undefined,
  peakRssMiB,
  loadAverage: loadavg()[0],
};

if (values.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const f = (v: number) => v.toFixed(2);
  console.log(
    `bundle ${bundle} (${result.model}; input ${result.input}, latent ${result.latent}, ${result.sampler})`,
  );
  console.log(
    `provider ${result.provider}, threads ${result.threads}, spinning ${result.spinning}, ${result.cpu}; load + warm-up ${f(loadMs)} ms`,
  );
  for (const [label, r] of [
    ['raw frames', raw],
    ['PNG input', png],
  ] as const) {
    console.log(`\n${label}: ${f(r.imagesPerSecond)} images/s`);
    for (const [k, v] of Object.entries(r.meanMs)) console.log(`  ${k.padEnd(14)} ${f(v).padStart(9)} ms`);
    console.log(`  median total   ${f(r.medianTotalMs).padStart(9)} ms`);
    console.log(`  overhead (total − session.run): ${(100 * r.overhead).toFixed(2)}% of total`);
    console.log(
      `  overhead excluding image decode: ${(100 * r.overheadExcludingDecode).toFixed(2)}% of total`,
    );
  }
  if (batched) console.log(`\nrunBatch(${batch}): ${f(batched.imagesPerSecond)} images/s`);
  console.log(
    `\npeak RSS ${peakRssMiB.toFixed(0)} MiB; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`,
  );
}
