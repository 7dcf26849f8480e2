import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@diad/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BrokerIdentity,
  BrokerIdentityError,
  brokerIdentity,
} from '../../src/fleet/broker-identities/identity.js';
import { MosquittoDynsecProvisioner } from '../../src/fleet/broker-identities/mosquitto-dynsec.js';
import { NatsConfigProvisioner, renderUsersFile } from '../../src/fleet/broker-identities/nats-config.js';
import type { BrokerIdentityProvisioner } from '../../src/fleet/broker-identities/provisioner.js';
import { dynsecPlugin, mosquittoBinary, mqttLogin, startMosquitto } from '../helpers/mosquitto.js';
import { freePort, haveNatsServer, NatsNode } from '../helpers/nats-server.js';

const SECRET = 'broker-identity-test-secret-0123456789abcdef';
const st1 = { site: 'plant', line: 'l1', station: 's1' };
const st2 = { site: 'plant', line: 'l1', station: 's2' };
const until = async (what: string, f: () => boolean | Promise<boolean>, ms = 5000) => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** What the contract needs from one broker: a device session that says whether a publish was taken. */
interface DeviceSession {
  /** 'taken' once the broker accepted it (and an observer saw it); 'refused' when the broker said no. */
  publish(topic: string): Promise<'taken' | 'refused'>;
  /** Resolves when the broker has closed this session. */
  closed(): Promise<void>;
  close(): Promise<void>;
}
interface BrokerUnderTest {
  provisioner: BrokerIdentityProvisioner;
  /** Logs in as the identity; rejects with the broker's refusal. */
  login(identity: Pick<BrokerIdentity, 'username' | 'password'>): Promise<DeviceSession>;
  /** Every message the observer (a privileged subscriber to diad/#) received, by topic. */
  seen: string[];
}

function contract(
  name: string,
  available: string | null,
  setup: () => Promise<BrokerUnderTest & { stop(): Promise<void> }>,
) {
  describe.skipIf(available !== null)(
    `broker identities: ${name}${available ? ` (skipped: ${available})` : ''}`,
    () => {
      let b: BrokerUnderTest & { stop(): Promise<void> };
      const a = brokerIdentity(SECRET, '0190c0de-0000-7000-8000-00000000000a', st1);
      beforeAll(async () => {
        b = await setup();
      }, 60_000);
      afterAll(async () => {
        await b?.stop();
      });

      it('a provisioned device publishes its own result and status; the observer receives them', async () => {
        await b.provisioner.provision(a);
        const s = await b.login(a);
        try {
          expect(await s.publish(topics.result(st1))).toBe('taken');
          expect(await s.publish(topics.status(st1))).toBe('taken');
          await until('the observer to see both', () => b.seen.includes(topics.status(st1)));
          expect(b.seen).toContain(topics.result(st1));
        } finally {
          await s.close();
        }
      });

      it("is refused publishing another station's topic, and nothing reaches the observer", async () => {
        // A session per attempt: Mosquitto closes the connection after answering a refused publish with 0x87.
        for (const topic of [topics.result(st2), topics.status(st2), 'diad/other-site/l1/s1/result']) {
          const s = await b.login(a);
          try {
            expect(await s.publish(topic), topic).toBe('refused');
          } finally {
            await s.close();
          }
        }
        await new Promise((r) => setTimeout(r, 200));
        expect(b.seen.filter((t) => t !== topics.result(st1) && t !== topics.status(st1))).toEqual([]);
      });

      it('refuses a wrong password and an unknown user', async () => {
        await expect(b.login({ username: a.username, password: `${a.password}x` })).rejects.toThrow(
          /not authori[sz]ed|bad user name or password|authorization/i,
        );
        await expect(b.login({ username: 'diad-dev-nobody', password: a.password })).rejects.toThrow(
          /not authori[sz]ed|bad user name or password|authorization/i,
        );
      });

      it('provisioning again is idempotent (a retried enrolment)', async () => {
        await b.provisioner.provision(a);
        await b.provisioner.provision(a);
        const s = await b.login(a);
        expect(await s.publish(topics.result(st1))).toBe('taken');
        await s.close();
      });

      it('a revoked (disabled) device is disconnected and can no longer log in; re-enabling restores it', async () => {
        const s = await b.login(a);
        const gone = s.closed();
        await b.provisioner.revoke(a);
        await gone;
        await expect(b.login(a)).rejects.toThrow(
          /not authori[sz]ed|bad user name or password|authorization/i,
        );
        await b.provisioner.revoke(a); // idempotent
        await b.provisioner.provision(a);
        const again = await b.login(a);
        expect(await again.publish(topics.result(st1))).toBe('taken');
        await again.close();
      });

      it('a removed device can no longer log in', async () => {
        const c = brokerIdentity(SECRET, '0190c0de-0000-7000-8000-00000000000c', st2);
        await b.provisioner.provision(c);
        (await b.login(c)).close();
        await b.provisioner.remove(c);
        await expect(b.login(c)).rejects.toThrow(
          /not authori[sz]ed|bad user name or password|authorization/i,
        );
        await b.provisioner.remove(c); // idempotent
      });
    },
  );
}

