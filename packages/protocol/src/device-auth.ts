import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { z } from 'zod';

/**
 * Device authentication of bus messages (results, status): each payload carries `auth`, an ed25519 signature by
 * the device's own key over the canonical form of the payload without `auth`. The public key is registered with
 * the control plane at enrolment; the private key never leaves the device. A broker that lets anyone publish can
 * no longer make the control plane believe a device said something.
 */

export const MessageAuth = z.object({
  alg: z.literal('ed25519'),
  /** base64 of the 64-byte signature. */
  sig: z.string().regex(/^[A-Za-z0-9+/]{86}==$/),
});
export type MessageAuth = z.infer<typeof MessageAuth>;

/** A device public key as sent at enrolment: base64 of the raw 32 bytes. */
export const DevicePublicKey = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'expected base64 of 32 bytes');

const DOMAIN = 'diad.device-message/v1\n';

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, `undefined` members dropped, numbers as
 * JSON.stringify writes them. Two parties holding the same JSON value produce the same bytes.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new TypeError('canonicalJson: non-finite number');
    const s = JSON.stringify(value);
    if (s === undefined) throw new TypeError(`canonicalJson: cannot encode ${typeof value}`);
    return s;
  }
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** The bytes a device signs: a domain tag and the canonical JSON of the payload without `auth`. */
export function signedBytes(payload: Record<string, unknown>): Buffer {
  const { auth: _ignored, ...rest } = payload;
  return Buffer.from(DOMAIN + canonicalJson(rest), 'utf8');
}

export interface DeviceKeyPair {
  /** base64 of the raw 32-byte public key (what enrolment registers). */
  publicKey: string;
  /** PKCS#8 PEM of the private key (kept on the device, 0600). */
  privateKeyPem: string;
}

export function generateDeviceKey(): DeviceKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return {
    publicKey: der.subarray(der.length - 32).toString('base64'),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

export function devicePublicKey(raw: string): KeyObject {
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length !== 32) throw new TypeError('device public key: expected base64 of 32 bytes');
  return createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), bytes]),
    format: 'der',
    type: 'spki',
  });
}

/** Returns the payload with `auth` set: the device's signature over its canonical form. */
export function signDeviceMessage<T extends object>(
  payload: T,
  privateKey: KeyObject | string,
): T & { auth: MessageAuth } {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const sig = sign(null, signedBytes(payload as Record<string, unknown>), key).toString('base64');
  return { ...payload, auth: { alg: 'ed25519', sig } };
}

export type DeviceMessageCheck = 'ok' | 'unsigned' | 'bad-signature';

/** Checks `auth` of a parsed JSON payload (as received, before any schema defaults) against the device key. */
export function verifyDeviceMessage(payload: unknown, publicKey: KeyObject): DeviceMessageCheck {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return 'unsigned';
  const auth = MessageAuth.safeParse((payload as Record<string, unknown>).auth);
  if (!auth.success)
    return (payload as Record<string, unknown>).auth === undefined ? 'unsigned' : 'bad-signature';
  let bytes: Buffer;
  try {
    bytes = signedBytes(payload as Record<string, unknown>);
  } catch {
    return 'bad-signature';
  }
  return verify(null, bytes, publicKey, Buffer.from(auth.data.sig, 'base64')) ? 'ok' : 'bad-signature';
}
