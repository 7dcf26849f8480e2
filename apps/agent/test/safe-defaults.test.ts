/**
 * Safe defaults on the line network (#20): the HTTP API stays on loopback unless a frame token is set; the
 * embedded broker needs a login beyond loopback; OPC UA and broker passwords are kept as scrypt hashes, compared
 * in constant time, and failed logins are throttled per user name.
 */
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.js';
import { EmbeddedBroker } from '../src/mqtt/broker.js';
import { hashPassword, LoginThrottle, passwordChecker, verifyPassword } from '../src/security/passwords.js';
import { standInBundle, tmp } from './helpers.js';

const base = () => ({
  site: 's',
  line: 'l',
  dataDir: tmp(),
  model: { kind: 'standin', bundle: standInBundle(tmp()) },
  stations: [{ id: 'st1' }],
  opcua: { enabled: false },
});

describe('safe defaults', () => {
  it('the HTTP API listens on loopback unless a frame token is set', () => {
    expect(parseConfig(base()).http.host).toBe('127.0.0.1');
    expect(() => parseConfig({ ...base(), http: { host: '0.0.0.0' } })).toThrow(ConfigError);
    expect(() => parseConfig({ ...base(), http: { host: '0.0.0.0' } })).toThrow(/http\.frameToken/);
    expect(parseConfig({ ...base(), http: { host: '0.0.0.0', frameToken: 'f'.repeat(16) } }).http.host).toBe(
      '0.0.0.0',
    );
  });

  it('the embedded broker needs a login beyond loopback', () => {
    const mq = (eb: object) => ({ ...base(), mqtt: { embeddedBroker: { enabled: true, ...eb } } });
    expect(() => parseConfig(mq({ host: '0.0.0.0' }))).toThrow(/embeddedBroker\.username/);
    expect(
      parseConfig(mq({ host: '0.0.0.0', username: 'u', passwordHash: hashPassword('pw') })).mqtt,
    ).toBeTruthy();
    expect(() => parseConfig(mq({ username: 'u', passwordHash: 'plain' }))).toThrow(/scrypt hash/);
  });

  it('passwords: scrypt hashes, constant-time checks, per-user throttling', () => {
    const h = hashPassword('s3cret');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(h).not.toContain('s3cret');
    expect(verifyPassword('s3cret', h)).toBe(true);
    expect(verifyPassword('s3cret!', h)).toBe(false);
    let t = 0;
    const check = passwordChecker(
      [
        { username: 'plc', passwordHash: h },
        { username: 'ops', password: 'other-pw' },
      ],
      new LoginThrottle(3, 1000, 60_000, () => t),
    );
    expect(check('ops', 'other-pw')).toBe(true);
    for (let i = 0; i < 4; i++) expect(check('plc', `guess-${i}`)).toBe(false);
    // Locked: even the right password is refused until the lock passes; other users are not affected.
    expect(check('plc', 's3cret')).toBe(false);
    expect(check('ops', 'other-pw')).toBe(true);
    t += 5000;
    expect(check('plc', 's3cret')).toBe(true);
  });

  it('the embedded broker refuses a wrong login over a real connection', async () => {
    const broker = await EmbeddedBroker.start('127.0.0.1', 0, {
      username: 'diad',
      passwordHash: hashPassword('pw-1'),
    });
    const url = `mqtt://127.0.0.1:${broker.port}`;
    try {
      await expect(
        mqtt.connectAsync(url, { username: 'diad', password: 'nope', reconnectPeriod: 0 }),
      ).rejects.toThrow();
      await expect(mqtt.connectAsync(url, { reconnectPeriod: 0 })).rejects.toThrow();
      const ok = await mqtt.connectAsync(url, { username: 'diad', password: 'pw-1', reconnectPeriod: 0 });
      await ok.endAsync();
    } finally {
      await broker.close();
    }
  });
});
