// Agent throughput and latency. Run from the repo root:
//   npx tsx --conditions=@diad/source bench/agent.ts [--frames 5000] [--results 20000] [--ref-frames 20]
// Environment: DIAD_BUNDLE=<bundle dir or .tar>, DIAD_PIPELINE_MODULE=<path to @diad/pipeline's index.ts>.
// Prints: end-to-end frames/s (stand-in model, SQLite outbox, embedded aedes broker, MQTT subscriber),
// publish throughput (outbox drain to PUBACK), outbox write latency p50/p99, and the reference bundle's
// frames/s when a bundle is found (DIAD_BUNDLE, else models/diad-synth-tiny).
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InspectionResult, uuidv7 } from '@diad/protocol';
import mqtt from 'mqtt';
import pino from 'pino';
import { bundleSha256 } from '../apps/agent/src/app.js';
import { systemClock } from '../apps/agent/src/clock.js';
import { InspectionService } from '../apps/agent/src/inspection.js';
import { DiadInspector } from '../apps/agent/src/inspector/diad.js';
import { ModelManager } from '../apps/agent/src/inspector/model-manager.js';
import { makePpm } from '../apps/agent/src/inspector/pnm.js';
import { StandInInspector } from '../apps/agent/src/inspector/standin.js';
import type { Inspector } from '../apps/agent/src/inspector/types.js';
import { AgentMetrics } from '../apps/agent/src/metrics.js';
import { EmbeddedBroker } from '../apps/agent/src/mqtt/broker.js';
import { StationPublisher } from '../apps/agent/src/mqtt/publisher.js';
import { OutboxDrainer } from '../apps/agent/src/outbox/drainer.js';
import { SqliteOutbox } from '../apps/agent/src/outbox/sqlite.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FRAMES = arg('frames', 5000);
const RESULTS = arg('results', 20000);
const logger = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'diad-bench-'));
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (x: number, d = 1) => x.toFixed(d);

function result(station: string, i: number): InspectionResult {
  const now = Date.now();
  return {
    schema: 'diad.result/v1',
    resultId: uuidv7(now),
    site: 'site1',
    line: 'line1',
    station,
    camera: 'cam1',
    deviceId: 'bench',
    partId: `p${i}`,
    capturedAt: new Date(now).toISOString(),
    inspectedAt: new Date(now).toISOString(),
    state: 'ok',
    verdict: 'OK',
    score: 0.1,
    normalizedScore: 0.1,
    defectAreaPx: 0,
    thresholds: { version: 0, image: 0.5, pixel: 0.5 },
    model: { name: 'standin', version: '1.0.0', sha256: 'a'.repeat(64) },
    provider: 'cpu',
    timingsMs: { total: 1 },
    error: null,
    imageRef: null,
    heatmapRef: null,
    shadow: null,
  };
}

async function pipelineFor(url: string, outbox: SqliteOutbox, stations: string[]) {
  const wires = stations.map((station) => {
    const pub = new StationPublisher({
      address: { site: 'site1', line: 'line1', station },
      deviceId: 'bench',
      clock: systemClock,
      logger,
      connection: { url, backoff: { initialMs: 100, maxMs: 1000 } },
      status: () => ({
        deviceId: 'bench',
        state: 'online',
        model: null,
        provider: null,
        queueDepth: 0,
        outboxDepth: 0,
      }),
    });
    const drainer = new OutboxDrainer({
      outbox,
      station,
      sink: pub,
      clock: systemClock,
      backoff: { initialMs: 100, maxMs: 1000 },
      inflight: 64,
      logger,
    });
    return { pub, drainer };
  });
  for (const w of wires) {
    w.pub.start();
    w.drainer.start();
  }
  while (!wires.every((w) => w.pub.connected)) await new Promise((r) => setTimeout(r, 10));
  return wires;
}

async function subscriber(url: string, expected: number) {
  const c = mqtt.connect(url);
  const ids = new Set<string>();
  let dup = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  c.on('message', (_t, p) => {
    const id = JSON.parse(p.toString()).resultId as string;
    if (ids.has(id)) dup++;
    ids.add(id);
    if (ids.size === expected) resolveAll();
  });
  await new Promise<void>((r) =>
    c.on('connect', () => c.subscribe('diad/+/+/+/result', { qos: 1 }, () => r())),
  );
  return { c, all, ids, dups: () => dup };
}

