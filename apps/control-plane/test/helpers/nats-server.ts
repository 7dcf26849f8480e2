import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** True when Debian's `nats-server` is on PATH. */
export function haveNatsServer(): boolean {
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface NatsNodeSpec {
  name: string;
  port: number;
  /** MQTT listener port (needs JetStream, which every node here has). */
  mqttPort?: number;
  /** Cluster listen port and the routes to the other nodes' cluster ports. */
  clusterPort?: number;
  routes?: number[];
  /** Extra configuration lines (an `include`, a `pid_file`). */
  extra?: string[];
}

/** A private `nats-server` process (JetStream on, data under `dir`), restartable on the same ports and data. */
export class NatsNode {
  private proc: ChildProcess | null = null;
  readonly conf: string;
  log = '';

  constructor(
    readonly spec: NatsNodeSpec,
    readonly dir: string,
  ) {
    mkdirSync(join(dir, 'js'), { recursive: true });
    this.conf = join(dir, 'nats.conf');
    const lines = [
      `server_name: ${spec.name}`,
      `listen: 127.0.0.1:${spec.port}`,
      `jetstream { store_dir: "${join(dir, 'js')}", max_memory_store: 64MB, max_file_store: 2GB }`,
    ];
    if (spec.mqttPort) lines.push(`mqtt { listen: 127.0.0.1:${spec.mqttPort} }`);
    if (spec.clusterPort)
      lines.push(
        `cluster { name: diad, listen: 127.0.0.1:${spec.clusterPort}, routes: [${(spec.routes ?? [])
          .map((p) => `nats-route://127.0.0.1:${p}`)
          .join(', ')}] }`,
      );
    lines.push(...(spec.extra ?? []));
    writeFileSync(this.conf, `${lines.join('\n')}\n`);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.spec.port}`;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null;
  }

  /** Starts it and resolves once it accepts client connections. */
  async start(timeoutMs = 30_000): Promise<void> {
    this.proc = spawn('nats-server', ['-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr!.on('data', (b: Buffer) => {
      this.log = (this.log + b.toString()).slice(-20_000);
    });
    const end = Date.now() + timeoutMs;
    while (!/Server is ready/.test(this.log)) {
      if (this.proc.exitCode !== null) throw new Error(`nats-server ${this.spec.name} exited: ${this.log}`);
      if (Date.now() > end) throw new Error(`nats-server ${this.spec.name} not ready: ${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL (a crash) or SIGTERM; resolves when the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await gone;
    this.log = '';
  }
}
