/**
 * Helpers for the deploy suite: timed steps, child processes, and running a built image's entrypoint without a
 * container runtime (`podman image mount` + a private overlay + chroot as the image's user).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const timings: { step: string; seconds: number; ok: boolean }[] = [];

/** Runs one named step, printing its duration; a failing step ends the suite with its error. */
export async function step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = performance.now();
  process.stdout.write(`\n▶ ${name}\n`);
  try {
    const r = await fn();
    const s = (performance.now() - t0) / 1000;
    timings.push({ step: name, seconds: s, ok: true });
    process.stdout.write(`✔ ${name} (${s.toFixed(1)} s)\n`);
    return r;
  } catch (e) {
    const s = (performance.now() - t0) / 1000;
    timings.push({ step: name, seconds: s, ok: false });
    process.stdout.write(`✘ ${name} (${s.toFixed(1)} s)\n`);
    throw e;
  }
}

export function printTimings(): void {
  process.stdout.write('\nstep timings\n');
  for (const t of timings)
    process.stdout.write(`  ${t.ok ? 'ok  ' : 'FAIL'} ${t.seconds.toFixed(1).padStart(7)} s  ${t.step}\n`);
  const total = timings.reduce((a, t) => a + t.seconds, 0);
  process.stdout.write(`  total ${total.toFixed(1)} s\n`);
}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

/** Runs a command to completion; throws with its output when it fails. */
export function sh(
  cmd: string,
  args: string[],
  opts: { quiet?: boolean; env?: NodeJS.ProcessEnv } = {},
): string {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: opts.env ?? process.env,
    stdio: opts.quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stdout ?? ''}${r.stderr ?? ''}`,
    );
  }
  return r.stdout;
}

/** Runs a long command with its output streamed (prefixed), resolving on exit 0. */
export function shStream(cmd: string, args: string[], prefix: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = (d: Buffer) => {
      for (const line of d.toString().split('\n'))
        if (line.trim()) process.stdout.write(`  ${prefix} ${line}\n`);
    };
    p.stdout.on('data', out);
    p.stderr.on('data', out);
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}`)),
    );
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
    s.on('error', reject);
  });
}

/** Polls `fn` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export async function httpGet(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** A process whose output is kept (and echoed with a prefix) and which is stopped with SIGTERM, then SIGKILL. */
export class Proc {
  readonly output: string[] = [];
  private exited: Promise<number | null>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line.trim()) continue;
        this.output.push(line);
        if (process.env.DIAD_DEPLOY_VERBOSE) process.stdout.write(`  [${name}] ${line}\n`);
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => resolve(code));
      // a command that cannot start (ENOENT) ends the step with its message instead of crashing the suite
      child.on('error', (e) => {
        this.output.push(`${name}: ${e.message}`);
        resolve(-1);
      });
    });
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  tail(n = 30): string {
    return this.output.slice(-n).join('\n');
  }
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
  wait(): Promise<number | null> {
    return this.exited;
  }
}

export function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  return new Proc(name, spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/**
 * A writable root filesystem over a built image: the image's layers (podman image mount) as the lower layer of
 * a private overlay, with /proc, /dev and the host's resolver. Entrypoints run in it by chroot as the image's
 * user; they share the host network.
 */
export class ImageRoot {
  readonly root: string;
  private readonly dir: string;
  private readonly lower: string;
  private mounts: string[] = [];
  constructor(
    readonly image: string,
    readonly hosts: string[] = [],
  ) {
    this.lower = sh('podman', ['image', 'mount', image], { quiet: true }).trim();
    this.dir = mkdtempSync(join(tmpdir(), 'diad-deploy-root-'));
    this.root = join(this.dir, 'root');
    for (const d of ['upper', 'work', 'root']) mkdirSync(join(this.dir, d));
    sh('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${this.lower},upperdir=${join(this.dir, 'upper')},workdir=${join(this.dir, 'work')}`,
      this.root,
    ]);
    this.mounts.push(this.root);
    mkdirSync(join(this.root, 'proc'), { recursive: true });
    sh('mount', ['-t', 'proc', 'proc', join(this.root, 'proc')]);
    this.mounts.push(join(this.root, 'proc'));
    sh('mount', ['--rbind', '/dev', join(this.root, 'dev')]);
    sh('mount', ['--make-rslave', join(this.root, 'dev')]);
    this.mounts.push(join(this.root, 'dev'));
    copyFileSync('/etc/resolv.conf', join(this.root, 'etc/resolv.conf'));
    writeFileSync(join(this.root, 'etc/hosts'), `127.0.0.1 localhost ${hosts.join(' ')}\n::1 localhost\n`);
  }
  /** The image's configured user (`USER`), entrypoint, cmd and environment. */
  config(): { user: string; entrypoint: string[]; cmd: string[]; env: string[]; workdir: string } {
    const c = JSON.parse(
      sh('podman', ['image', 'inspect', '--format', '{{json .Config}}', this.image], { quiet: true }),
    );
    return {
      user: c.User ?? '',
      entrypoint: c.Entrypoint ?? [],
      cmd: c.Cmd ?? [],
      env: c.Env ?? [],
      workdir: c.WorkingDir ?? '/',
    };
  }
  path(p: string): string {
    return join(this.root, p);
  }
  /** Records a mount made inside the root so close() undoes it. */
  addMount(target: string): void {
    this.mounts.push(target);
  }
  /** Bind-mounts a host path into the root (read-only unless `rw`). */
  bind(host: string, target: string, rw = false): void {
    const t = this.path(target);
    mkdirSync(t, { recursive: true });
    sh('mount', ['--bind', host, t]);
    if (!rw) sh('mount', ['-o', 'remount,bind,ro', t]);
    this.mounts.push(t);
  }
  /** Starts the image's entrypoint (or `args` after it) as the image's user, with its env plus `env`. */
  run(name: string, args: string[] | undefined, env: Record<string, string>): Proc {
    const c = this.config();
    const user = c.user || '0:0';
    const base = Object.fromEntries(
      c.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const argv = [...c.entrypoint, ...(args ?? c.cmd)];
    // chroot(8) changes to / inside the root; `env -C` applies the image's WORKDIR.
    return start(
      name,
      'chroot',
      [`--userspec=${user}`, this.root, '/usr/bin/env', '-C', c.workdir, ...argv],
      { ...base, ...env },
    );
  }
  close(): void {
    for (const m of this.mounts.reverse()) spawnSync('umount', ['-l', m]);
    this.mounts = [];
    spawnSync('podman', ['image', 'unmount', this.image]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
