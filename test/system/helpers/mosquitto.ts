import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';

/** The mosquitto binary (Debian puts it in /usr/sbin, often not on PATH), or null when not installed. */
export function mosquittoBinary(): string | null {
  for (const b of ['mosquitto', '/usr/sbin/mosquitto'])
    if (spawnSync(b, ['-h']).error === undefined) return b;
  return null;
}

/** A private Mosquitto process on its own port (so a test can stop and restart it), with on-disk persistence. */
export class PrivateMosquitto {
  private proc: ChildProcess | null = null;
  private readonly conf: string;

  constructor(
    private readonly binary: string,
    readonly dir: string,
    readonly port: number,
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
        // Started as root, mosquitto switches to its own user and then cannot write the persistence file here.
        `user ${userInfo().username}`,
        'log_dest none',
        '',
      ].join('\n'),
    );
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    const proc = spawn(this.binary, ['-c', this.conf], { stdio: 'ignore' });
    this.proc = proc;
    const end = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode}`);
      if (Date.now() > end) throw new Error(`mosquitto did not listen on ${this.port} within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    await exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
