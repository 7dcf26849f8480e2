import { describe, expect, it } from 'vitest';
import { DEVICE_CREDENTIAL_RE } from '../../src/auth/secrets.js';
import { enrolmentCredential, enrolRequestHash, replayEnrolment } from '../../src/fleet/enrolment.js';

const token = 'diad_e_0123456789abcdef0123456789abcdef0123456789a';
const deviceId = '0190a0b0-0000-7000-8000-000000000001';
const req = { token, hostname: 'edge-1', agentVersion: '0.1.0', providers: ['cpu', 'cuda'] };
const now = new Date('2026-12-07T12:00:00Z');
const used = (over = {}) => ({
  usedAt: new Date(now.getTime() - 60_000),
  deviceId,
  requestHash: enrolRequestHash(req),
  credentialNonce: 'nonce-1',
  ...over,
});
const device = (over = {}) => ({
  id: deviceId,
  disabled: false,
  credentialHash: enrolmentCredential(token, deviceId, 'nonce-1').hash,
  ...over,
});
const replay = (o: Partial<Parameters<typeof replayEnrolment>[0]> = {}) =>
  replayEnrolment({
    token,
    requestHash: enrolRequestHash(req),
    used: used(),
    device: device(),
    now,
    windowSeconds: 600,
    ...o,
  });

describe('enrolment retries (pure)', () => {
  it('derives a well-formed credential that depends on the token, the device and the nonce', () => {
    const c = enrolmentCredential(token, deviceId, 'nonce-1');
    expect(c.credential).toMatch(DEVICE_CREDENTIAL_RE);
    expect(enrolmentCredential(token, deviceId, 'nonce-1')).toEqual(c);
    expect(enrolmentCredential(`${token}x`, deviceId, 'nonce-1').credential).not.toBe(c.credential);
    expect(enrolmentCredential(token, deviceId, 'nonce-2').credential).not.toBe(c.credential);
  });

  it('hashes the request without the token and ignores provider order', () => {
    expect(enrolRequestHash({ ...req, token: 'another-token-xxxxxxxx' })).toBe(enrolRequestHash(req));
    expect(enrolRequestHash({ ...req, providers: ['cuda', 'cpu'] })).toBe(enrolRequestHash(req));
    expect(enrolRequestHash({ ...req, hostname: 'edge-2' })).not.toBe(enrolRequestHash(req));
  });

  it('answers the retry of the same request with the original credential', () => {
    expect(replay()).toEqual({ credential: enrolmentCredential(token, deviceId, 'nonce-1').credential });
  });

  it('refuses, naming why', () => {
    expect(replay({ used: null })).toEqual({ refused: 'token unknown, unused or expired' });
    expect(replay({ used: used({ usedAt: null }) })).toEqual({ refused: 'token unknown, unused or expired' });
    expect(replay({ windowSeconds: 0 })).toEqual({ refused: 'enrolment retries are turned off' });
    expect(replay({ used: used({ requestHash: null }) })).toEqual({
      refused: 'token used before retries existed',
    });
    expect(replay({ now: new Date(now.getTime() + 600_000) })).toEqual({ refused: 'retry window over' });
    expect(replay({ requestHash: enrolRequestHash({ ...req, hostname: 'x' }) })).toMatchObject({
      refused: expect.stringMatching(/different request/),
    });
    expect(replay({ device: null })).toEqual({ refused: 'device deleted' });
    expect(replay({ device: device({ disabled: true }) })).toEqual({ refused: 'device disabled' });
    expect(replay({ device: device({ credentialHash: 'ab'.repeat(32) }) })).toEqual({
      refused: 'credential changed since',
    });
  });
});
