import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StationPublisher } from '../src/mqtt/publisher.js';
import { FakeClock, fakeResult, silent, tmp, waitFor } from './helpers.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.runIf(hasOpenssl)('MQTT over TLS with username/password', () => {
  const dir = tmp();
  let broker: Aedes;
  let server: Server;
  let port = 0;
  const received: string[] = [];

  beforeAll(async () => {
    const r = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    expect(r.status).toBe(0);
    broker = await Aedes.createBroker({
      authenticate: (_c, u, p, done) => done(null, u === 'agent' && p?.toString() === 's3cret-pass'),
    });
    broker.on('publish', (packet) => {
      if (packet.topic.endsWith('/result')) received.push(JSON.parse(packet.payload.toString()).resultId);
    });
    server = createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      broker.handle,
    );
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });

  const pub = (opts: { password: string; ca?: boolean }, clock = new FakeClock()) =>
    new StationPublisher({
      address: { site: 'site1', line: 'line1', station: 'tls' },
      connection: {
        url: `mqtts://127.0.0.1:${port}`,
        username: 'agent',
        password: opts.password,
        tls: { ca: opts.ca === false ? undefined : join(dir, 'cert.pem'), rejectUnauthorized: true },
        backoff: { initialMs: 1000, maxMs: 1000 },
      },
      deviceId: 'dev1',
      status: () => ({
        deviceId: 'dev1',
        state: 'online',
        model: null,
        provider: null,
        queueDepth: 0,
        outboxDepth: 0,
      }),
      clock,
      logger: silent,
    });

  it('connects with the CA and credentials and publishes', async () => {
    const p = pub({ password: 's3cret-pass' });
    p.start();
    await waitFor(() => p.connected, 5000, 'tls connect');
    const r = fakeResult('tls', 1);
    await p.publishResult(r);
    expect(received).toContain(r.resultId);
    await p.close();
  });

  it('is refused with a wrong password, and without the CA, and schedules a retry', async () => {
    for (const opts of [{ password: 'wrong' }, { password: 's3cret-pass', ca: false }]) {
      const clock = new FakeClock();
      const p = pub(opts, clock);
      p.start();
      await waitFor(() => clock.pending > 0, 5000, 'retry scheduled');
      expect(p.connected).toBe(false);
      await p.link.close();
    }
  });
});
