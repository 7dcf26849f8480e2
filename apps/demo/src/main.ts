import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SYNTH_CATEGORIES } from '@diad/datasets';
import { loggerOptions } from '@diad/protocol';
import pino from 'pino';
import { readBundleManifest } from './bundle-tar.js';
import { HotFolderFeeder } from './feeder.js';
import { LiveSummary } from './summary.js';
import { PLC_USER, type RunningSystem, startSystem } from './system.js';
import { ensureTestImages } from './test-images.js';

const USAGE = `Usage: npm run demo [-- options]

Runs the whole DiAD Edge system in one process on embedded defaults: control plane (PGlite), MQTT broker
(aedes), one agent with its OPC UA server, fed synthetic test images through its hot folder.

  --bundle <dir>     model bundle folder (default models/diad-synth-tiny; env DIAD_DEMO_BUNDLE)
  --data <dir>       state folder, kept across restarts (default .data/demo; env DIAD_DEMO_DATA)
  --rate <fps>       frames per second fed to the hot folder (default 2)
  --image-size <px>  side of the generated test images (default 256, the synthetic training sets' size)
  --port <n>         control plane HTTP port (default 8080; another free port when taken)
  --mqtt-port <n>    MQTT port (default 1883; another free port when taken)
  --opcua-port <n>   OPC UA port (default 4840; another free port when taken)
  --log-level <l>    control plane and agent log level (default info; logs go to <data>/logs/)
`;

