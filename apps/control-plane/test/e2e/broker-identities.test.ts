import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@diad/protocol';
import type { MqttClient } from 'mqtt';
import { connect as natsConnect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedAgent } from '../helpers/agent.js';
import { type Client, client, type Harness, login, startHarness } from '../helpers/harness.js';
import { dynsecPlugin, mosquittoBinary, mqttLogin, startMosquitto } from '../helpers/mosquitto.js';
import { freePort, haveNatsServer, NatsNode } from '../helpers/nats-server.js';

const ADMIN = { username: 'diad-admin', password: 'admin-password-0123456789' };
const CP_PASSWORD = 'control-plane-password-0123';
const MISSING = !mosquittoBinary()
  ? 'mosquitto is not installed'
  : !dynsecPlugin()
    ? 'mosquitto_dynamic_security.so is absent'
    : null;

/** A TCP relay to the broker that can be cut, so the control plane sees the broker go away and come back. */
async function relay(port: number): Promise<{ url: string; down: boolean; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { down: false };
  const server: Server = createServer((s) => {
    if (state.down) return s.destroy();
    const up = netConnect(port, '127.0.0.1');
    for (const x of [s, up]) {
      sockets.add(x);
      x.on('error', () => {});
      x.on('close', () => sockets.delete(x));
    }
    s.pipe(up).pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
      if (v) for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The PUBACK reason code of one QoS 1 publish (0 taken, 0x10 taken but nobody subscribes, 0x87 refused). */
function pubackCode(c: MqttClient, topic: string, payload = '{}'): Promise<number> {
  return new Promise((resolve) => {
    let code = 0;
    const onPacket = (p: { cmd: string; reasonCode?: number }) => {
      if (p.cmd === 'puback') code = p.reasonCode ?? 0;
    };
    c.on('packetreceive', onPacket);
    c.publish(topic, payload, { qos: 1 }, (err) => {
      c.removeListener('packetreceive', onPacket);
      resolve((err as { code?: number } | undefined)?.code ?? code);
    });
  });
}

/** Site plant, line l1, station s1; the station's id. */
async function plantL1S1(admin: Client): Promise<string> {
  const site = (await admin.post('/api/v1/sites', { code: 'plant', name: 'p' })).body;
  const line = (await admin.post('/api/v1/lines', { siteId: site.id, code: 'l1', name: 'l' })).body;
  return (await admin.post('/api/v1/stations', { lineId: line.id, code: 's1', name: 's' })).body.id;
}

describe.skipIf(MISSING !== null)(
  `enrolment provisions a Mosquitto identity; disable revokes it${MISSING ? ` (skipped: ${MISSING})` : ''}`,
  () => {
    let broker: Awaited<ReturnType<typeof startMosquitto>>;
    let link: Awaited<ReturnType<typeof relay>>;
    let h: Harness;
    let admin: Client;
    let stationId: string;
    const token = async () =>
      (await admin.post('/api/v1/enrolment-tokens', { stationId })).body.token as string;

    beforeAll(async () => {
      broker = await startMosquitto({ dynsec: ADMIN });
      link = await relay(Number(new URL(broker.url).port));
      // The control plane's own login, made as docs/mqtt.md tells the operator to.
      const port = new URL(broker.url).port;
      const ctrl = (...args: string[]) =>
        execFileSync('mosquitto_ctrl', [
          '-h',
          '127.0.0.1',
          '-p',
          port,
          '-u',
          ADMIN.username,
          '-P',
          ADMIN.password,
          'dynsec',
          ...args,
        ]);
      ctrl('createRole', 'control-plane');
      ctrl('addRoleACL', 'control-plane', 'subscribePattern', '$share/control-plane/diad/#', 'allow');
      ctrl('addRoleACL', 'control-plane', 'subscribePattern', 'diad/#', 'allow');
      ctrl('addRoleACL', 'control-plane', 'publishClientSend', 'diad/_canary/#', 'allow');
      ctrl('createClient', 'control-plane', '-p', CP_PASSWORD);
      ctrl('addClientRole', 'control-plane', 'control-plane');
      h = await startHarness('pglite', {
        mqttUrl: broker.url,
        mqttUsername: 'control-plane',
        mqttPassword: CP_PASSWORD,
        brokerIdentities: 'mosquitto-dynsec',
        brokerIdentitySecret: 'broker-identity-e2e-secret-0123456789abcdef',
        brokerAdminUrl: link.url,
        brokerAdminUsername: ADMIN.username,
        brokerAdminPassword: ADMIN.password,
        brokerTimeoutMs: 1500,
      });
      admin = client(h.cp.url, await login(h.cp.url));
      stationId = await plantL1S1(admin);
    }, 60_000);
    afterAll(async () => {
      await h?.close();
      await link?.close();
      await broker?.close();
    });

    it("enrolment answers the device's broker login, which may publish only its own station's topics", async () => {
      const agent = new ScriptedAgent(h.cp.url);
      const res = await agent.enrol(await token());
      expect(res.broker).toEqual({ username: `diad-dev-${res.deviceId}`, password: expect.any(String) });
      expect(res.broker.password.length).toBeGreaterThanOrEqual(43);
      const c = await mqttLogin(broker.url, res.broker);
      const own = topics.result({ site: 'plant', line: 'l1', station: 's1' });
      // Nobody subscribes here, so "taken" is 0x10 (no matching subscribers), never 0x87.
      expect([0, 0x10]).toContain(await pubackCode(c, own));
      expect(await pubackCode(c, topics.result({ site: 'plant', line: 'l1', station: 's2' }))).toBe(0x87);
      c.end(true);
    });

    it('a result the device publishes with its login is taken by the broker and stored by the control plane', async () => {
      const agent = new ScriptedAgent(h.cp.url);
      const res = await agent.enrol(await token());
      const c = await mqttLogin(broker.url, res.broker);
      const r = agent.result();
      // 0x00: the control plane's shared subscription is there, so the broker delivered it.
      expect(await pubackCode(c, topics.result(agent.address!), JSON.stringify(r))).toBe(0);
      const stored = async () =>
        (await admin.get(`/api/v1/results?partId=${r.partId}&limit=5`)).body.items?.length ?? 0;
      const end = Date.now() + 10_000;
      while ((await stored()) === 0 && Date.now() < end) await new Promise((x) => setTimeout(x, 100));
      expect(await stored()).toBe(1);
      c.end(true);
    });

    it('disabling the device disconnects it and refuses its login; re-enabling restores it', async () => {
      const agent = new ScriptedAgent(h.cp.url);
      const res = await agent.enrol(await token());
      const c = await mqttLogin(broker.url, res.broker);
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      expect((await admin.patch(`/api/v1/devices/${res.deviceId}`, { disabled: true })).status).toBe(200);
      await closed;
      await expect(mqttLogin(broker.url, res.broker)).rejects.toThrow(/not authori[sz]ed|bad user name/i);
      expect((await admin.patch(`/api/v1/devices/${res.deviceId}`, { disabled: false })).status).toBe(200);
      (await mqttLogin(broker.url, res.broker)).end(true);
    });

    it('with the broker unreachable, enrolment fails with 503 naming it and leaves the token unused for a retry', async () => {
      const t = await token();
      link.down = true;
      const agent = new ScriptedAgent(h.cp.url);
      const r = await client(h.cp.url).post('/api/v1/agent/enrol', {
        token: t,
        hostname: 'edge-x',
        agentVersion: '0.1.0',
        publicKey: agent.key.publicKey,
      });
      expect(r.status).toBe(503);
      expect(r.body.message).toMatch(
        /broker identity diad-dev-\S+ could not be provisioned, nothing was changed; retry once the broker is back: mosquitto dynamic security at mqtt:\/\/127\.0\.0\.1:\d+: cannot connect as diad-admin/,
      );
      const before = (await admin.get('/api/v1/devices')).body.length;
      link.down = false;
      const res = await agent.enrol(t);
      expect((await admin.get('/api/v1/devices')).body.length).toBe(before + 1);
      (await mqttLogin(broker.url, res.broker)).end(true);
    });

    it('with the broker unreachable, disabling fails with 503 and the device stays enabled', async () => {
      const res = await new ScriptedAgent(h.cp.url).enrol(await token());
      link.down = true;
      try {
        const r = await admin.patch(`/api/v1/devices/${res.deviceId}`, { disabled: true });
        expect(r.status).toBe(503);
        expect(r.body.message).toMatch(/could not be revoked, nothing was changed/);
        expect((await admin.get(`/api/v1/devices/${res.deviceId}`)).body.disabled).toBe(false);
      } finally {
        link.down = false;
      }
      expect((await admin.patch(`/api/v1/devices/${res.deviceId}`, { disabled: true })).status).toBe(200);
      await expect(mqttLogin(broker.url, res.broker)).rejects.toThrow(/not authori[sz]ed|bad user name/i);
    });
  },
);

describe.skipIf(!haveNatsServer())(
  `enrolment provisions a NATS user; disable removes it${haveNatsServer() ? '' : ' (skipped: nats-server is not installed)'}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'diad-i20-e2e-nats-'));
    const usersFile = join(dir, 'diad-users.conf');
    const CP = { user: 'control-plane', pass: 'control-plane-password-0123' };
    let node: NatsNode;
    let h: Harness;
    let admin: Client;
    let stationId: string;

    beforeAll(async () => {
      // Only the control plane's own user until the control plane writes the file at its start.
      writeFileSync(
        usersFile,
        `authorization { users: [ { user: "${CP.user}", password: "${CP.pass}" } ] }\n`,
      );
      node = new NatsNode(
        {
          name: 'i20e',
          port: await freePort(),
          extra: ['include "diad-users.conf"', `pid_file: "${join(dir, 'nats.pid')}"`],
        },
        dir,
      );
      await node.start();
      h = await startHarness('pglite', {
        natsUrl: node.url,
        natsUser: CP.user,
        natsPassword: CP.pass,
        brokerIdentities: 'nats-config',
        brokerIdentitySecret: 'broker-identity-e2e-secret-0123456789abcdef',
        brokerNatsUsersFile: usersFile,
        brokerNatsPidFiles: join(dir, 'nats.pid'),
        brokerTimeoutMs: 5000,
      });
      admin = client(h.cp.url, await login(h.cp.url));
      stationId = await plantL1S1(admin);
    }, 60_000);
    afterAll(async () => {
      await h?.close();
      await node?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the enrolled login publishes its own subject only; disable refuses it, re-enable restores it', async () => {
      const t = (await admin.post('/api/v1/enrolment-tokens', { stationId })).body.token;
      const res = await new ScriptedAgent(h.cp.url).enrol(t);
      expect(res.broker.username).toBe(`diad-dev-${res.deviceId}`);
      const nc = await natsConnect({
        servers: node.url,
        user: res.broker.username,
        pass: res.broker.password,
        reconnect: false,
      });
      const errors: string[] = [];
      void (async () => {
        for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.data));
      })();
      nc.publish('diad.plant.l1.s1.result', '{}');
      await nc.flush();
      expect(errors).toEqual([]);
      nc.publish('diad.plant.l1.s2.result', '{}');
      await nc.flush();
      await new Promise((r) => setTimeout(r, 200));
      expect(errors.join()).toMatch(/PERMISSIONS_VIOLATION|Permissions Violation/i);
      const closed = nc.closed();
      expect((await admin.patch(`/api/v1/devices/${res.deviceId}`, { disabled: true })).status).toBe(200);
      await closed;
      await expect(
        natsConnect({
          servers: node.url,
          user: res.broker.username,
          pass: res.broker.password,
          reconnect: false,
        }),
      ).rejects.toThrow(/authorization/i);
      expect(readFileSync(usersFile, 'utf8')).not.toContain(res.broker.username);
      expect((await admin.patch(`/api/v1/devices/${res.deviceId}`, { disabled: false })).status).toBe(200);
      await (
        await natsConnect({ servers: node.url, user: res.broker.username, pass: res.broker.password })
      ).close();
    });
  },
);

describe('broker identities are off by default', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('pglite');
  });
  afterAll(() => h?.close());
  it('enrolment answers no broker login', async () => {
    const admin = client(h.cp.url, await login(h.cp.url));
    const site = (await admin.post('/api/v1/sites', { code: 'p', name: 'p' })).body;
    const line = (await admin.post('/api/v1/lines', { siteId: site.id, code: 'l', name: 'l' })).body;
    const st = (await admin.post('/api/v1/stations', { lineId: line.id, code: 's', name: 's' })).body;
    const res = await new ScriptedAgent(h.cp.url).enrol(
      (await admin.post('/api/v1/enrolment-tokens', { stationId: st.id })).body.token,
    );
    expect(res.broker).toBeUndefined();
  });
});
