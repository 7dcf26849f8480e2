import type { KeyObject } from 'node:crypto';
import { devicePublicKey, verifyDeviceMessage } from '@diad/protocol';
import type { ResultCheck } from '../results/ingestion/transport.js';
import type { DeviceAddress } from './device-directory.js';

export type DeviceSignaturePolicy = 'required' | 'registered';

/** Why a device message is refused; null when it is authentic. */
export interface DeviceAuthRefusal {
  reason: 'unsigned' | 'bad-signature' | 'no-device-key';
  detail?: string;
}

const keys = new Map<string, KeyObject | null>();

function keyOf(raw: string): KeyObject | null {
  let k = keys.get(raw);
  if (k === undefined) {
    try {
      k = devicePublicKey(raw);
    } catch {
      k = null;
    }
    if (keys.size > 10_000) keys.clear();
    keys.set(raw, k);
  }
  return k;
}

/**
 * Checks that a bus message (the parsed JSON exactly as received) is signed by the device's registered key.
 * Pure: the device record comes from the caller. Under `registered`, a device enrolled without a key may send
 * unsigned messages; a device with a key never may.
 */
export function checkDeviceSignature(
  payload: unknown,
  device: Pick<DeviceAddress, 'publicKey'>,
  policy: DeviceSignaturePolicy,
): DeviceAuthRefusal | null {
  if (!device.publicKey) {
    return policy === 'required'
      ? { reason: 'no-device-key', detail: 'the device registered no public key at enrolment' }
      : null;
  }
  const key = keyOf(device.publicKey);
  if (!key)
    return { reason: 'no-device-key', detail: 'the registered public key is not a valid ed25519 key' };
  const v = verifyDeviceMessage(payload, key);
  if (v === 'ok') return null;
  return { reason: v };
}

/** The ingestion core's validation step for results: the device signature over the payload as received. */
export function deviceSignatureCheck(
  lookup: (deviceId: string) => Promise<DeviceAddress | undefined>,
  policy: DeviceSignaturePolicy,
): ResultCheck {
  return async (result, delivery) => {
    const device = await lookup(result.deviceId);
    if (!device) return { reason: 'unknown-device' };
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(delivery.payload).toString('utf8'));
    } catch {
      return { reason: 'invalid-json' };
    }
    return checkDeviceSignature(json, device, policy);
  };
}