function num(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new RangeError(`--${name}: expected a number in [${min}, ${max}], got "${v}"`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      bundle: { type: 'string' },
      data: { type: 'string' },
      rate: { type: 'string' },
      'image-size': { type: 'string' },
      port: { type: 'string' },
      'mqtt-port': { type: 'string' },
      'opcua-port': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const root = resolve(import.meta.dirname, '../../..');
  const bundle = resolve(
    values.bundle ?? process.env.DIAD_DEMO_BUNDLE ?? join(root, 'models/diad-synth-tiny'),
  );
  if (!existsSync(join(bundle, 'manifest.json'))) {
    process.stderr.write(
      `demo: no model bundle at ${bundle}\n` +
        'Pass one with --bundle <dir> (a folder holding manifest.json and its ONNX graphs; see docs/bundle.md).\n',
    );
    return 2;
  }
  const dataDir = resolve(values.data ?? process.env.DIAD_DEMO_DATA ?? join(root, '.data/demo'));
  const rate = num('rate', values.rate, 2, 0.1, 100);
  const level = values['log-level'] ?? 'info';
  const manifest = readBundleManifest(bundle);
  // Feed the categories the model was trained on (tools/ records them), when they are synthetic ones.
  const trained = (manifest.source as { training?: { categories?: unknown } }).training?.categories;
  const known = new Set(SYNTH_CATEGORIES.map((c) => c.name));
  const categories = Array.isArray(trained) ? trained.filter((c): c is string => known.has(c)) : [];

  say(`DiAD Edge demo: data in ${dataDir}`);
  // Parts as the camera would see them: rendered at the training set's size; the agent resizes to the model input.
  const imageSize = num('image-size', values['image-size'], 256, 32, 2048);
  say(`preparing synthetic test images (${imageSize} px, offline, deterministic)...`);
  const images = await ensureTestImages({
    dir: join(dataDir, 'test-images'),
    seed: 7,
    size: imageSize,
    categories,
    perCategory: 20,
  });

  ensureDashboardBuilt(root);
  const logFile = (name: 'control-plane' | 'agent') =>
    pino(
      loggerOptions(`diad-${name}`, level),
      pino.destination({ dest: join(dataDir, 'logs', `${name}.log`), mkdir: true, sync: false }),
    );
  say(`starting broker, control plane, agent (model ${manifest.model.name}@${manifest.model.version})...`);
  const sys = await startSystem({
    dataDir,
    bundle,
    ports: {
      controlPlane: num('port', values.port, 8080, 0, 65535),
      mqtt: num('mqtt-port', values['mqtt-port'], 1883, 0, 65535),
      opcua: num('opcua-port', values['opcua-port'], 4840, 0, 65535),
      agentHttp: 8081,
    },
    portFallback: true,
    triggerImage: images[0].path,
    loggers: { controlPlane: logFile('control-plane'), agent: logFile('agent') },
  });

  const summary = new LiveSummary();
  sys.agent.inspection.on('result', (r) => summary.add(r));
  const feeder = new HotFolderFeeder({
    hotFolder: sys.hotFolder,
    images,
    rate,
    partPrefix: `demo-${Date.now().toString(36)}`,
    onFed: (partId, img) => summary.expect(partId, img.defective),
    onError: (e) => say(`feeder: ${e.message}`),
  });
  await printAddresses(sys, dataDir);
  await feeder.start();
  const since = new Date().toISOString();

  let stopping = false;
  const ticker = setInterval(async () => {
    if (stopping) return;
    const stored = await sys.api
      .historyCounts({ from: since, station: sys.fleet.station })
      .then((c) => c.total)
      .catch(() => -1);
    const m = sys.agent.models.activeModel;
    const line = summary.line({
      stored,
      outbox: sys.agent.outbox.depth(),
      model: m ? `${m.name}@${m.version}` : 'none',
    });
    if (!stopping) say(`${line}${feeder.paused ? '  (feeder waiting: agent busy)' : ''}`);
  }, 2000);

  await new Promise<void>((resolveStop) => {
    let firstSignalAt = 0;
    const stop = (sig: string) => {
      // Ctrl-C reaches this process twice (from the terminal and relayed by tsx); a signal 2 s or more after the
      // first one means "stop now".
      if (stopping) {
        if (Date.now() - firstSignalAt < 2000) return;
        say(`${sig} again: exiting without a clean stop`);
        process.exit(130);
      }
      firstSignalAt = Date.now();
      stopping = true;
      say(`${sig}: stopping (state kept in ${dataDir}; the next start resumes)...`);
      resolveStop();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  clearInterval(ticker);
  feeder.stop();
  await sys.close();
  say('stopped.');
  return 0;
}

async function printAddresses(sys: RunningSystem, dataDir: string) {
  const dashboard = await findDashboard(sys.urls.controlPlane);
  const lines = [
    '',
    `  control plane API   ${sys.urls.controlPlane}/api/v1   (admin / ${sys.secrets.adminPassword})`,
    `  API docs            ${sys.urls.docs}`,
    `  dashboard           ${dashboard ?? '(not served by this control plane build)'}`,
    `  OPC UA endpoint     ${sys.urls.opcua}   SecurityMode None (demo only), user ${PLC_USER} / ${sys.secrets.plcPassword}` +
      (sys.triggerCamera ? '' : '  (no ffmpeg: Trigger answers NO_CAMERA)'),
    `  MQTT broker         ${sys.urls.mqtt}   topics diad/${sys.fleet.site}/${sys.fleet.line}/+/result`,
    `  agent health        ${sys.urls.agentHttp}/readyz   metrics ${sys.urls.agentHttp}/metrics`,
    `  hot folder          ${sys.hotFolder}`,
    `  logs                ${join(dataDir, 'logs')}`,
    '',
    'Ctrl-C stops everything; the next start resumes on the same data.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * The control plane serves the dashboard from apps/dashboard/dist, which a fresh clone does not have yet: build
 * it once (offline, vite). A failed build only means no dashboard.
 */
function ensureDashboardBuilt(root: string) {
  const app = join(root, 'apps/dashboard');
  if (!existsSync(join(app, 'package.json')) || existsSync(join(app, 'dist/index.html'))) return;
  say('building the dashboard (first start only)...');
  const r = spawnSync('npm', ['run', 'build', '-w', '@diad/dashboard'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) say('dashboard build failed: continuing without the dashboard');
}

/** The dashboard's address when the control plane serves one (an HTML page at / or /dashboard/). */
async function findDashboard(base: string): Promise<string | null> {
  for (const path of ['/', '/dashboard/']) {
    try {
      const res = await fetch(base + path);
      if (res.ok && (res.headers.get('content-type') ?? '').includes('text/html')) return base + path;
    } catch {
      // not served
    }
  }
  return null;
}

function say(s: string) {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`demo: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
