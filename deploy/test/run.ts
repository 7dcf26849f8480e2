/**
 * `npm run test:deploy`: builds the control-plane and CPU agent images from deploy/images/Containerfile on a
 * local Debian base (no registry is reachable, containers cannot start here), then runs the images' own
 * entrypoints by chroot in their filesystems:
 *   - control plane: `migrate` one-shot, then `serve` against PostgreSQL (its own database): /healthz, /readyz,
 *     the dashboard at /;
 *   - CPU agent: `check --config`, then `run` with the reference bundle models/diad-synth-tiny and one frame
 *     over HTTP;
 * then starts the compose stack's services as processes (deploy/test/compose-stack.ts, in a private network
 * namespace) and prints image sizes and step timings. The CUDA, Jetson and trainer targets are checked
 * statically (deploy/test/containerfile.ts); their bases cannot be pulled here.
 *
 * Needs root, podman, mmdebstrap, PostgreSQL on 127.0.0.1:5432 (trust), nats-server and PostgreSQL 15 binaries.
 * DIAD_DEPLOY_NO_CACHE=1 builds without podman's layer cache; DIAD_DEPLOY_VERBOSE=1 echoes service output.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintContainerfile } from './containerfile.js';
import {
  assert,
  freePort,
  httpGet,
  ImageRoot,
  type Proc,
  printTimings,
  sh,
  shStream,
  start,
  step,
  waitFor,
} from './harness.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
process.chdir(repo);
const NODE_IMAGE = process.env.DIAD_TEST_NODE_IMAGE ?? 'localhost/diad-test/node:20-2';
const TAG = process.env.DIAD_DEPLOY_TAG ?? 'test';
const images: Record<string, string> = {
  controlPlane: `localhost/diad/control-plane:${TAG}`,
  agent: `localhost/diad/agent:${TAG}`,
};
const TRAINER = process.env.DIAD_DEPLOY_TRAINER !== '0';
const PY_IMAGE = 'localhost/diad-test/python:bookworm-2';
const PG = process.env.DIAD_DEPLOY_PG ?? 'postgresql://postgres@127.0.0.1:5432';

function build(target: string, tag: string, extra: string[] = []): Promise<void> {
  // docker format: OCI image configs have no HEALTHCHECK.
  const args = [
    'build',
    '--isolation',
    'chroot',
    '--format',
    'docker',
    '-f',
    'deploy/images/Containerfile',
    '--target',
    target,
  ];
  args.push('--build-arg', `NODE_IMAGE=${NODE_IMAGE}`, '--build-arg', `REVISION=${gitRevision()}`);
  args.push(...extra);
  if (process.env.DIAD_DEPLOY_NO_CACHE) args.push('--no-cache');
  args.push('--layers', '-t', tag, '.');
  return shStream('podman', args, `[${target}]`);
}

function gitRevision(): string {
  const r = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

function imageSize(tag: string): number {
  return Number(sh('podman', ['image', 'inspect', '--format', '{{.Size}}', tag], { quiet: true }).trim());
}

function psql(sql: string): void {
  sh('psql', [`${PG}/postgres`, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { quiet: true });
}

async function controlPlane(): Promise<void> {
  const db = `diad_i17_deploy_${process.pid}`;
  psql(`CREATE DATABASE ${db}`);
  const root = new ImageRoot(images.controlPlane);
  let proc: Proc | undefined;
  try {
    const cfg = root.config();
    assert(cfg.user === '10001:10001', `control-plane USER is non-root (got "${cfg.user}")`);
    const env = {
      DATABASE_URL: `${PG}/${db}`,
      JWT_SECRET: 'deploy-test-secret-deploy-test-secret-0123',
      DIAD_ADMIN_PASSWORD: 'deploy-test-password',
      HOST: '127.0.0.1',
      RATE_LIMIT_PER_MINUTE: '0',
    };
    await step('control-plane: `migrate` one-shot against PostgreSQL', async () => {
      const m = root.run('migrate', ['migrate'], env);
      const code = await m.wait();
      assert(code === 0, `migrate exit 0 (got ${code}):\n${m.tail()}`);
      assert(/applied: |up to date/.test(m.output.join('\n')), `migrate reports what it did:\n${m.tail()}`);
      process.stdout.write(`  ${m.output.at(-1)?.slice(0, 200)}\n`);
    });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    await step('control-plane: `serve` answers /healthz, /readyz and the dashboard', async () => {
      proc = root.run('control-plane', undefined, { ...env, PORT: String(port) });
      const p = proc;
      const health = await waitFor('control plane /healthz', async () => {
        if (!p.running) throw new Error(`control plane exited:\n${p.tail()}`);
        const r = await httpGet(`${base}/healthz`);
        return r.status === 200 ? r : undefined;
      });
      assert(JSON.parse(health.body).database === 'postgres', `/healthz reports PostgreSQL: ${health.body}`);
      process.stdout.write(`  /healthz 200 ${health.body}\n`);
      const ready = await httpGet(`${base}/readyz`);
      if (ready.status === 404) {
        process.stdout.write('  /readyz: not implemented by this control plane build (404), not checked\n');
      } else {
        const r = await waitFor('control plane /readyz', async () => {
          const x = await httpGet(`${base}/readyz`);
          return x.status === 200 ? x : undefined;
        });
        process.stdout.write(`  /readyz 200 ${r.body.slice(0, 200)}\n`);
      }
      const home = await httpGet(`${base}/`);
      assert(
        home.status === 200 && home.type.startsWith('text/html'),
        `dashboard at / (${home.status} ${home.type})`,
      );
      assert(/<script[^>]+src=/.test(home.body), 'dashboard index.html loads its bundle');
      const asset = home.body.match(/<script[^>]+src="([^"]+)"/)?.[1];
      assert(asset, 'dashboard script path');
      const js = await httpGet(new URL(asset, `${base}/`).toString());
      assert(js.status === 200 && js.body.length > 1000, `dashboard asset ${asset} served (${js.status})`);
      process.stdout.write(`  / 200 text/html, ${asset} ${js.body.length} bytes\n`);
      const login = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: env.DIAD_ADMIN_PASSWORD }),
      });
      assert(login.status === 200, `admin login against PostgreSQL (${login.status})`);
    });
  } finally {
    await proc?.stop();
    root.close();
    psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
}

async function agent(): Promise<void> {
  const root = new ImageRoot(images.agent);
  let proc: Proc | undefined;
  try {
    const cfg = root.config();
    assert(cfg.user === '10001:10001', `agent USER is non-root (got "${cfg.user}")`);
    const port = await freePort();
    const bundle = '/opt/diad/bundles/diad-synth-tiny';
    root.bind(join(repo, 'models/diad-synth-tiny'), bundle);
    const data = root.path('var/lib/diad-agent');
    mkdirSync(data, { recursive: true });
    const config = [
      'site: deploytest',
      'line: line1',
      'deviceId: deploy-test-agent',
      'dataDir: /var/lib/diad-agent',
      'log: { level: info }',
      `model: { kind: diad, bundle: ${bundle}, providers: [cpu], threads: 2 }`,
      'stations: [{ id: st1, queueSize: 4 }]',
      'sources: { http: true }',
      'mqtt: { enabled: false }',
      'opcua: { enabled: false }',
      `http: { host: 127.0.0.1, port: ${port} }`,
      '',
    ].join('\n');
    writeFileSync(root.path('etc/diad/agent.yaml'), config);
    await step('agent: `check --config`', async () => {
      const c = root.run('agent-check', ['check', '--config', '/etc/diad/agent.yaml'], {});
      const code = await c.wait();
      assert(code === 0, `check exit 0 (got ${code}):\n${c.tail()}`);
      process.stdout.write(`  ${c.output.join(' ')}\n`);
      const bad = root.run('agent-check-bad', ['check', '--config', '/etc/diad/missing.yaml'], {});
      assert((await bad.wait()) !== 0, 'check fails for a missing config');
    });
    await step('agent: `run` inspects a frame with models/diad-synth-tiny (CPU)', async () => {
      proc = root.run('agent', undefined, {});
      const p = proc;
      await waitFor(
        'agent /readyz',
        async () => {
          if (!p.running) throw new Error(`agent exited:\n${p.tail()}`);
          return (await httpGet(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined;
        },
        180_000,
      );
      const png = readFileSync(join(repo, 'models/diad-synth-tiny/golden/case0.png'));
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/frames?station=st1&partId=deploy-1`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: png,
        signal: AbortSignal.timeout(120_000),
      });
      const body = (await res.json()) as Record<string, unknown>;
      assert(res.status === 200, `frame accepted (${res.status} ${JSON.stringify(body)})`);
      const score = body.score ?? (body.image as Record<string, unknown> | undefined)?.score;
      assert(
        typeof score === 'number' && Number.isFinite(score),
        `result has a score: ${JSON.stringify(body)}`,
      );
      process.stdout.write(
        `  result: state=${body.state} verdict=${body.verdict} score=${score} (${(performance.now() - t0).toFixed(0)} ms)\n`,
      );
      assert(existsSync(join(data, 'outbox.db')), 'outbox.db written in the data volume');
    });
  } finally {
    await proc?.stop();
    root.close();
  }
}

async function trainer(): Promise<void> {
  const root = new ImageRoot(images.trainer ?? '');
  try {
    const cfg = root.config();
    assert(cfg.user === '10001:10001', `trainer USER is non-root (got "${cfg.user}")`);
    await step('trainer: `tools.diad.train --help` and the HEALTHCHECK import', async () => {
      const help = root.run('trainer-help', ['tools.diad.train', '--help'], {});
      const code = await help.wait();
      assert(
        code === 0 && /--config/.test(help.output.join('\n')),
        `train --help (exit ${code}):\n${help.tail()}`,
      );
      const hc = root.run('trainer-health', undefined, {});
      // the image's CMD is `tools.diad.train --help`; the HEALTHCHECK imports the model module
      assert((await hc.wait()) === 0, `default command:\n${hc.tail()}`);
      const imp = new ImageRootCommand(root, ['python3', '-c', 'import tools.diad.model, tools.diad.export']);
      assert((await imp.wait()) === 0, `import tools.diad.model/export:\n${imp.tail()}`);
    });
  } finally {
    root.close();
  }
}

/** Runs an arbitrary command (not the entrypoint) in an image root as the image's user. */
class ImageRootCommand {
  private p: Proc;
  constructor(root: ImageRoot, argv: string[]) {
    const c = root.config();
    this.p = start(
      'cmd',
      'chroot',
      [`--userspec=${c.user}`, root.root, '/usr/bin/env', '-C', c.workdir, ...argv],
      {
        ...Object.fromEntries(
          c.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
        ),
      },
    );
  }
  wait() {
    return this.p.wait();
  }
  tail() {
    return this.p.tail();
  }
}

