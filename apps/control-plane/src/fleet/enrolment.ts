import { createHmac } from 'node:crypto';
import type { EnrolRequest } from '@diad/protocol';
import { sameHash, sha256Hex } from '../auth/secrets.js';

/**
 * Idempotent enrolment, pure part. An agent whose enrolment reply was lost (timeout, reset, a 502 from the load
 * balancer after the server committed) retries with the same token; the token is used by then. A retry of the
 * *same request* (same public key, hostname, version, providers) within the window gets the same device and
 * credential; anything else with a used token is refused as before.
 *
 * The credential cannot be looked up again (only its hash is stored), so it is derived: HMAC-SHA256 keyed with the
 * one-time token (256 random bits, which only the enrolling device holds in clear) over the device id and a random
 * nonce kept in the token row. The server can recompute it only while the caller presents the token; the
 * database alone (token stored hashed) does not yield it, nor does the token without the nonce.
 */

/** What makes two enrolment requests "the same request": everything the device sends except the token. */
export function enrolRequestHash(req: EnrolRequest): string {
  return sha256Hex(
    JSON.stringify([
      req.publicKey ?? null,
      req.hostname,
      req.agentVersion,
      [...(req.providers ?? [])].sort(),
    ]),
  );
}

/** `diad_d_<deviceId>_<secret>` (the format `DEVICE_CREDENTIAL_RE` accepts), derived as described above. */
export function enrolmentCredential(
  token: string,
  deviceId: string,
  nonce: string,
): { credential: string; hash: string } {
  const secret = createHmac('sha256', token)
    .update(`diad-enrolment-credential\0${deviceId}\0${nonce}`)
    .digest('base64url');
  return { credential: `diad_d_${deviceId}_${secret}`, hash: sha256Hex(secret) };
}

export interface UsedToken {
  usedAt: Date | null;
  deviceId: string | null;
  requestHash: string | null;
  credentialNonce: string | null;
}

export interface EnrolledDevice {
  id: string;
  disabled: boolean;
  credentialHash: string;
}

/**
 * Whether a request with an already used token is a retry of the request that used it; returns the credential
 * to answer with, or the reason for refusing (logged, never sent: the caller answers 401 either way).
 */
export function replayEnrolment(input: {
  token: string;
  requestHash: string;
  used: UsedToken | null;
  device: EnrolledDevice | null;
  now: Date;
  windowSeconds: number;
}): { credential: string } | { refused: string } {
  const { used, device } = input;
  if (!used?.usedAt || !used.deviceId) return { refused: 'token unknown, unused or expired' };
  if (input.windowSeconds <= 0) return { refused: 'enrolment retries are turned off' };
  if (!used.requestHash || !used.credentialNonce) return { refused: 'token used before retries existed' };
  if (input.now.getTime() - used.usedAt.getTime() > input.windowSeconds * 1000)
    return { refused: 'retry window over' };
  if (!sameHash(used.requestHash, input.requestHash))
    return { refused: 'a different request (public key, hostname, version or providers)' };
  if (!device || device.id !== used.deviceId) return { refused: 'device deleted' };
  if (device.disabled) return { refused: 'device disabled' };
  const c = enrolmentCredential(input.token, device.id, used.credentialNonce);
  // A credential replaced since (by an operator) must not come back through a retry.
  if (!sameHash(device.credentialHash, c.hash)) return { refused: 'credential changed since' };
  return { credential: c.credential };
}
