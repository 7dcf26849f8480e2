import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection, StorageType } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamSink } from '../src/nats/jetstream-sink.js';
import { fakeResult, haveNatsServer, silent, tmp, waitFor } from './helpers.js';
import { freePort } from './plc-helpers.js';

const HAVE = haveNatsServer();

// After enrolment the agent hands its JetStream sink the device's own login: the sink logs in again with it.
describe.skipIf(!HAVE)(
  `the JetStream sink changes its login${HAVE ? '' : ' (skipped: no nats-server)'}`,
  () => {
    const dir = tmp('diad-i20-jslogin-');
    let proc: ChildProcess;
    let url: string;
    let monitor: string;
    let admin: NatsConnection;
    const DEV = { user: 'diad-dev-1', pass: 'device-password-0123456789' };

    beforeAll(async () => {
      const port = await freePort();
      const http = await freePort();
      url = `nats://127.0.0.1:${port}`;
      monitor = `http://127.0.0.1:${http}`;
      mkdirSync(join(dir, 'js'), { recursive: true });
      writeFileSync(
        join(dir, 'n.conf'),
        [
          'server_name: i20-agent',
          `listen: 127.0.0.1:${port}`,
          `http: 127.0.0.1:${http}`,
          `jetstream { store_dir: "${join(dir, 'js')}" }`,
          'authorization { users: [',
          '  { user: "admin", password: "admin-password-0123" }',
          '  { user: "shared", password: "shared-password-0123" }',
          `  { user: "${DEV.user}", password: "${DEV.pass}", permissions: { publish: { allow: ["diad.plant.l1.st1.result"] }, subscribe: { allow: ["_INBOX.>"] } } }`,
          '] }',
        ].join('\n'),
      );
      proc = spawn('nats-server', ['-c', join(dir, 'n.conf')], { stdio: 'ignore' });
      for (let i = 0; i < 200 && !admin; i++) {
        admin = await connect({ servers: url, user: 'admin', pass: 'admin-password-0123' }).catch(
          () => undefined as unknown as NatsConnection,
        );
        if (!admin) await new Promise((r) => setTimeout(r, 100));
      }
      await (await admin.jetstreamManager()).streams.add({
        name: 'I20_AGENT',
        subjects: ['diad.*.*.*.result'],
        storage: StorageType.File,
      });
    });
    afterAll(async () => {
      await admin?.close();
      proc?.kill();
      rmSync(dir, { recursive: true, force: true });
    });

    const userOf = async (name: string) => {
      const r = (await (await fetch(`${monitor}/connz?auth=true`)).json()) as {
        connections?: Array<{ name?: string; authorized_user?: string }>;
      };
      return r.connections?.find((c) => c.name === name)?.authorized_user;
    };

    it('reconnects with the device login and publishes with it', async () => {
      const sink = new JetStreamSink({
        servers: [url],
        user: 'shared',
        password: 'shared-password-0123',
        address: { site: 'plant', line: 'l1', station: 'st1' },
        logger: silent,
        ackTimeoutMs: 2000,
      });
      sink.start();
      try {
        await waitFor(() => sink.connected, 10_000, 'connected as the shared user');
        expect(await userOf('diad-agent-st1')).toBe('shared');
        sink.setCredentials(DEV.user, DEV.pass);
        let who: string | undefined;
        for (let i = 0; i < 100 && who !== DEV.user; i++) {
          who = await userOf('diad-agent-st1');
          if (who !== DEV.user) await new Promise((r) => setTimeout(r, 100));
        }
        expect(who).toBe(DEV.user);
        await waitFor(() => sink.connected, 10_000, 'connected as the device');
        await sink.publishResult(fakeResult('st1', 1));
        const info = await (await admin.jetstreamManager()).streams.info('I20_AGENT');
        expect(info.state.messages).toBe(1);
      } finally {
        await sink.close();
      }
    });
  },
);