async function main(): Promise<void> {
  assert(process.getuid?.() === 0, 'the deploy suite needs root (podman, mount, chroot)');
  for (const bin of ['podman', 'mmdebstrap', 'psql', 'chroot']) {
    assert(spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0, `${bin} installed`);
  }
  await step('Containerfile: static checks of every target', () => {
    const r = lintContainerfile(readFileSync('deploy/images/Containerfile', 'utf8'));
    for (const line of r.summary) process.stdout.write(`  ${line}\n`);
    assert(r.errors.length === 0, r.errors.join('\n'));
  });
  await step('test base images (mmdebstrap bookworm minbase + Node 20; cached under stable tags)', () =>
    shStream('sh', ['deploy/test/make-test-base.sh'], '[base]'),
  );
  await step('build control-plane image', () => build('control-plane', images.controlPlane));
  await step('build agent image (CPU)', () => build('agent', images.agent));
  if (TRAINER) {
    images.trainer = `localhost/diad/trainer:${TAG}`;
    await step(
      'trainer test base (Debian python3-torch, torchvision, onnx, scipy, scikit-learn, pil; cached)',
      () => shStream('sh', ['deploy/test/make-test-base.sh', 'python'], '[base]'),
    );
    await step('build trainer image', () =>
      build('trainer', images.trainer ?? '', ['--build-arg', `TRAINER_IMAGE=${PY_IMAGE}`]),
    );
  }
  const sizes: Record<string, number> = {};
  for (const tag of Object.values(images)) sizes[tag] = imageSize(tag);
  sizes[NODE_IMAGE] = imageSize(NODE_IMAGE);
  if (TRAINER) sizes[PY_IMAGE] = imageSize(PY_IMAGE);
  await controlPlane();
  await agent();
  if (TRAINER) await trainer();
  await step(
    'compose stack as processes: frame → agent → NATS (MQTT) → control plane → PostgreSQL',
    async () => {
      const ns = ['-n', process.execPath, '--import', 'tsx', 'deploy/test/compose-stack.ts'];
      await shStream('unshare', ns, '[stack]');
    },
  );
  process.stdout.write('\nimage sizes (uncompressed, as podman reports them)\n');
  for (const [tag, size] of Object.entries(sizes)) {
    process.stdout.write(`  ${(size / 1024 ** 2).toFixed(0).padStart(6)} MiB  ${tag}\n`);
  }
  const base = sizes[NODE_IMAGE] ?? 0;
  process.stdout.write(
    `  (the test base is ${(base / 1024 ** 2).toFixed(0)} MiB of that; node:20-bookworm-slim is about 200 MiB)\n`,
  );
  process.stdout.write(
    '\nnot built here: agent-cuda (nvcr.io CUDA base), agent-jetson (nvcr.io l4t-jetpack base, arm64): their bases\n' +
      `cannot be pulled; checked statically above. trainer: ${TRAINER ? `built on ${PY_IMAGE} instead of the PyTorch CUDA image` : 'skipped (DIAD_DEPLOY_TRAINER=0)'}.\n`,
  );
}

const dataDir = join(repo, '.data/deploy');
mkdirSync(dataDir, { recursive: true });
main().then(
  () => {
    printTimings();
    process.exit(0);
  },
  (e) => {
    printTimings();
    process.stderr.write(`\ndeploy suite failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
