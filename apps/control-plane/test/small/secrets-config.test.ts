import { describe, expect, it } from 'vitest';
import {
  API_KEY_RE,
  DEVICE_CREDENTIAL_RE,
  hashPassword,
  newApiKey,
  sha256Hex,
  verifyPassword,
} from '../../src/auth/secrets.js';
import { configFromEnv, parseConfig } from '../../src/config.js';
import { enrolmentCredential } from '../../src/fleet/enrolment.js';

describe('secrets', () => {
  it('hashes passwords with a salt and verifies them', async () => {
    const h1 = await hashPassword('correct horse battery');
    const h2 = await hashPassword('correct horse battery');
    expect(h1).not.toBe(h2);
    expect(await verifyPassword('correct horse battery', h1)).toBe(true);
    expect(await verifyPassword('wrong horse battery', h1)).toBe(false);
    await expect(hashPassword('short')).rejects.toThrow(RangeError);
  });

  it('issues device credentials and API keys that carry their lookup key and store only a hash', () => {
    const id = '0193a1b2-0000-7000-8000-000000000001';
    const d = enrolmentCredential('a-one-time-enrolment-token', id, 'nonce');
    const m = DEVICE_CREDENTIAL_RE.exec(d.credential)!;
    expect(m[1]).toBe(id);
    expect(sha256Hex(m[2])).toBe(d.hash);
    const k = newApiKey();
    const km = API_KEY_RE.exec(k.key)!;
    expect(km[1]).toBe(k.prefix);
    expect(sha256Hex(km[2])).toBe(k.hash);
  });
});

describe('config', () => {
  it('reads the environment with defaults', () => {
    const c = configFromEnv({
      JWT_SECRET: 's'.repeat(32),
      PORT: '9000',
      MQTT_GROUP: '',
      REQUIRE_SIGNED_MODELS: 'true',
    });
    expect(c).toMatchObject({
      port: 9000,
      mqttGroup: '',
      requireSignedModels: true,
      dataDir: '.data/control-plane/db',
    });
  });

  it('names every bad setting', () => {
    expect(() => parseConfig({ jwtSecret: 'short', port: 70000, databaseUrl: 'mysql://x' } as never)).toThrow(
      /port: Too big.*databaseUrl: expected a postgresql:\/\/ URL.*jwtSecret: expected at least 32 characters/,
    );
    expect(() => parseConfig({ jwtSecret: 's'.repeat(32), nope: 1 } as never)).toThrow(/Unrecognized key/);
  });
});
