/**
 * Starts the plant compose stack (compose.yaml + compose.cpu.yaml) as plain processes and follows one frame
 * through it: HTTP frame → agent → NATS (MQTT) → control plane → PostgreSQL.
 *
 * Run by deploy/test/run.ts inside a private network namespace (`unshare -n`), so the services listen on the
 * compose file's own ports (5432, 1883, 8080) without touching the machine's shared servers; service names
 * resolve to 127.0.0.1 through /etc/hosts in the image roots. Each service gets the compose file's
 * `environment`, `command` and secrets (mounted at the same paths):
 *   postgres       PostgreSQL 15 from Debian (initdb/pg_ctl) with POSTGRES_USER/DB and the password secret
 *   nats           nats-server with config/nats.conf (+ the nats_auth secret beside it, /data → a temp folder)
 *   migrate,       the built control-plane image, by chroot (needs the images from run.ts)
 *   control-plane
 *   agent          the built CPU agent image, by chroot, with the agent_config and enrolment-token secrets
 * Deviations, printed: no SeaweedFS binary exists here, so `objects` is not started and the control plane
 * stores blobs in its filesystem store; the agent's HTTP port is 8081 (in compose each container has its own
 * 8080, here they share one network namespace); compose healthchecks run on this machine or in the image root.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  COMPOSE_DIR,
  loadProject,
  resolveProject,
  type Service,
  secretMounts,
  services,
  startOrder,
} from './compose.js';
import { assert, httpGet, ImageRoot, type Proc, sh, start, waitFor } from './harness.js';

const repo = resolve(import.meta.dirname, '../..');
const TAG = process.env.DIAD_DEPLOY_TAG ?? 'test';
const env = { DIAD_REGISTRY: 'localhost/diad', DIAD_VERSION: TAG };
const log = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  sh('ip', ['link', 'set', 'lo', 'up']);
  const project = loadProject(['compose.yaml', 'compose.cpu.yaml'], env);
  const errs = resolveProject(project);
  assert(errs.length === 0, errs.join('\n'));
  const svcs = services(project);
  log(`start order: ${startOrder(project).join(' → ')}`);
  const secretFiles = project.secrets as Record<string, { file: string }>;

  const tmp = mkdtempSync(join(tmpdir(), 'diad-stack-'));
  const procs: Proc[] = [];
  const roots: ImageRoot[] = [];
  let pgData: string | undefined;
  const secretsDir = join(tmp, 'secrets');
  sh('sh', [join(COMPOSE_DIR, 'make-secrets.sh'), secretsDir], { quiet: true });
  const secretPath = (name: string) => {
    const f = secretFiles[name]?.file;
    assert(f, `secret ${name}`);
    return join(secretsDir, f.replace(/^\.\/secrets\//, ''));
  };
  const hosts = Object.keys(svcs);
  const rootFor = (svc: Service) => {
    const r = new ImageRoot(svc.image ?? '', hosts);
    roots.push(r);
    for (const m of secretMounts(svc)) {
      const target = r.path(m.target);
      mkdirSync(join(target, '..'), { recursive: true });
      writeFileSync(target, '');
      sh('mount', ['--bind', secretPath(m.name), target]);
      r.addMount(target);
    }
    return r;
  };
  const healthy = async (name: string, svc: Service, root?: ImageRoot) => {
    const test = svc.healthcheck?.test ?? [];
    assert(test[0] === 'CMD', `${name}: healthcheck in CMD form`);
    const argv = test.slice(1);
    await waitFor(
      `${name} healthy (${argv.join(' ')})`,
      async () => {
        const r = root
          ? spawnSync('chroot', ['--userspec=10001:10001', root.root, ...argv], { encoding: 'utf8' })
          : spawnSync(argv[0] ?? '', argv.slice(1), { encoding: 'utf8' });
        return r.status === 0 ? true : undefined;
      },
      120_000,
    );
    log(`  ${name}: healthy (${argv.join(' ')})`);
  };

  try {
    // postgres
    const pg = svcs.postgres as Service;
    const pgEnv = pg.environment ?? {};
    const pw = readFileSync(secretPath('postgres_password'), 'utf8').trim();
    pgData = join(tmp, 'pgdata');
    mkdirSync(pgData);
    const sock = join(tmp, 'pgsock');
    mkdirSync(sock);
    writeFileSync(join(tmp, 'pwfile'), `${pw}\n`);
    for (const p of [tmp, pgData, sock, join(tmp, 'pwfile')]) chownSync(p, 101, 104);
    const bin = '/usr/lib/postgresql/15/bin';
    const asPg = (args: string[]) => sh('runuser', ['-u', 'postgres', '--', ...args], { quiet: true });
    asPg([
      `${bin}/initdb`,
      '-D',
      pgData,
      '-U',
      pgEnv.POSTGRES_USER ?? 'postgres',
      `--pwfile=${join(tmp, 'pwfile')}`,
      '--auth=scram-sha-256',
    ]);
    asPg([
      `${bin}/pg_ctl`,
      '-D',
      pgData,
      '-w',
      '-l',
      join(tmp, 'pg.log'),
      '-o',
      `-p 5432 -k ${sock} -c listen_addresses=127.0.0.1`,
      'start',
    ]);
    sh(
      'psql',
      [
        `postgresql://${pgEnv.POSTGRES_USER}:${pw}@127.0.0.1:5432/postgres`,
        '-qc',
        `CREATE DATABASE ${pgEnv.POSTGRES_DB}`,
      ],
      { quiet: true },
    );
    await healthy('postgres', pg);

    // nats
    const nats = svcs.nats as Service;
    const natsDir = join(tmp, 'nats');
    mkdirSync(natsDir);
    const conf = readFileSync(join(COMPOSE_DIR, 'config/nats.conf'), 'utf8').replace(
      /\/data\//g,
      `${join(tmp, 'nats-data')}/`,
    );
    writeFileSync(join(natsDir, 'nats.conf'), conf);
    const authMount = secretMounts(nats).find((m) => m.name === 'nats_auth');
    assert(authMount?.target === '/etc/nats/auth.conf', 'nats_auth mounted beside nats.conf');
    cpSync(secretPath('nats_auth'), join(natsDir, 'auth.conf'));
    const natsArgs = (nats.command ?? []).map((a) =>
      a === '/etc/nats/nats.conf' ? join(natsDir, 'nats.conf') : a,
    );
    const natsProc = start('nats', 'nats-server', natsArgs, { PATH: process.env.PATH });
    procs.push(natsProc);
    await healthy('nats', nats);

    log(
      '  objects: not started (no SeaweedFS binary here); the control plane uses its filesystem blob store',
    );

    // migrate (one-shot), then the control plane
    const cpSvc = svcs['control-plane'] as Service;
    const cpRoot = rootFor(cpSvc);
    const mig = svcs.migrate as Service;
    const m = cpRoot.run('migrate', mig.command, mig.environment ?? {});
    const mcode = await m.wait();
    assert(mcode === 0, `migrate completed successfully (exit ${mcode}):\n${m.tail()}`);
    log(`  migrate: ${m.output.at(-1)?.slice(0, 160)}`);
    const blobDir = cpRoot.path('var/lib/diad/blobs');
    mkdirSync(blobDir, { recursive: true });
    chownSync(blobDir, 10001, 10001);
    const cpEnv = { ...(cpSvc.environment ?? {}), BLOB_STORE: 'fs' };
    const cpProc = cpRoot.run('control-plane', cpSvc.command, cpEnv);
    procs.push(cpProc);
    await healthy('control-plane', cpSvc, cpRoot);
    const ready = await httpGet('http://127.0.0.1:8080/readyz');
    log(`  control-plane /readyz: ${ready.status} ${ready.body.slice(0, 160)}`);

    // operator steps: fleet + enrolment token for the agent (docs/deploy.md)
    const admin = readFileSync(secretPath('admin_password'), 'utf8').trim();
    const api = await Api.login('http://127.0.0.1:8080', 'admin', admin);
    const site = await api.call<{ id: string }>('POST', '/api/v1/sites', { code: 'plant1', name: 'Plant 1' });
    const line = await api.call<{ id: string }>('POST', '/api/v1/lines', {
      siteId: site.id,
      code: 'line1',
      name: 'Line 1',
    });
    const st = await api.call<{ id: string }>('POST', '/api/v1/stations', {
      lineId: line.id,
      code: 'st1',
      name: 'Station 1',
    });
    const tok = await api.call<{ token: string }>('POST', '/api/v1/enrolment-tokens', {
      stationId: st.id,
      deviceName: 'edge-line1-01',
    });
    writeFileSync(secretPath('agent_enrol_token'), `${tok.token}\n`);
    const cfgFile = secretPath('agent_config');
    writeFileSync(cfgFile, readFileSync(cfgFile, 'utf8').replace(/port: 8080/, 'port: 8081'));
    log('  operator: site/line/station created, enrolment token written to the agent_enrol_token secret');

    // agent
    const agentSvc = svcs.agent as Service;
    const agentRoot = rootFor(agentSvc);
    for (const v of agentSvc.volumes ?? []) {
      const [src, target] = v.split(':') as [string, string];
      let host: string;
      if (src === './bundles') host = join(repo, 'models');
      else {
        host = join(tmp, `vol-${src.replace(/\W/g, '_')}`);
        mkdirSync(host, { recursive: true });
        chownSync(host, 10001, 10001);
        if (src === './frames') {
          // the hot folder of agent.cpu.yaml, as an operator creates it
          mkdirSync(join(host, 'in/st1'), { recursive: true });
          for (const d of ['in', 'in/st1']) chownSync(join(host, d), 10001, 10001);
        }
      }
      agentRoot.bind(host, target, !v.endsWith(':ro'));
    }
    // models/ holds diad-synth-tiny: the bundles folder an operator fills
    const agentProc = agentRoot.run('agent', agentSvc.command, agentSvc.environment ?? {});
    procs.push(agentProc);
    await waitFor(
      'agent ready',
      async () => {
        if (!agentProc.running) throw new Error(`agent exited:\n${agentProc.tail()}`);
        return (await httpGet('http://127.0.0.1:8081/readyz')).status === 200 ? true : undefined;
      },
      180_000,
    );
    await healthy(
      'agent',
      {
        ...agentSvc,
        healthcheck: {
          test: ['CMD', 'node', '/usr/local/lib/diad/healthcheck.mjs', 'http://127.0.0.1:8081/healthz'],
        },
      },
      agentRoot,
    );
    const device = await waitFor('agent enrolled', async () => {
      const devs = await api.call<{ id: string; name?: string }[]>(
        'GET',
        `/api/v1/devices?stationId=${st.id}`,
      );
      return devs.length > 0 ? devs[0] : undefined;
    });
    log(`  agent: enrolled as ${device?.id}`);

    // one frame through the stack
    const partId = `stack-${Date.now()}`;
    const png = readFileSync(join(repo, 'models/diad-synth-tiny/golden/case0.png'));
    const res = await fetch(`http://127.0.0.1:8081/api/v1/frames?station=st1&partId=${partId}`, {
      method: 'POST',
      headers: {
        'content-type': 'image/png',
        authorization: `Bearer ${readFileSync(join(secretsDir, 'agent_frame_token'), 'utf8').trim()}`,
      },
      body: png,
      signal: AbortSignal.timeout(120_000),
    });
    assert(res.status === 200, `agent took the frame (${res.status} ${await res.clone().text()})`);
    const result = (await res.json()) as { resultId?: string; score?: number; verdict?: string };
    log(`  agent: result ${result.resultId} verdict=${result.verdict} score=${result.score}`);
    const dbUrl = readFileSync(secretPath('database_url'), 'utf8')
      .trim()
      .replace('@postgres:', '@127.0.0.1:');
    const row = await waitFor(
      'result row in PostgreSQL',
      async () => {
        const out = sh(
          'psql',
          [dbUrl, '-tAc', `SELECT result_id, device_id, verdict FROM results WHERE part_id = '${partId}'`],
          { quiet: true },
        ).trim();
        return out ? out : undefined;
      },
      60_000,
    );
    log(`  PostgreSQL results row: ${row}`);
    assert(row.includes(device?.id ?? '?'), 'the row names the enrolled device');
  } finally {
    for (const p of procs.reverse()) await p.stop();
    for (const r of roots) r.close();
    if (pgData)
      spawnSync('runuser', [
        '-u',
        'postgres',
        '--',
        '/usr/lib/postgresql/15/bin/pg_ctl',
        '-D',
        pgData,
        '-m',
        'fast',
        'stop',
      ]);
    rmSync(tmp, { recursive: true, force: true });
  }
}

class Api {
  private constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}
  static async login(base: string, username: string, password: string): Promise<Api> {
    const r = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    assert(r.status === 200, `admin login (${r.status})`);
    return new Api(base, ((await r.json()) as { token: string }).token);
  }
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(this.base + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    assert(r.status < 300, `${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text) as T;
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`compose stack failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