async function endToEnd(
  broker: EmbeddedBroker,
  model: Inspector,
  frames: number,
  image: () => unknown,
  label: string,
  sync: 'full' | 'normal' = 'full',
) {
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const outbox = new SqliteOutbox(join(dir, `e2e-${sync}-${Math.random().toString(36).slice(2, 6)}.db`), {
    capacityBytes: 1 << 30,
    synchronous: sync,
  });
  const stations = ['st1', 'st2'];
  const service = new InspectionService({
    deviceId: 'bench',
    stations: stations.map((id) => ({ id, queueSize: 64 })),
    models: new ModelManager(model),
    outbox,
    clock: systemClock,
    metrics: new AgentMetrics(),
    logger,
  });
  const wires = await pipelineFor(url, outbox, stations);
  service.on('result', (r) => wires[stations.indexOf(r.station)].drainer.kick());
  const sub = await subscriber(url, frames);
  const t0 = performance.now();
  // Each station feeds frames as fast as its queue takes them (no overruns).
  await Promise.all(
    stations.map(async (station, k) => {
      const inflight: Promise<unknown>[] = [];
      for (let i = k; i < frames; i += stations.length) {
        inflight.push(
          service.submit({
            site: 'site1',
            line: 'line1',
            station,
            camera: 'cam1',
            partId: `p${i}`,
            capturedAt: Date.now(),
            image: image() as never,
          }),
        );
        if (inflight.length >= 32) await inflight.shift();
      }
      await Promise.all(inflight);
    }),
  );
  await sub.all;
  const s = (performance.now() - t0) / 1000;
  for (const w of wires) {
    await w.drainer.stop();
    await w.pub.close();
  }
  await sub.c.endAsync();
  outbox.close();
  console.log(
    `end-to-end (${label}, outbox synchronous=${sync}): ${frames} frames in ${fmt(s, 2)} s = ${fmt(frames / s)} frames/s, duplicates ${sub.dups()}`,
  );
}

async function publishThroughput(broker: EmbeddedBroker) {
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const outbox = new SqliteOutbox(join(dir, 'drain.db'), { capacityBytes: 1 << 30, synchronous: 'normal' });
  const stations = ['st1', 'st2'];
  for (let i = 0; i < RESULTS; i++) outbox.append(result(stations[i % 2], i));
  const sub = await subscriber(url, RESULTS);
  const t0 = performance.now();
  const wires = await pipelineFor(url, outbox, stations);
  await sub.all;
  const s = (performance.now() - t0) / 1000;
  for (const w of wires) {
    await w.drainer.stop();
    await w.pub.close();
  }
  await sub.c.endAsync();
  console.log(
    `publish throughput: ${RESULTS} results drained from the SQLite outbox to PUBACK + subscriber in ${fmt(s, 2)} s = ${fmt(RESULTS / s, 0)} results/s (QoS 1, 2 stations, window 64)`,
  );
  outbox.close();
}

function outboxLatency(sync: 'full' | 'normal') {
  const outbox = new SqliteOutbox(join(dir, `lat-${sync}.db`), { capacityBytes: 1 << 30, synchronous: sync });
  const n = 5000;
  const rs = Array.from({ length: n }, (_, i) => result('st1', i));
  const lat: number[] = [];
  for (const r of rs) {
    const t = performance.now();
    outbox.append(r);
    lat.push(performance.now() - t);
  }
  outbox.close();
  console.log(
    `outbox append (synchronous=${sync}, ${n} results): p50 ${fmt(pct(lat, 50) * 1000, 0)} µs, p99 ${fmt(pct(lat, 99) * 1000, 0)} µs`,
  );
}

async function main() {
  console.log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), data in ${dir}`);
  outboxLatency('full');
  outboxLatency('normal');
  const broker = await EmbeddedBroker.start('127.0.0.1', 0);
  await publishThroughput(broker);
  const standinPath = join(dir, 'standin.json');
  writeFileSync(
    standinPath,
    JSON.stringify({
      format: 'diad-standin',
      model: { name: 'standin', version: '1.0.0' },
      calibration: { imageThreshold: 0.5, pixelThreshold: 0.5 },
    }),
  );
  const ppm = makePpm(256, 256, 90, { x: 100, y: 100, size: 20, level: 250 });
  const standin = await StandInInspector.load(standinPath);
  await endToEnd(broker, standin, FRAMES, () => ppm, 'stand-in model, 256x256 PPM', 'full');
  await endToEnd(broker, standin, FRAMES, () => ppm, 'stand-in model, 256x256 PPM', 'normal');

  const ref = [
    process.env.DIAD_BUNDLE,
    'models/diad-synth-tiny',
    'models/diad-synth-tiny.tar',
    'packages/pipeline/test/fixtures/micro-random',
  ].find((p): p is string => !!p && existsSync(p));
  if (!ref) console.log('DiAD bundle: none found (DIAD_BUNDLE, models/diad-synth-tiny): skipped');
  else {
    try {
      const model = await DiadInspector.load(ref, bundleSha256(ref), {
        providers: ['cpu'],
      });
      const raw = {
        data: new Uint8Array(256 * 256 * 3).fill(120),
        width: 256,
        height: 256,
        channels: 3 as const,
      };
      await endToEnd(
        broker,
        model,
        arg('ref-frames', 20),
        () => raw,
        `DiAD bundle ${ref} (${model.model.name} ${model.model.version}), provider ${model.provider}`,
      );
      await model.close();
    } catch (e) {
      console.log(`DiAD bundle ${ref}: skipped: ${(e as Error).message}`);
    }
  }
  await broker.close();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