// ---------------------------------------------------------------- Mosquitto, dynamic-security plugin

const ADMIN = { username: 'diad-admin', password: 'admin-password-0123456789' };

function mqttSession(c: MqttClient, seen: string[]): DeviceSession {
  const codes = new Map<number, number>();
  c.on('packetreceive', (p) => {
    if (p.cmd === 'puback' && p.messageId !== undefined) codes.set(p.messageId, p.reasonCode ?? 0);
  });
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  return {
    publish: (topic) =>
      new Promise((resolve, reject) => {
        c.publish(topic, JSON.stringify({ probe: topic }), { qos: 1 }, (err, packet) => {
          const code =
            (err as { code?: number } | undefined)?.code ?? codes.get(packet?.messageId ?? -1) ?? 0;
          // 0x87 "not authorized" is Mosquitto's answer to a publish its ACL refuses.
          if (code === 0x87) return resolve('refused');
          if (err || code >= 0x80)
            return reject(new Error(`unexpected PUBACK 0x${code.toString(16)} ${err?.message ?? ''}`));
          until(`observer to see ${topic}`, () => seen.includes(topic)).then(() => resolve('taken'), reject);
        });
      }),
    closed: () => closed,
    // A connection the broker already closed is only torn down here (endAsync would wait for a DISCONNECT).
    close: () => new Promise<void>((r) => c.end(true, {}, () => r())),
  };
}

contract(
  'mosquitto-dynsec',
  !mosquittoBinary()
    ? 'mosquitto is not installed'
    : !dynsecPlugin()
      ? 'mosquitto_dynamic_security.so is absent'
      : null,
  async () => {
    const broker = await startMosquitto({ dynsec: ADMIN });
    const provisioner = new MosquittoDynsecProvisioner({ url: broker.url, ...ADMIN, timeoutMs: 3000 });
    // The observer stands in for the control plane: a client with a role that may subscribe to every result.
    await provisioner.run([
      [
        {
          command: 'createRole',
          rolename: 'observer',
          acls: [{ acltype: 'subscribePattern', topic: 'diad/#', allow: true }],
        },
        null,
      ],
      [
        {
          command: 'createClient',
          username: 'observer',
          password: 'observer-password-123',
          roles: [{ rolename: 'observer' }],
        },
        null,
      ],
    ]);
    const seen: string[] = [];
    const observer = await mqttLogin(broker.url, { username: 'observer', password: 'observer-password-123' });
    await observer.subscribeAsync('diad/#', { qos: 1 });
    observer.on('message', (t) => seen.push(t));
    return {
      provisioner,
      seen,
      login: async (id) => mqttSession(await mqttLogin(broker.url, id), seen),
      stop: async () => {
        await observer.endAsync();
        await broker.close();
      },
    };
  },
);

