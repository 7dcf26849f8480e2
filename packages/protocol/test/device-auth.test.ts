import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  devicePublicKey,
  EnrolRequest,
  generateDeviceKey,
  InspectionResult,
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

describe('poison messages: the schemas bound every string and time', () => {
  const base = {
    schema: 'diad.result/v1',
    resultId: '01900000-0000-7000-8000-000000000001',
    site: 's',
    line: 'l',
    station: 'st',
    camera: 'c',
    deviceId: 'd',
    partId: 'p-1',
    capturedAt: '2026-12-07T10:00:00Z',
    inspectedAt: '2026-12-07T10:00:00Z',
    state: 'ok',
    verdict: 'OK',
    score: 0.1,
    normalizedScore: 0.2,
    thresholds: null,
    model: null,
    provider: 'cpu',
  };
  const refused = (over: Record<string, unknown>) =>
    !InspectionResult.safeParse({ ...base, ...over }).success;

  it('accepts a plain result, and refuses NUL, control characters and unpaired surrogates', () => {
    expect(InspectionResult.safeParse(base).success).toBe(true);
    expect(refused({ partId: 'p\u0000x' })).toBe(true);
    expect(refused({ partId: 'p\u001bx' })).toBe(true);
    expect(refused({ partId: 'p\nx' })).toBe(true);
    expect(refused({ partId: 'p\ud800x' })).toBe(true);
    expect(refused({ partId: 'p\udc00' })).toBe(true);
    expect(refused({ partId: 'p😀' })).toBe(false);
    expect(refused({ error: { code: 'E', message: 'line 1\nline 2' } })).toBe(false);
    expect(refused({ error: { code: 'E', message: 'a\u0000' } })).toBe(true);
  });

  it('bounds sizes and times', () => {
    expect(refused({ error: { code: 'E', message: 'x'.repeat(8 * 1024 * 1024) } })).toBe(true);
    expect(
      refused({ timingsMs: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`t${i}`, 1])) }),
    ).toBe(true);
    expect(refused({ capturedAt: '9999-12-31T23:59:59Z' })).toBe(true);
    expect(refused({ inspectedAt: '1970-01-01T00:00:00Z' })).toBe(true);
    expect(refused({ imageRef: 'x'.repeat(2000) })).toBe(true);
  });
});
