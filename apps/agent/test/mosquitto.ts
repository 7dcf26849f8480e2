import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** The mosquitto binary (Debian installs it in /usr/sbin), or null when it is not installed. */
export function mosquittoBinary(): string | null {
  for (const b of ['mosquitto', '/usr/sbin/mosquitto'])
    if (spawnSync(b, ['-h']).error === undefined) return b;
  return null;
}

/** Debian's dynamic-security plugin, or null when absent. */
export function dynsecPlugin(): string | null {
  for (const p of [
    '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
    '/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so',
    '/usr/lib/mosquitto_dynamic_security.so',
  ])
    if (existsSync(p)) return p;
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/**
 * A private Mosquitto on a free port with persistence on, so a restart keeps persistent sessions and their
 * subscriptions (tests never stop the shared broker).
 */
export class PrivateMosquitto {
  private proc: ChildProcess | null = null;

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    private readonly conf: string,
    readonly port: number,
  ) {}

  get url() {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /**
   * `acl`: lines of a Mosquitto ACL file for anonymous clients (e.g. ['topic deny a/b', 'topic readwrite #']).
   * `dynsec`: load the dynamic-security plugin with this admin (`mosquitto_ctrl dynsec init`); anonymous refused.
   */
  static async start(
    opts: { acl?: string[]; dynsec?: { username: string; password: string } } = {},
  ): Promise<PrivateMosquitto> {
    const bin = mosquittoBinary();
    if (!bin) throw new Error('mosquitto is not installed (apt-get install -y mosquitto)');
    const dir = mkdtempSync(join(tmpdir(), 'diad-agent-mosquitto-'));
    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    const dynsec: string[] = [];
    if (opts.dynsec) {
      const plugin = dynsecPlugin();
      if (!plugin)
        throw new Error('mosquitto_dynamic_security.so is not installed (Debian package mosquitto)');
      const state = join(dir, 'dynamic-security.json');
      execFileSync('mosquitto_ctrl', ['dynsec', 'init', state, opts.dynsec.username, opts.dynsec.password], {
        stdio: 'ignore',
      });
      dynsec.push(`plugin ${plugin}`, `plugin_opt_config_file ${state}`);
    }
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        opts.dynsec ? 'allow_anonymous false' : 'allow_anonymous true',
        ...dynsec,
        `user ${userInfo().username}`,
        'persistence true',
        `persistence_location ${dir}/`,
        'log_dest none',
        ...(opts.acl ? [`acl_file ${join(dir, 'acl')}`] : []),
        '',
      ].join('\n'),
    );
    if (opts.acl) writeFileSync(join(dir, 'acl'), `${opts.acl.join('\n')}\n`);
    const m = new PrivateMosquitto(bin, dir, conf, port);
    await m.up();
    return m;
  }

  /** Starts the process (again, on the same port and persistence file) and waits until it accepts. */
  async up(): Promise<void> {
    const proc = spawn(this.bin, ['-c', this.conf], { stdio: 'ignore' });
    this.proc = proc;
    const end = Date.now() + 15_000;
    while (!(await accepts(this.port))) {
      if (proc.exitCode !== null || Date.now() > end) {
        proc.kill('SIGKILL');
        throw new Error(`mosquitto did not start on ${this.port}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Orderly stop (SIGTERM: Mosquitto writes its persistence file on the way out). */
  async down(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }

  async close(): Promise<void> {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