describe.skipIf(!mosquittoBinary() || !dynsecPlugin())('mosquitto-dynsec failures name the problem', () => {
  it('an unreachable broker', async () => {
    const p = new MosquittoDynsecProvisioner({
      url: `mqtt://127.0.0.1:${await freePort()}`,
      ...ADMIN,
      timeoutMs: 1000,
    });
    await expect(p.provision(brokerIdentity(SECRET, 'x', st1))).rejects.toThrow(
      /mosquitto dynamic security at mqtt:\/\/127\.0\.0\.1:\d+: cannot connect as diad-admin: .*ECONNREFUSED/,
    );
  });
  it('a wrong admin password', async () => {
    const broker = await startMosquitto({ dynsec: ADMIN });
    try {
      const p = new MosquittoDynsecProvisioner({
        url: broker.url,
        username: ADMIN.username,
        password: 'wrong-one',
        timeoutMs: 2000,
      });
      const e = await p.provision(brokerIdentity(SECRET, 'x', st1)).catch((x) => x);
      expect(e).toBeInstanceOf(BrokerIdentityError);
      expect(e.message).toMatch(
        /cannot connect as diad-admin: .*(Bad User Name or Password|Not authorized)/i,
      );
    } finally {
      await broker.close();
    }
  });
  it('a broker without the plugin (no answer on the response topic)', async () => {
    const broker = await startMosquitto();
    try {
      const p = new MosquittoDynsecProvisioner({ url: broker.url, ...ADMIN, timeoutMs: 500 });
      await expect(p.provision(brokerIdentity(SECRET, 'x', st1))).rejects.toThrow(
        /no answer on \$CONTROL\/dynamic-security\/v1\/response within 500 ms \(is the dynamic-security plugin loaded/,
      );
    } finally {
      await broker.close();
    }
  });
});

// ---------------------------------------------------------------- NATS, generated users file + reload

const CP_USER = { username: 'control-plane', password: 'control-plane-password-0123' };

function natsSession(nc: NatsConnection, seen: string[]): DeviceSession {
  const violations: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') violations.push(String(s.data));
  })();
  return {
    publish: async (topic) => {
      const subject = topic.replaceAll('/', '.');
      const before = violations.length;
      nc.publish(subject, JSON.stringify({ probe: topic }));
      await nc.flush();
      // The server answers a refused publish with -ERR 'Permissions Violation for Publish to ...'.
      await until(`an answer for ${subject}`, () => violations.length > before || seen.includes(topic), 3000);
      if (violations.length > before) {
        expect(violations.at(-1)).toMatch(/PERMISSIONS_VIOLATION|Permissions Violation/i);
        return 'refused';
      }
      return 'taken';
    },
    closed: () => nc.closed().then(() => {}),
    close: () => nc.close(),
  };
}

