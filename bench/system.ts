// End-to-end latency of the whole system: a part dropped into the agent's hot folder until its result is stored
// in the control plane's defect history (hot-folder pickup, inspection, outbox, MQTT, ingestion), with the
// demo's composition (PGlite, in-process aedes, one agent). Run from the repo root:
//   npx tsx --tsconfig apps/demo/tsconfig.run.json --conditions=@diad/source bench/system.ts \
//     [--bundle <dir>] [--frames 60] [--rate 2]
// Default bundle: models/diad-synth-tiny, else packages/pipeline/test/fixtures/micro-random.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureTestImages, HotFolderFeeder, readBundleManifest, startSystem, waitFor } from '@diad/demo';

const { values } = parseArgs({
  options: { bundle: { type: 'string' }, frames: { type: 'string' }, rate: { type: 'string' } },
});
const bundle = resolve(
  values.bundle ??
    ['models/diad-synth-tiny', 'packages/pipeline/test/fixtures/micro-random'].find((p) =>
      existsSync(join(p, 'manifest.json')),
    ) ??
    'models/diad-synth-tiny',
);
const frames = Number(values.frames ?? 60);
const rate = Number(values.rate ?? 2);
const manifest = readBundleManifest(bundle);
const dir = mkdtempSync(join(tmpdir(), 'diad-bench-system-'));
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

try {
  const images = await ensureTestImages({
    dir: join(dir, 'images'),
    seed: 7,
    size: 256,
    perCategory: 10,
  });
  const started = performance.now();
  const sys = await startSystem({
    dataDir: join(dir, 'system'),
    bundle,
    pgliteDir: 'memory://',
    pollMs: 100,
  });
  const startupS = (performance.now() - started) / 1000;
  const feeder = new HotFolderFeeder({ hotFolder: sys.hotFolder, images, rate, partPrefix: 'bench' });
  const ids: string[] = [];
  for (let i = 0; i < frames; i++) {
    ids.push(await feeder.feedOne());
    await new Promise((r) => setTimeout(r, 1000 / rate));
  }
  const want = new Set(ids);
  const rows = await waitFor(
    async () => {
      const all = (await sys.api.results({ station: sys.fleet.station })).filter((r) => want.has(r.partId));
      return all.length >= frames ? all : null;
    },
    120_000,
    'every result in the defect history',
  );
  const e2e = rows.map((r) => Date.parse(r.receivedAt!) - Date.parse(r.capturedAt));
  const inspect = rows.map((r) => r.timingsMs.total ?? Number.NaN).filter(Number.isFinite);
  const states: Record<string, number> = {};
  for (const r of rows) states[r.state] = (states[r.state] ?? 0) + 1;
  await sys.close();
  console.log(
    JSON.stringify(
      {
        bundle: `${manifest.model.name}@${manifest.model.version} (${manifest.input.width} px, ${manifest.sampler.steps} DDIM steps)`,
        cpus: cpus().length,
        frames,
        rateFps: rate,
        startupSeconds: Number(startupS.toFixed(1)),
        states,
        hotFolderToHistoryMs: { p50: quantile(e2e, 0.5), p95: quantile(e2e, 0.95), max: Math.max(...e2e) },
        agentTotalMs: { p50: Math.round(quantile(inspect, 0.5)), p95: Math.round(quantile(inspect, 0.95)) },
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
