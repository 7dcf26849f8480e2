/**
 * Fleet simulator: N edge agents in a few worker processes, each the real agent (`@diad/agent`'s `Agent`, stand-in
 * model, SQLite outbox) speaking the real protocol: enrols with a one-time token, heartbeats, follows the desired
 * state (downloads and verifies each bundle, then loads it as a stand-in model with the bundle's name, version and
 * calibration), and publishes results from its outbox over MQTT (or straight into JetStream). Parts are produced
 * at a configurable rate per agent.
 *
 * Used by the scale-out test (test/scale) and runnable alone against a running control plane:
 *   npx tsx --conditions=@diad/source bench/fleet.ts --cp http://127.0.0.1:8080 --admin-password ... \
 *     --mqtt mqtt://127.0.0.1:1883 --agents 50 --processes 2 --rate 1 --seconds 60
 * (bench/fleet-bench.ts builds a whole topology around it and prints the figures.)
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export interface AgentSpec {
  index: number;
  stationId: string;
  site: string;
  line: string;
  station: string;
  token: string;
}

export interface WorkerConfig {
  controlPlaneUrl: string;
  /** MQTT broker URLs for status (and results unless jetstream); agent i uses mqtt[i % n]. */
  mqtt: string[];
  /** When set, results go straight into JetStream on these servers. */
  jetstream?: string[];
  /** Parts per second per agent. */
  rate: number;
  heartbeatMs: number;
  dir: string;
  agents: AgentSpec[];
}

export interface AgentStats {
  station: string;
  deviceId: string;
  enrolled: boolean;
  produced: number;
  outbox: number;
  model: string | null;
}

export interface ProducedRecord {
  resultId: string;
  station: string;
  seq: number;
  capturedAt: string;
}

type ToWorker =
  | { op: 'start'; config: WorkerConfig }
  | { op: 'produce'; on: boolean; rate?: number }
  | { op: 'stats'; id: number }
  | { op: 'stop'; id: number };
type FromWorker =
  | { op: 'started' }
  | { op: 'error'; message: string }
  | { op: 'stats'; id: number; agents: AgentStats[] }
  | { op: 'stopped'; id: number; records: string };

// ---------------------------------------------------------------------------------------------- worker side

async function worker(): Promise<void> {
  const { Agent, parseConfig, StandInInspector } = await import('@diad/agent');
  const { makePpm } = await import('../apps/agent/src/inspector/pnm.js');
  const pino = (await import('pino')).default;
  const logger = pino({ level: process.env.FLEET_LOG_LEVEL ?? 'silent' });
  type AgentT = Awaited<ReturnType<typeof Agent.start>>;
  const running: Array<{
    spec: AgentSpec;
    agent: AgentT;
    seq: number;
    due: number;
    lastAt: number;
    records: ProducedRecord[];
  }> = [];
  let producing = false;
  let rate = 0;
  let timer: NodeJS.Timeout | null = null;
  const send = (m: FromWorker) => process.send!(m);

  /** A downloaded bundle tar becomes a stand-in model carrying the bundle's identity and calibration. */
  const factory = async (path: string, sha256: string) => {
    const manifest = readManifest(readFileSync(path));
    return new StandInInspector(
      {
        format: 'diad-standin',
        model: { name: manifest.model.name, version: manifest.model.version },
        calibration: manifest.calibration,
        delayMs: 0,
        failWarmup: false,
      },
      sha256,
    );
  };

  const tick = () => {
    if (!producing) return;
    const now = Date.now();
    for (const a of running) {
      if (!a.agent.models.activeModel) continue;
      a.due += (rate * 50) / 1000;
      while (a.due >= 1) {
        a.due -= 1;
        const seq = ++a.seq;
        // Capture times strictly increase per station, so the history's order by capture time is checkable.
        a.lastAt = Math.max(now, a.lastAt + 1);
        // Mostly good parts, every 20th bright enough to be NOK under the stand-in model.
        const grey = seq % 20 === 0 ? 230 : 40;
        a.agent
          .submit({
            site: a.spec.site,
            line: a.spec.line,
            station: a.spec.station,
            camera: 'cam1',
            partId: `${a.spec.station}-${String(seq).padStart(8, '0')}`,
            capturedAt: a.lastAt,
            image: makePpm(16, 16, grey),
          })
          .then(
            (r) =>
              a.records.push({ resultId: r.resultId, station: r.station, seq, capturedAt: r.capturedAt }),
            (err: Error) => logger.error({ err: err.message }, 'submit failed'),
          );
      }
    }
  };

  process.on('message', async (m: ToWorker) => {
    try {
      if (m.op === 'start') {
        const c = m.config;
        rate = c.rate;
        for (const spec of c.agents) {
          const config = parseConfig({
            site: spec.site,
            line: spec.line,
            deviceId: `sim-${spec.index}`,
            dataDir: join(c.dir, `agent-${spec.index}`),
            model: { kind: 'standin' },
            stations: [{ id: spec.station, queueSize: 256 }],
            sources: { http: false },
            outbox: { synchronous: 'normal', inflight: 64, capacityMb: 64 },
            images: { save: 'none', upload: false },
            opcua: { enabled: false },
            http: { host: '127.0.0.1', port: 0 },
            mqtt: {
              url: c.mqtt[spec.index % c.mqtt.length],
              keepaliveS: 15,
              backoff: { initialMs: 200, maxMs: 2000 },
              jetstream: c.jetstream ? { enabled: true, servers: c.jetstream } : { enabled: false },
            },
            controlPlane: {
              url: c.controlPlaneUrl,
              enrolToken: spec.token,
              heartbeatMs: c.heartbeatMs,
              backoff: { initialMs: 300, maxMs: 3000 },
            },
          });
          const agent = await Agent.start(config, { factory, logger });
          running.push({ spec, agent, seq: 0, due: 0, lastAt: 0, records: [] });
        }
        timer = setInterval(tick, 50);
        send({ op: 'started' });
      } else if (m.op === 'produce') {
        producing = m.on;
        if (m.rate !== undefined) rate = m.rate;
      } else if (m.op === 'stats') {
        send({
          op: 'stats',
          id: m.id,
          agents: running.map((a) => ({
            station: a.spec.station,
            deviceId: a.agent.deviceId,
            enrolled: !!a.agent.sync?.enrolled,
            produced: a.records.length,
            outbox: a.agent.outbox.depth(),
            model: a.agent.models.activeModel?.version ?? null,
          })),
        });
      } else if (m.op === 'stop') {
        producing = false;
        if (timer) clearInterval(timer);
        for (const a of running) await a.agent.stop().catch(() => {});
        const file = join(process.env.FLEET_DIR ?? '.', `records-${process.pid}.json`);
        writeFileSync(file, JSON.stringify(running.flatMap((a) => a.records)));
        send({ op: 'stopped', id: m.id, records: file });
        setTimeout(() => process.exit(0), 100);
      }
    } catch (e) {
      send({ op: 'error', message: (e as Error).stack ?? String(e) });
    }
  });
}

