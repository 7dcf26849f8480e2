import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateDeviceKey, signDeviceMessage } from '@diad/protocol';

export interface DeviceKey {
  /** base64 of the raw 32-byte ed25519 public key: what enrolment registers with the control plane. */
  publicKey: string;
  privateKey: KeyObject;
  /** Returns the payload with `auth` (the device signature over its canonical form). */
  sign<T extends object>(payload: T): T;
}

/**
 * The device's own ed25519 key, made on first start and kept beside the agent state (owner-only). The public half is
 * registered at enrolment; every result and status the agent publishes on the bus is signed with the private half.
 */
export function loadOrCreateDeviceKey(path: string): DeviceKey {
  let stored: { publicKey: string; privateKeyPem: string };
  try {
    stored = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new TypeError(`${path}: unreadable device key: ${(e as Error).message}`);
    stored = generateDeviceKey();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.tmp`, JSON.stringify(stored), { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }
  const privateKey = createPrivateKey(stored.privateKeyPem);
  return {
    publicKey: stored.publicKey,
    privateKey,
    sign: (payload) => signDeviceMessage(payload, privateKey),
  };
}
