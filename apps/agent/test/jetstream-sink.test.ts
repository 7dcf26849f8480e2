import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { connect, DiscardPolicy, type NatsConnection, StorageType } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { JetStreamSink } from '../src/nats/jetstream-sink.js';
import { OutboxDrainer } from '../src/outbox/drainer.js';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { fakeResult, haveNatsServer, silent, tmp, waitFor } from './helpers.js';

const HAVE = haveNatsServer();
if (!HAVE) console.log('jetstream sink tests skipped: no nats-server binary (Debian package nats-server)');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// The outbox deletes a result only once the stream stored it: a stream that refuses (full, discard new) makes
// the publish fail and the entry stays, unlike NATS' MQTT listener, which acknowledges it anyway.
describe.skipIf(!HAVE)('results published straight into JetStream', () => {
  const dir = tmp('diad-i15-js-');
  let proc: ChildProcess;
  let url: string;
  let nc: NatsConnection;

  beforeAll(async () => {
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    mkdirSync(join(dir, 'js'), { recursive: true });
    writeFileSync(
      join(dir, 'n.conf'),
      `server_name: i15-agent\nlisten: 127.0.0.1:${port}\njetstream { store_dir: "${join(dir, 'js')}" }\n`,
    );
    proc = spawn('nats-server', ['-c', join(dir, 'n.conf')], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !nc; i++) {
      nc = await connect({ servers: url }).catch(() => undefined as unknown as NatsConnection);
      if (!nc) await new Promise((r) => setTimeout(r, 100));
    }
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({
      name: 'I15_AGENT',
      subjects: ['diad.*.*.*.result'],
      storage: StorageType.File,
      max_msgs: 5,
      discard: DiscardPolicy.New,
    });
  }, 60_000);
  afterAll(async () => {
    await nc?.close();
    proc?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps what the stream refused in the outbox and delivers it once there is room', async () => {
    const station = 'st1';
    const sink = new JetStreamSink({
      servers: [url],
      address: { site: 'plant', line: 'l1', station },
      logger: silent,
      ackTimeoutMs: 2000,
    });
    sink.start();
    await waitFor(() => sink.connected, 10_000, 'jetstream sink connected');
    const outbox = new MemoryOutbox(1 << 20);
    const sent = Array.from({ length: 8 }, (_, i) => fakeResult(station, i));
    for (const r of sent) outbox.append(r);
    const drainer = new OutboxDrainer({
      outbox,
      station,
      sink,
      clock: systemClock,
      backoff: { initialMs: 100, maxMs: 500 },
      inflight: 1,
      logger: silent,
    });
    drainer.start();
    const jsm = await nc.jetstreamManager();
    await waitFor(() => outbox.peek(100).length === 3, 20_000, 'five stored');
    expect((await jsm.streams.info('I15_AGENT')).state.messages).toBe(5);
    // Three wait in the outbox; never acknowledged, never lost.
    await new Promise((r) => setTimeout(r, 1000));
    expect(outbox.peek(100).map((e) => e.result.resultId)).toEqual(sent.slice(5).map((r) => r.resultId));
    // Room again (a consumer took the messages): the rest arrive.
    await jsm.streams.purge('I15_AGENT');
    await waitFor(() => outbox.peek(100).length === 0, 20_000, 'outbox drained');
    expect((await jsm.streams.info('I15_AGENT')).state.messages).toBe(3);
    await drainer.stop();
    await sink.close();
  }, 60_000);
});