/** manifest.json of a bundle tar (ustar: 512-byte headers, name at 0, octal size at 124). */
export function readManifest(tar: Buffer): {
  model: { name: string; version: string };
  calibration: { imageThreshold: number; pixelThreshold: number };
} {
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar
      .subarray(off, off + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    if (!name) break;
    const size = Number.parseInt(
      tar
        .subarray(off + 124, off + 136)
        .toString('utf8')
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    );
    if (name === 'manifest.json' || name.endsWith('/manifest.json'))
      return JSON.parse(tar.subarray(off + 512, off + 512 + size).toString('utf8'));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('bundle: no manifest.json');
}

// ---------------------------------------------------------------------------------------------- parent side

export interface FleetOptions extends Omit<WorkerConfig, 'agents'> {
  processes: number;
  agents: AgentSpec[];
}

/** The simulated fleet: worker processes holding the agents. */
export class Fleet {
  private workers: ChildProcess[] = [];
  private nextId = 1;
  private waiters = new Map<number, (m: FromWorker) => void>();

  private constructor(private readonly o: FleetOptions) {}

  static async start(o: FleetOptions): Promise<Fleet> {
    const f = new Fleet(o);
    await f.spawnAll();
    return f;
  }

  private async spawnAll(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true });
    const per = Math.ceil(this.o.agents.length / this.o.processes);
    const starts: Promise<void>[] = [];
    for (let p = 0; p < this.o.processes; p++) {
      const agents = this.o.agents.slice(p * per, (p + 1) * per);
      if (!agents.length) continue;
      const w = fork(import.meta.filename, ['--worker'], {
        execArgv: ['--import', 'tsx', '--conditions=@diad/source'],
        env: { ...process.env, FLEET_DIR: this.o.dir, UV_THREADPOOL_SIZE: '8' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      this.workers.push(w);
      starts.push(
        new Promise((resolve, reject) => {
          const onMsg = (m: FromWorker) => {
            if (m.op === 'started') resolve();
            else if (m.op === 'error') reject(new Error(`fleet worker: ${m.message}`));
            else if ('id' in m) this.waiters.get(m.id)?.(m);
          };
          w.on('message', onMsg);
          w.once('exit', (code) => reject(new Error(`fleet worker exited (${code})`)));
        }),
      );
      w.send({ op: 'start', config: { ...this.o, agents } } satisfies ToWorker);
    }
    await Promise.all(starts);
  }

  private ask(w: ChildProcess, m: { op: 'stats' | 'stop' }): Promise<FromWorker> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiters.set(id, (r) => {
        this.waiters.delete(id);
        resolve(r);
      });
      w.send({ ...m, id } satisfies ToWorker);
    });
  }

  produce(on: boolean, rate?: number): void {
    for (const w of this.workers) w.send({ op: 'produce', on, rate } satisfies ToWorker);
  }

  async stats(): Promise<AgentStats[]> {
    const all = await Promise.all(this.workers.map((w) => this.ask(w, { op: 'stats' })));
    return all.flatMap((m) => (m.op === 'stats' ? m.agents : []));
  }

  /** Stops every agent and returns every result produced. */
  async stop(): Promise<ProducedRecord[]> {
    const out: ProducedRecord[] = [];
    const done = await Promise.all(this.workers.map((w) => this.ask(w, { op: 'stop' })));
    // Not push(...records): a spread of hundreds of thousands of records overflows the call stack.
    for (const m of done)
      if (m.op === 'stopped')
        for (const r of JSON.parse(readFileSync(m.records, 'utf8')) as ProducedRecord[]) out.push(r);
    return out;
  }

  kill(): void {
    for (const w of this.workers) if (w.exitCode === null) w.kill('SIGKILL');
  }
}

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, read by the caller
export type Admin = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** An admin HTTP client (login with the admin password). */
export async function adminClient(base: string, password: string, username = 'admin'): Promise<Admin> {
  const r = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (r.status !== 200) throw new Error(`login: ${r.status}`);
  const { token } = (await r.json()) as { token: string };
  return async (method, path, body) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(base + path, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body instanceof FormData || body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body instanceof FormData ? body : body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(60_000),
        });
        const text = await res.text();
        const parsed =
          text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
        // The load balancer answers 503 while no replica is up (nothing reached one: safe to resend) and 502 when
        // one died mid-request (only an idempotent read may be resent).
        if ((res.status === 503 || (res.status === 502 && method === 'GET')) && attempt < 60) {
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        return { status: res.status, body: parsed };
      } catch (e) {
        if (method !== 'GET' || attempt >= 20) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
}