contract('nats-config', haveNatsServer() ? null : 'nats-server is not installed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'diad-i20-nats-'));
  const usersFile = join(dir, 'diad-users.conf');
  const pidFile = join(dir, 'nats.pid');
  // The file must exist (with the control plane's own user) before the first start: nats.conf includes it.
  writeFileSync(usersFile, renderUsersFile([CP_USER], []));
  const node = new NatsNode(
    { name: 'i20', port: await freePort(), extra: [`include "diad-users.conf"`, `pid_file: "${pidFile}"`] },
    dir,
  );
  await node.start();
  const devices: BrokerIdentity[] = [];
  const provisioner = new NatsConfigProvisioner({
    usersFile,
    pidFiles: [pidFile],
    url: node.url,
    staticUsers: [CP_USER],
    enabledDevices: async () => devices,
    timeoutMs: 5000,
  });
  const seen: string[] = [];
  const observer = await connect({ servers: node.url, user: CP_USER.username, pass: CP_USER.password });
  const sub = observer.subscribe('diad.>');
  void (async () => {
    for await (const m of sub) seen.push(m.subject.replaceAll('.', '/'));
  })();
  await observer.flush();
  return {
    provisioner,
    seen,
    login: async (id) =>
      natsSession(
        await connect({ servers: node.url, user: id.username, pass: id.password, reconnect: false }),
        seen,
      ),
    stop: async () => {
      await observer.close();
      await provisioner.close();
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('nats users file', () => {
  it('gives each device its station subjects (JetStream and MQTT-listener forms) and the inbox only', () => {
    const text = renderUsersFile(
      [CP_USER],
      [brokerIdentity(SECRET, 'd1', { site: 'p', line: 'l.1', station: 's' })],
    );
    expect(text).toContain('{ user: "control-plane", password: "control-plane-password-0123" }');
    expect(text).toContain(
      'publish: { allow: ["diad.p.l.1.s.result", "diad.p.l//1.s.result", "diad.p.l.1.s.status", "diad.p.l//1.s.status"] }, subscribe: { allow: ["_INBOX.>"] }',
    );
    expect(text).not.toContain('"diad.>"');
  });

  it.skipIf(!haveNatsServer())('an unsignalable pid file and an unreachable server are named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diad-i20-nats-bad-'));
    try {
      const p = new NatsConfigProvisioner({
        usersFile: join(dir, 'u.conf'),
        pidFiles: [join(dir, 'missing.pid')],
        url: `nats://127.0.0.1:${await freePort()}`,
        staticUsers: [],
        enabledDevices: async () => [],
        timeoutMs: 300,
      });
      await expect(p.provision(brokerIdentity(SECRET, 'x', st1))).rejects.toThrow(
        /nats-server pid file .*missing\.pid: unreadable/,
      );
      expect(readFileSync(join(dir, 'u.conf'), 'utf8')).toContain('diad-dev-x');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// On a NATS site broker the agent's status (and results, without mqtt.jetstream) go through NATS' MQTT listener,
// which checks the same user permissions against the topic's subject.
describe.skipIf(!haveNatsServer())('nats-config: the MQTT listener applies the same logins', () => {
  it('a device publishes its own topics over MQTT 3.1.1, not another station’s, and a wrong password is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diad-i20-natsmqtt-'));
    const usersFile = join(dir, 'diad-users.conf');
    const pidFile = join(dir, 'nats.pid');
    writeFileSync(usersFile, renderUsersFile([CP_USER], []));
    const mqttPort = await freePort();
    const node = new NatsNode(
      {
        name: 'i20m',
        port: await freePort(),
        mqttPort,
        extra: ['include "diad-users.conf"', `pid_file: "${pidFile}"`],
      },
      dir,
    );
    await node.start();
    const seen: string[] = [];
    const observer = await connect({ servers: node.url, user: CP_USER.username, pass: CP_USER.password });
    try {
      const sub = observer.subscribe('diad.>');
      void (async () => {
        for await (const m of sub) seen.push(m.subject);
      })();
      await observer.flush();
      const a = brokerIdentity(SECRET, '0190c0de-0000-7000-8000-0000000000aa', st1);
      const p = new NatsConfigProvisioner({
        usersFile,
        pidFiles: [pidFile],
        url: node.url,
        staticUsers: [CP_USER],
        enabledDevices: async () => [],
        timeoutMs: 5000,
      });
      await p.provision(a);
      const url = `mqtt://127.0.0.1:${mqttPort}`;
      const login = (password: string) =>
        new Promise<MqttClient>((resolve, reject) => {
          const c = mqtt.connect(url, {
            username: a.username,
            password,
            protocolVersion: 4,
            reconnectPeriod: 0,
          });
          c.once('connect', () => resolve(c));
          c.once('error', (e) => {
            c.end(true);
            reject(e);
          });
        });
      await expect(login(`${a.password}x`)).rejects.toThrow(/not authori[sz]ed|bad user name or password/i);
      const c = await login(a.password);
      await c.publishAsync(topics.status(st1), '{}', { qos: 1, retain: true });
      await c.publishAsync(topics.result(st1), '{}', { qos: 1 });
      await until('the observer to see both', () => seen.includes('diad.plant.l1.s1.result'));
      expect(seen).toContain('diad.plant.l1.s1.status');
      // A 3.1.1 PUBACK cannot say "refused": what shows is that the message never reaches a subscriber.
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      await c.publishAsync(topics.result(st2), '{}', { qos: 1 }).catch(() => {});
      await Promise.race([closed, new Promise((r) => setTimeout(r, 500))]);
      expect(seen).not.toContain('diad.plant.l1.s2.result');
      c.end(true);
    } finally {
      await observer.close();
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
