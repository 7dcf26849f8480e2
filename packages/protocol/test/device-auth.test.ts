import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  devicePublicKey,
  EnrolRequest,
  generateDeviceKey,
  signDeviceMessage,
  verifyDeviceMessage,
} from '../src/index.js';

describe('device message signatures', () => {
  it('canonical JSON sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: 'x' }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":"x","z":null}]},"b":1}',
    );
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/non-finite/);
  });

  it('verifies whatever key order the payload arrives in, and refuses any change', () => {
    const k = generateDeviceKey();
    const pub = devicePublicKey(k.publicKey);
    const signed = signDeviceMessage({ deviceId: 'd1', score: 0.25, verdict: 'OK' }, k.privateKeyPem);
    const reordered = { verdict: 'OK', auth: signed.auth, score: 0.25, deviceId: 'd1' };
    expect(verifyDeviceMessage(reordered, pub)).toBe('ok');
    expect(verifyDeviceMessage({ ...signed, verdict: 'NOK' }, pub)).toBe('bad-signature');
    expect(verifyDeviceMessage({ ...signed, extra: 1 }, pub)).toBe('bad-signature');
    expect(verifyDeviceMessage({ ...signed, auth: { alg: 'ed25519', sig: 'x' } }, pub)).toBe('bad-signature');
    expect(verifyDeviceMessage({ deviceId: 'd1' }, pub)).toBe('unsigned');
    expect(verifyDeviceMessage(signed, devicePublicKey(generateDeviceKey().publicKey))).toBe('bad-signature');
  });

  it('enrolment carries the public key, checked for shape', () => {
    const base = { token: 't'.repeat(20), hostname: 'h', agentVersion: '1' };
    expect(EnrolRequest.parse({ ...base, publicKey: generateDeviceKey().publicKey }).publicKey).toHaveLength(
      44,
    );
    expect(EnrolRequest.safeParse({ ...base, publicKey: 'short' }).success).toBe(false);
  });
});
