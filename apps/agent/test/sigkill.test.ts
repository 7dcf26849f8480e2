import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { makePpm } from '../src/inspector/pnm.js';
import { EmbeddedBroker } from '../src/mqtt/broker.js';
import { standInBundle, tmp, waitFor } from './helpers.js';
import { Downstream } from './mqtt-harness.js';

const ROOT = resolve(__dirname, '../../..');
const CLI = join(ROOT, 'apps/agent/src/cli.ts');

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 0;
}

function startAgent(config: string): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=@diad/source', '--import', 'tsx', CLI, 'run', '--config', config],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  child.stderr!.on('data', () => {});
  return child;
}

async function waitHealthy(base: string) {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('agent did not become healthy');
}

describe('fault: agent killed with SIGKILL mid-run, then restarted', () => {
  it('loses no acknowledged result', async () => {
    const dir = tmp();
    let broker = await EmbeddedBroker.start('127.0.0.1', 0);
    const brokerPort = broker.port;
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const httpPort = await freePort();
    const base = `http://127.0.0.1:${httpPort}`;
    const configPath = join(dir, 'agent.yaml');
    writeFileSync(
      configPath,
      stringify({
        site: 'site1',
        line: 'line1',
        deviceId: 'edge-kill',
        dataDir: join(dir, 'data'),
        log: { level: 'warn' },
        model: { kind: 'standin', bundle: standInBundle(dir) },
        stations: [
          { id: 'st1', queueSize: 64 },
          { id: 'st2', queueSize: 64 },
        ],
        // The test's broker is aedes, which speaks MQTT 3.1.1 only.
        mqtt: { url, protocolVersion: 4, backoff: { initialMs: 50, maxMs: 500 } },
        opcua: { enabled: false },
        http: { host: '127.0.0.1', port: httpPort },
      }),
    );
    const down = new Downstream(url);
    await waitFor(() => down.ready);

    let agent = startAgent(configPath);
    await waitHealthy(base);
    const acked: InspectionResult[] = [];
    let stop = false;
    const loops = [0, 1, 2, 3].map(async (k) => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await fetch(`${base}/api/v1/frames?station=st${(k % 2) + 1}&partId=k${k}-${i}`, {
            method: 'POST',
            body: makePpm(16, 16, (i * 7) % 255),
            headers: { 'content-type': 'application/octet-stream' },
          });
          if (res.ok) acked.push((await res.json()) as InspectionResult);
        } catch {
          return; // the agent is gone
        }
      }
    });
    await waitFor(() => acked.length >= 150, 30_000, '150 acknowledged results');
    // The broker goes away too, so the outbox holds undelivered results when the agent dies.
    await broker.close();
    await waitFor(() => acked.length >= 300, 30_000, '300 acknowledged results');
    agent.kill('SIGKILL');
    stop = true;
    await Promise.all(loops);
    await new Promise<void>((r) =>
      agent.exitCode !== null || agent.signalCode ? r() : agent.once('exit', () => r()),
    );
    const beforeRestart = down.ids.size;
    expect(beforeRestart).toBeLessThan(acked.length);
    broker = await EmbeddedBroker.start('127.0.0.1', brokerPort);
    await waitFor(() => down.ready, 10_000, 'downstream back');

    agent = startAgent(configPath);
    await waitHealthy(base);
    await waitFor(
      () => acked.every((r) => down.ids.has(r.resultId)),
      30_000,
      'every acknowledged result downstream',
    );
    agent.kill('SIGTERM');
    await new Promise<void>((r) => agent.once('exit', () => r()));

    const missing = acked.filter((r) => !down.ids.has(r.resultId));
    console.log(
      `sigkill: acknowledged=${acked.length} delivered-before-kill=${beforeRestart} delivered-total=${down.ids.size} duplicates=${down.duplicates} missing=${missing.length}`,
    );
    expect(missing).toEqual([]);
    // At-least-once: a result published but not yet deleted when the process died is sent again, at most one window.
    expect(down.duplicates).toBeLessThanOrEqual(64 * 2);
    // Per-station order is kept downstream. Two client loops share each station, and their acknowledgements
    // race on the way back, so the order to check is each loop's own: it sends a frame only after the previous
    // one was acknowledged, so its frames were stored in that order.
    for (const k of [0, 1, 2, 3]) {
      const got = (down.byStation.get(`st${(k % 2) + 1}`) ?? []).filter((p) => p.startsWith(`k${k}-`));
      const order = acked.filter((r) => r.partId.startsWith(`k${k}-`)).map((r) => r.partId);
      expect(order.length).toBeGreaterThan(0);
      expect(got.filter((p) => order.includes(p))).toEqual(order.filter((p) => got.includes(p)));
    }
    await down.close();
    await broker.close();
  });
});
