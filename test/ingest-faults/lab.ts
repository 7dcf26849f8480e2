/**
 * What the ingestion fault test and the ingest-lag benchmark share: a private Mosquitto with persistence on a free
 * port, a private PostgreSQL database, control-plane processes, an enrolled device, and publishers that count
 * what the broker (or the HTTP API) acknowledged, by result id.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import {
  agentApi,
  generateDeviceKey,
  type InspectionResult,
  signDeviceMessage,
  topics,
  uuidv7,
} from '@diad/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';

export const ROOT = resolve(import.meta.dirname, '../..');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

export function mosquittoBinary(): string | null {
  for (const b of ['mosquitto', '/usr/sbin/mosquitto'])
    if (spawnSync(b, ['-h']).error === undefined) return b;
  return null;
}

/** A private Mosquitto with on-disk persistence, restartable on the same port. */
export class Broker {
  private proc: ChildProcess | null = null;
  readonly conf: string;
  constructor(
    readonly dir: string,
    readonly port: number,
    private readonly binary = mosquittoBinary() ?? 'mosquitto',
  ) {
    mkdirSync(dir, { recursive: true });
    this.conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      this.conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence true',
        `persistence_location ${dir}/`,
        // Started as root, mosquitto would switch to its own user and could not write the persistence file here.
        `user ${userInfo().username}`,
        // The control plane must be able to hold a whole batch in flight, and a replica that is away must get
        // everything queued (the default, 1000, drops the rest).
        'max_inflight_messages 0',
        'max_queued_messages 0',
        'log_dest none',
        '',
      ].join('\n'),
    );
  }
  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const proc = spawn(this.binary, ['-c', this.conf], { stdio: 'ignore' });
    this.proc = proc;
    await until(
      async () => {
        if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode}`);
        return accepts(this.port);
      },
      10_000,
      `mosquitto on ${this.port}`,
    );
  }
  /** SIGTERM (mosquitto saves its persistence file) and wait for the exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
}

async function accepts(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/** A PostgreSQL database of our own on the configured server (DATABASE_URL, default the local one). */
export async function privateDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

export const ADMIN_PASSWORD = 'fault-test-admin-password';

/** The control plane as its own process (built dist/main.js, or the sources through tsx when not built). */
export class ControlPlaneProcess {
  private proc: ChildProcess | null = null;
  readonly log: string;
  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    dir: string,
  ) {
    this.log = join(dir, `${name}.log`);
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  /** Starts and waits until /readyz answers 200. */
  async start(): Promise<void> {
    // DIAD_CP_MAIN: another build's main.js (to compare a baseline in the benchmark).
    const dist = process.env.DIAD_CP_MAIN
      ? resolve(process.env.DIAD_CP_MAIN)
      : join(ROOT, 'apps/control-plane/dist/main.js');
    const fromSource = process.env.FAULTS_FROM_SOURCE === '1' || !existsSync(dist);
    const args = fromSource
      ? [
          join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
          '--tsconfig',
          join(ROOT, 'apps/control-plane/tsconfig.json'),
          '--conditions=@diad/source',
          join(ROOT, 'apps/control-plane/src/main.ts'),
        ]
      : [dist];
    const fd = openSync(this.log, 'a');
    const proc = spawn(process.execPath, args, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: String(this.port),
        JWT_SECRET: 'fault-test-secret-fault-test-secret-0123',
        DIAD_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LOG_LEVEL: 'warn',
        RATE_LIMIT_PER_MINUTE: '0',
        ROLLOUT_TICK_MS: '0',
        // Ingestion tuning passed through, to compare settings in the fault matrix.
        ...(process.env.INGEST_FLUSH_MS ? { INGEST_FLUSH_MS: process.env.INGEST_FLUSH_MS } : {}),
        ...this.env,
      },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.proc = proc;
    await until(
      async () => {
        if (proc.exitCode !== null)
          throw new Error(`${this.name} exited with ${proc.exitCode}: ${this.tail()}`);
        try {
          const r = await fetch(`${this.url}/readyz`);
          if (r.status === 200 && (r.headers.get('content-type') ?? '').includes('json')) return true;
          // A build without /readyz (the benchmark's baseline): its /healthz.
          if (r.status === 404 || !(r.headers.get('content-type') ?? '').includes('json'))
            return (await fetch(`${this.url}/healthz`)).status === 200;
          return false;
        } catch {
          return false;
        }
      },
      90_000,
      `${this.name} ready`,
    );
  }
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }
  private async signal(s: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(s);
    await exited;
  }
  tail(lines = 20): string {
    try {
      return readFileSync(this.log, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

export interface Device {
  deviceId: string;
  credential: string;
  address: { site: string; line: string; station: string };
  result(): InspectionResult;
}

/** Signs in, creates site/line/station and enrols one device (through the agent API). */
export async function enrolDevice(base: string): Promise<Device> {
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are read freely here
  const call = async (path: string, body: unknown, token?: string): Promise<any> => {
    const r = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const json = await r.json();
    if (r.status >= 300) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  const { token } = await call('/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
  const site = await call('/api/v1/sites', { code: 'plant', name: 'Plant' }, token);
  const line = await call('/api/v1/lines', { siteId: site.id, code: 'l1', name: 'Line' }, token);
  const st = await call('/api/v1/stations', { lineId: line.id, code: 's1', name: 'Station' }, token);
  const enrolment = await call('/api/v1/enrolment-tokens', { stationId: st.id }, token);
  // The device key registered at enrolment: bus results must carry its signature (#20).
  const key = generateDeviceKey();
  const e = await call(agentApi.enrol, {
    token: enrolment.token,
    hostname: 'fault-edge',
    agentVersion: '0.1.0',
    providers: ['cpu'],
    publicKey: key.publicKey,
  });
  const address = { site: e.site, line: e.line, station: e.station };
  return {
    deviceId: e.deviceId,
    credential: e.credential,
    address,
    result: () => {
      const now = new Date().toISOString();
      const r: InspectionResult = {
        schema: 'diad.result/v1',
        resultId: uuidv7(),
        ...address,
        camera: 'cam1',
        deviceId: e.deviceId,
        partId: `p-${randomBytes(4).toString('hex')}`,
        capturedAt: now,
        inspectedAt: now,
        state: 'ok',
        verdict: 'OK',
        score: 0.1,
        normalizedScore: 0.2,
        defectAreaPx: 0,
        thresholds: { version: 0, image: 0.5, pixel: 0.3 },
        model: null,
        provider: 'cpu',
        timingsMs: { total: 12 },
        error: null,
        imageRef: null,
        heatmapRef: null,
        shadow: null,
      };
      return signDeviceMessage(r, key.privateKeyPem);
    },
  };
}

/** What a publisher saw, by result id. */
export interface Tally {
  /** Results the broker (or API) acknowledged as delivered. */
  acked: Set<string>;
  /** Every result id published at least once. */
  published: Set<string>;
  /** Publishes answered "no matching subscribers" (MQTT 5 PUBACK 0x10), each republished. */
  noSubscribers: number;
  /** Publishes repeated because no acknowledgement came (as an agent's outbox does). */
  republished: number;
}

/**
 * An MQTT 5 publisher at QoS 1 that behaves like an agent's outbox: a result counts as delivered when the broker
 * acknowledged it with success; "no matching subscribers" (0x10) and unanswered publishes are sent again.
 */
export class MqttPublisher {
  readonly tally: Tally = { acked: new Set(), published: new Set(), noSubscribers: 0, republished: 0 };
  private client: MqttClient | null = null;
  private readonly byMessageId = new Map<number, string>();
  private readonly unacked = new Map<string, { payload: string; sentAt: number }>();
  private sweep: NodeJS.Timeout | null = null;
  constructor(
    private readonly url: string,
    private readonly topic: string,
  ) {}

  async connect(): Promise<void> {
    const c = await mqtt.connectAsync(this.url, {
      protocolVersion: 5,
      clientId: `fault-pub-${randomBytes(3).toString('hex')}`,
      clean: true,
      reconnectPeriod: 500,
      connectTimeout: 5000,
    });
    c.on('error', () => {});
    c.on('packetsend', (p) => {
      if (p.cmd === 'publish' && p.messageId !== undefined) {
        const id = JSON.parse(p.payload.toString()).resultId as string;
        this.byMessageId.set(p.messageId, id);
      }
    });
    c.on('packetreceive', (p) => {
      if (p.cmd !== 'puback' || p.messageId === undefined) return;
      const id = this.byMessageId.get(p.messageId);
      if (!id) return;
      this.byMessageId.delete(p.messageId);
      if ((p.reasonCode ?? 0) === 0) {
        this.tally.acked.add(id);
        this.unacked.delete(id);
      } else if (p.reasonCode === 16) {
        this.tally.noSubscribers++;
        const u = this.unacked.get(id);
        if (u) u.sentAt = 0; // send again at the next sweep
      }
    });
    this.client = c;
    this.sweep = setInterval(() => {
      if (!c.connected) return;
      const now = Date.now();
      for (const u of this.unacked.values()) {
        if (now - u.sentAt < 3000) continue;
        u.sentAt = now;
        this.tally.republished++;
        c.publish(this.topic, u.payload, { qos: 1 }, () => {});
      }
    }, 500);
  }

  publish(r: InspectionResult): void {
    const payload = JSON.stringify(r);
    this.tally.published.add(r.resultId);
    this.unacked.set(r.resultId, { payload, sentAt: Date.now() });
    this.client!.publish(this.topic, payload, { qos: 1 }, () => {});
  }

  get pending(): number {
    return this.unacked.size;
  }

  async close(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    await this.client?.endAsync(true);
  }
}

/** Posts batches like an agent's HTTP delivery: a batch counts once answered 200; otherwise it is posted again. */
export class HttpPublisher {
  readonly tally: Tally = { acked: new Set(), published: new Set(), noSubscribers: 0, republished: 0 };
  private queue: InspectionResult[] = [];
  private running = false;
  private loop: Promise<void> | null = null;
  constructor(
    private readonly bases: () => string[],
    private readonly credential: string,
    private readonly batch = 50,
  ) {}
  publish(r: InspectionResult): void {
    this.tally.published.add(r.resultId);
    this.queue.push(r);
  }
  get pending(): number {
    return this.queue.length;
  }
  start(): void {
    this.running = true;
    this.loop = (async () => {
      let i = 0;
      while (this.running || this.queue.length) {
        const batch = this.queue.slice(0, this.batch);
        if (!batch.length) {
          await sleep(5);
          continue;
        }
        const bases = this.bases();
        const base = bases[i++ % bases.length];
        let ok = false;
        try {
          const r = await fetch(base + agentApi.results, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${this.credential}` },
            body: JSON.stringify({ results: batch }),
            signal: AbortSignal.timeout(10_000),
          });
          await r.arrayBuffer();
          ok = r.status === 200;
        } catch {
          ok = false;
        }
        if (ok) {
          for (const r of batch) this.tally.acked.add(r.resultId);
          this.queue.splice(0, batch.length);
        } else {
          this.tally.republished += batch.length;
          await sleep(100);
        }
      }
    })();
  }
  async close(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/**
 * Publishes `rate` results per second for `seconds`, spread evenly (10 ms ticks); runs `at.run` at `at.t` seconds
 * without pausing the publishing, and resolves when both are done.
 */
export async function drive(
  rate: number,
  seconds: number,
  device: Device,
  publish: (r: InspectionResult) => void,
  at?: { t: number; run: () => Promise<void> },
): Promise<void> {
  const t0 = Date.now();
  let sent = 0;
  let fault: Promise<void> | null = null;
  const total = Math.round(rate * seconds);
  while (sent < total) {
    const elapsed = (Date.now() - t0) / 1000;
    if (at && !fault && elapsed >= at.t) fault = at.run();
    const target = Math.min(total, Math.floor(elapsed * rate));
    while (sent < target) {
      publish(device.result());
      sent++;
    }
    await sleep(10);
  }
  await fault;
}

export async function storedIds(url: string): Promise<{ ids: Set<string>; rows: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ result_id: string }>('SELECT result_id::text FROM results');
    return { ids: new Set(r.rows.map((x) => x.result_id)), rows: r.rowCount ?? r.rows.length };
  } finally {
    await c.end();
  }
}

export { topics };
