import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../src/config.js';
import {
  brokerIdentity,
  brokerPassword,
  mqttSubject,
  natsSubjects,
} from '../../src/fleet/broker-identities/identity.js';

const base = { JWT_SECRET: 'x'.repeat(32) };
const SECRET = 's'.repeat(32);

describe('broker identity configuration', () => {
  it('is off by default', () => {
    expect(configFromEnv(base).brokerIdentities).toBe('none');
  });

  it('names what each mode is missing', () => {
    expect(() => configFromEnv({ ...base, BROKER_IDENTITIES: 'mosquitto' })).toThrow(
      /BROKER_IDENTITIES: Invalid option: expected one of "none"\|"mosquitto-dynsec"\|"nats-config"/,
    );
    expect(() => configFromEnv({ ...base, BROKER_IDENTITIES: 'mosquitto-dynsec' })).toThrow(
      /BROKER_IDENTITY_SECRET: BROKER_IDENTITIES other than "none" needs brokerIdentitySecret/,
    );
    expect(() =>
      configFromEnv({ ...base, BROKER_IDENTITIES: 'mosquitto-dynsec', BROKER_IDENTITY_SECRET: SECRET }),
    ).toThrow(/BROKER_ADMIN_USERNAME: .*needs the dynamic-security admin/);
    expect(() =>
      configFromEnv({ ...base, BROKER_IDENTITIES: 'nats-config', BROKER_IDENTITY_SECRET: SECRET }),
    ).toThrow(/BROKER_NATS_USERS_FILE: .*needs brokerNatsUsersFile, brokerNatsPidFiles and natsUrl/);
    expect(() => configFromEnv({ ...base, BROKER_IDENTITY_SECRET: 'short' })).toThrow(
      /BROKER_IDENTITY_SECRET: expected at least 32 characters/,
    );
  });

  it('reads a complete setting of each mode', () => {
    const m = configFromEnv({
      ...base,
      MQTT_URL: 'mqtt://broker:1883',
      BROKER_IDENTITIES: 'mosquitto-dynsec',
      BROKER_IDENTITY_SECRET: SECRET,
      BROKER_ADMIN_USERNAME: 'diad-admin',
      BROKER_ADMIN_PASSWORD: 'pw',
    });
    expect(m).toMatchObject({ brokerIdentities: 'mosquitto-dynsec', brokerTimeoutMs: 5000 });
    const n = configFromEnv({
      ...base,
      NATS_URL: 'nats://n1:4222',
      BROKER_IDENTITIES: 'nats-config',
      BROKER_IDENTITY_SECRET: SECRET,
      BROKER_NATS_USERS_FILE: '/etc/nats/diad-users.conf',
      BROKER_NATS_PID_FILES: '/run/n1.pid, /run/n2.pid',
    });
    expect(n.brokerNatsPidFiles).toEqual(['/run/n1.pid', '/run/n2.pid']);
  });
});

describe('broker identities', () => {
  it('derives a 256-bit password per device and secret', () => {
    const a = brokerPassword(SECRET, 'dev-1');
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(brokerPassword(SECRET, 'dev-1')).toBe(a);
    expect(brokerPassword(SECRET, 'dev-2')).not.toBe(a);
    expect(brokerPassword('t'.repeat(32), 'dev-1')).not.toBe(a);
    expect(brokerIdentity(SECRET, 'dev-1', { site: 's', line: 'l', station: 'st' }).username).toBe(
      'diad-dev-dev-1',
    );
  });

  it("maps topics to NATS' MQTT-listener subjects", () => {
    expect(mqttSubject('diad/s/l.1/st/result')).toBe('diad.s.l//1.st.result');
    expect(natsSubjects('diad/s/l/st/result')).toEqual(['diad.s.l.st.result']);
  });
});