/** Creates a site, a line and `n` stations with an enrolment token each. */
export async function provision(
  admin: Admin,
  n: number,
  siteCode: string,
  lineCode = 'line1',
): Promise<AgentSpec[]> {
  const site = await admin('POST', '/api/v1/sites', { code: siteCode, name: siteCode });
  if (site.status !== 201) throw new Error(`site: ${site.status} ${JSON.stringify(site.body)}`);
  const line = await admin('POST', '/api/v1/lines', { siteId: site.body.id, code: lineCode, name: lineCode });
  const out: AgentSpec[] = [];
  for (let i = 0; i < n; i++) {
    const code = `st${String(i).padStart(4, '0')}`;
    const st = await admin('POST', '/api/v1/stations', { lineId: line.body.id, code, name: code });
    const tok = await admin('POST', '/api/v1/enrolment-tokens', { stationId: st.body.id });
    if (tok.status !== 201) throw new Error(`token: ${tok.status} ${JSON.stringify(tok.body)}`);
    out.push({
      index: i,
      stationId: st.body.id,
      site: siteCode,
      line: lineCode,
      station: code,
      token: tok.body.token,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- CLI

if (process.argv.includes('--worker')) {
  await worker();
} else if (import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      cp: { type: 'string' },
      'admin-password': { type: 'string' },
      mqtt: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
      jetstream: { type: 'string' },
      agents: { type: 'string', default: '10' },
      processes: { type: 'string', default: '2' },
      rate: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '30' },
      site: { type: 'string', default: `sim${Date.now().toString(36)}` },
      dir: { type: 'string', default: `/tmp/diad-fleet-${process.pid}` },
    },
  });
  if (!values.cp || !values['admin-password']) {
    console.error(
      'usage: bench/fleet.ts --cp URL --admin-password PW [--mqtt URL] [--agents N] [--rate R] [--seconds S]',
    );
    process.exit(2);
  }
  const admin = await adminClient(values.cp, values['admin-password']);
  const specs = await provision(admin, Number(values.agents), values.site);
  const fleet = await Fleet.start({
    controlPlaneUrl: values.cp,
    mqtt: values.mqtt.split(','),
    jetstream: values.jetstream?.split(','),
    rate: Number(values.rate),
    heartbeatMs: 5000,
    dir: values.dir,
    processes: Number(values.processes),
    agents: specs,
  });
  fleet.produce(true);
  const t0 = Date.now();
  while (Date.now() - t0 < Number(values.seconds) * 1000) {
    await new Promise((r) => setTimeout(r, 5000));
    const s = await fleet.stats();
    console.log(
      `t=${Math.round((Date.now() - t0) / 1000)}s agents=${s.length} with model=${s.filter((a) => a.model).length} produced=${s.reduce((a, b) => a + b.produced, 0)} outbox=${s.reduce((a, b) => a + b.outbox, 0)}`,
    );
  }
  fleet.produce(false);
  const records = await fleet.stop();
  console.log(`produced ${records.length} results`);
}
