import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { devicePublicKey, verifyDeviceMessage } from '@diad/protocol';
import { describe, expect, it } from 'vitest';
import { loadOrCreateDeviceKey } from '../src/sync/device-key.js';
import { fakeResult, tmp } from './helpers.js';

describe('device key', () => {
  it('is made once, kept owner-only, and signs what the control plane verifies', () => {
    const path = join(tmp(), 'device-key.json');
    const k = loadOrCreateDeviceKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadOrCreateDeviceKey(path).publicKey).toBe(k.publicKey);
    const signed = k.sign(fakeResult('st1', 1));
    // What travels is JSON: verify what the receiver parses.
    const received = JSON.parse(JSON.stringify(signed));
    expect(verifyDeviceMessage(received, devicePublicKey(k.publicKey))).toBe('ok');
    expect(verifyDeviceMessage({ ...received, verdict: 'NOK' }, devicePublicKey(k.publicKey))).toBe(
      'bad-signature',
    );
    const { auth: _a, ...unsigned } = received;
    expect(verifyDeviceMessage(unsigned, devicePublicKey(k.publicKey))).toBe('unsigned');
    expect(readFileSync(path, 'utf8')).toContain('PRIVATE KEY');
  });
});
