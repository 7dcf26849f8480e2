/**
 * Real processes for fleet benchmarks and the scale-out test: a private PostgreSQL (initdb + pg_ctl on a free
 * port), a NATS cluster (Debian `nats-server`), HAProxy in front of control-plane processes, and the control
 * plane itself (its built `dist/main.js`). Everything listens on loopback, on free ports, under one folder.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export function which(bin: string): string | null {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/lib/postgresql/15/bin']) {
    const p = join(dir, bin);
    if (existsSync(p)) return p;
  }
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${bin}`])
        .toString()
        .trim() || null
    );
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(
  what: string,
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  ms: number,
): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  let err: unknown;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (e) {
      err = e;
    }
    await sleep(250);
  }
  throw new Error(
    `timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)}${err ? `, error: ${(err as Error).message}` : ''})`,
  );
}

/** A child process whose stderr/stdout tail is kept for error messages. */
class Proc {
  protected proc: ChildProcess | null = null;
  tail = '';

  protected spawn(
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
    uid?: number,
    gid?: number,
  ) {
    this.tail = '';
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], uid, gid });
    const keep = (b: Buffer) => {
      this.tail = (this.tail + b.toString()).slice(-20_000);
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    this.proc = p;
    return p;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(t);
  }
}

export class NatsNode extends Proc {
  readonly conf: string;
  constructor(
    readonly name: string,
    readonly port: number,
    readonly dir: string,
    opts: { mqttPort?: number; clusterPort?: number; routes?: number[] } = {},
  ) {
    super();
    mkdirSync(join(dir, 'js'), { recursive: true });
    this.conf = join(dir, 'nats.conf');
    const lines = [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: "${join(dir, 'js')}", max_memory_store: 256MB, max_file_store: 4GB }`,
    ];
    if (opts.mqttPort) lines.push(`mqtt { listen: 127.0.0.1:${opts.mqttPort} }`);
    if (opts.clusterPort)
      lines.push(
        `cluster { name: diad, listen: 127.0.0.1:${opts.clusterPort}, routes: [${(opts.routes ?? []).map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}] }`,
      );
    writeFileSync(this.conf, `${lines.join('\n')}\n`);
  }
  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const p = this.spawn('nats-server', ['-c', this.conf]);
    const end = Date.now() + 30_000;
    while (!/Server is ready/.test(this.tail)) {
      if (p.exitCode !== null) throw new Error(`nats-server ${this.name} exited: ${this.tail}`);
      if (Date.now() > end) throw new Error(`nats-server ${this.name} not ready: ${this.tail}`);
      await sleep(50);
    }
  }
}

/** A 3-node (or n-node) NATS cluster with JetStream and an MQTT listener on every node. */
export async function startNatsCluster(dir: string, n = 3) {
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const cports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const mports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const nodes = ports.map(
    (p, i) =>
      new NatsNode(`n${i + 1}`, p, join(dir, `nats-n${i + 1}`), {
        mqttPort: mports[i],
        clusterPort: n > 1 ? cports[i] : undefined,
        routes: n > 1 ? cports.filter((_, j) => j !== i) : undefined,
      }),
  );
  await Promise.all(nodes.map((x) => x.start()));
  return { nodes, urls: nodes.map((x) => x.url), mqttPorts: mports };
}

/** A private PostgreSQL 15 cluster (run as the `postgres` user when started as root, as initdb requires). */
export class PgInstance extends Proc {
  readonly data: string;
  private readonly bin = '/usr/lib/postgresql/15/bin';
  private readonly ids: { uid?: number; gid?: number } = {};
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    super();
    this.data = join(dir, 'pgdata');
    if (process.getuid?.() === 0) {
      const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
      this.ids = { uid: id('-u'), gid: id('-g') };
    }
  }
  get url() {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }
  private run(cmd: string, args: string[]) {
    execFileSync(join(this.bin, cmd), args, { stdio: 'pipe', ...this.ids });
  }
  async init(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    if (this.ids.uid !== undefined) chownSync(this.dir, this.ids.uid, this.ids.gid!);
    this.run('initdb', ['-D', this.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    writeFileSync(
      join(this.data, 'postgresql.auto.conf'),
      [
        `port = ${this.port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = '${this.dir}'`,
        'fsync = on',
        'synchronous_commit = on',
        'shared_buffers = 256MB',
        'max_connections = 200',
        'log_min_messages = warning',
      ].join('\n'),
    );
    if (this.ids.uid !== undefined)
      chownSync(join(this.data, 'postgresql.auto.conf'), this.ids.uid, this.ids.gid!);
  }
  /** Starts the server in the foreground of a child process (so it can be killed or stopped). */
  async start(): Promise<void> {
    this.spawn(join(this.bin, 'postgres'), ['-D', this.data], process.env, this.ids.uid, this.ids.gid);
    const end = Date.now() + 60_000;
    for (;;) {
      try {
        execFileSync(join(this.bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(this.port)]);
        return;
      } catch {
        if (!this.running) throw new Error(`postgres exited: ${this.tail}`);
        if (Date.now() > end) throw new Error(`postgres not ready: ${this.tail}`);
        await sleep(100);
      }
    }
  }
  /** A fast shutdown (SIGINT: aborts sessions, clean checkpoint). */
  async stop(): Promise<void> {
    await this.kill('SIGINT', 30_000);
  }
}

/** HAProxy: HTTP round robin over the control planes (health-checked on /healthz). */
export class Haproxy extends Proc {
  readonly conf: string;
  constructor(
    readonly dir: string,
    readonly port: number,
    readonly backends: number[],
  ) {
    super();
    mkdirSync(dir, { recursive: true });
    this.conf = join(dir, 'haproxy.cfg');
    writeFileSync(
      this.conf,
      [
        'global',
        '  maxconn 4096',
        'defaults',
        '  mode http',
        '  timeout connect 2s',
        '  timeout client 120s',
        '  timeout server 120s',
        '  timeout check 5s',
        '  retries 3',
        '  option redispatch',
        `frontend api`,
        `  bind 127.0.0.1:${port}`,
        '  default_backend cp',
        'backend cp',
        '  balance roundrobin',
        '  option httpchk GET /healthz',
        '  retry-on conn-failure empty-response response-timeout',
        ...backends.map((p, i) => `  server cp${i + 1} 127.0.0.1:${p} check inter 1s fall 3 rise 2`),
        '',
      ].join('\n'),
    );
  }
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const p = this.spawn(which('haproxy') ?? 'haproxy', ['-db', '-f', this.conf]);
    // Listening, and at least one control plane passed its health checks.
    await until(
      'haproxy',
      async () => {
        if (p.exitCode !== null) throw new Error(`haproxy exited: ${this.tail}`);
        return (await fetch(`${this.url}/healthz`)).status;
      },
      (s) => s === 200,
      60_000,
    );
  }
}

/** One control-plane process (`apps/control-plane/dist/main.js`, built by `npm run build`). */
export class ControlPlaneProc extends Proc {
  constructor(
    readonly name: string,
    readonly port: number,
    readonly env: Record<string, string>,
  ) {
    super();
  }
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const main = join(REPO, 'apps/control-plane/dist/main.js');
    if (!existsSync(main)) throw new Error(`${main} missing: run npm run build first`);
    this.spawn(process.execPath, [main], {
      ...process.env,
      ...this.env,
      PORT: String(this.port),
      HOST: '127.0.0.1',
      LOG_LEVEL: this.env.LOG_LEVEL ?? 'warn',
    });
    await until(
      `control plane ${this.name}`,
      async () => {
        if (!this.running) throw new Error(`control plane ${this.name} exited: ${this.tail}`);
        return (await fetch(`${this.url}/healthz`)).status;
      },
      (s) => s === 200,
      90_000,
    );
  }
}

export interface Stack {
  db: PgInstance;
  nats: Awaited<ReturnType<typeof startNatsCluster>>;
  cps: ControlPlaneProc[];
  lb: Haproxy;
  close(): Promise<void>;
}

/** PostgreSQL + an n-node NATS cluster + control-plane processes (INGEST_TRANSPORT=nats) behind HAProxy. */
export async function startStack(
  dir: string,
  o: { natsNodes: number; controlPlanes: number; adminPassword: string; env?: Record<string, string> },
): Promise<Stack> {
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const db = new PgInstance(join(dir, 'pg'), await freePort());
    await db.init();
    await db.start();
    closers.push(() => db.stop());
    const nats = await startNatsCluster(join(dir, 'nats'), o.natsNodes);
    for (const n of nats.nodes) closers.push(() => n.kill('SIGTERM'));
    const env = {
      DATABASE_URL: db.url,
      INGEST_TRANSPORT: 'nats',
      NATS_URL: nats.urls.join(','),
      NATS_STREAM_REPLICAS: String(Math.min(3, o.natsNodes)),
      ROLLOUT_TICK_MS: '1000',
      RATE_LIMIT_PER_MINUTE: '0',
      JWT_SECRET: 'fleet-stack-secret-of-at-least-32-characters',
      DIAD_ADMIN_PASSWORD: o.adminPassword,
      BLOB_DIR: join(dir, 'blobs'),
      DATA_DIR: join(dir, 'unused-pglite'),
      ...o.env,
    };
    const cps: ControlPlaneProc[] = [];
    for (let i = 0; i < o.controlPlanes; i++) {
      const cp = new ControlPlaneProc(`cp${i + 1}`, await freePort(), env);
      await cp.start();
      closers.push(() => cp.kill('SIGTERM'));
      cps.push(cp);
    }
    const lb = new Haproxy(
      join(dir, 'haproxy'),
      await freePort(),
      cps.map((c) => c.port),
    );
    await lb.start();
    closers.push(() => lb.kill('SIGTERM'));
    return { db, nats, cps, lb, close };
  } catch (e) {
    await close();
    throw e;
  }
}
