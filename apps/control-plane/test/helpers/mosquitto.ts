import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';

/** The mosquitto binary (Debian puts it in /usr/sbin, often not on PATH), or null when not installed. */
export function mosquittoBinary(): string | null {
  for (const b of ['mosquitto', '/usr/sbin/mosquitto'])
    if (spawnSync(b, ['-h']).error === undefined) return b;
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

/**
 * A Mosquitto process of the test's own on a free port (tests must not disturb the shared broker). With `dynsec`,
 * the dynamic-security plugin is loaded with that admin (made by `mosquitto_ctrl dynsec init`) and anonymous
 * clients are refused.
 */
export async function startMosquitto(
  opts: { dynsec?: { username: string; password: string } } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const bin = mosquittoBinary();
  if (!bin) throw new Error('mosquitto is not installed (apt-get install -y mosquitto)');
  const dir = mkdtempSync(join(tmpdir(), 'diad-cp-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  const auth = ['allow_anonymous true'];
  if (opts.dynsec) {
    const plugin = dynsecPlugin();
    if (!plugin) throw new Error('mosquitto_dynamic_security.so is not installed (Debian package mosquitto)');
    const state = join(dir, 'dynamic-security.json');
    execFileSync('mosquitto_ctrl', ['dynsec', 'init', state, opts.dynsec.username, opts.dynsec.password], {
      stdio: 'ignore',
    });
    auth.splice(0, 1, 'allow_anonymous false', `plugin ${plugin}`, `plugin_opt_config_file ${state}`);
  }
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      ...auth,
      `user ${userInfo().username}`,
      'max_queued_messages 0',
      'log_dest none',
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn(bin, ['-c', conf], { stdio: 'ignore' });
  const end = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (proc.exitCode !== null || Date.now() > end) {
      proc.kill();
      throw new Error(`mosquitto did not start on ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An MQTT 5 login that resolves once connected and rejects with the broker's refusal (no reconnects). */
export async function mqttLogin(
  url: string,
  id: { username: string; password: string },
): Promise<MqttClient> {
  const c = mqtt.connect(url, {
    username: id.username,
    password: id.password,
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 3000,
  });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
  return c;
}
