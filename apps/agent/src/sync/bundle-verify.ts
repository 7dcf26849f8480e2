import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

export class BundleVerificationError extends Error {
  override name = 'BundleVerificationError';
}

/** Checks a downloaded bundle against the BundleRef it was announced with. */
export function verifyBundle(
  got: { sha256: string; bytes: number },
  ref: { sha256: string; bytes: number; signature: string | null },
  publicKey: KeyObject | null,
): void {
  if (got.sha256 !== ref.sha256) {
    throw new BundleVerificationError(`bundle sha256 mismatch: expected ${ref.sha256}, got ${got.sha256}`);
  }
  if (got.bytes !== ref.bytes)
    throw new BundleVerificationError(`bundle size mismatch: expected ${ref.bytes} bytes, got ${got.bytes}`);
  if (!publicKey) return;
  if (!ref.signature)
    throw new BundleVerificationError(
      'bundle signature: required (signingPublicKeyFile is configured) but missing',
    );
  // The signature covers the sha256 hex string (docs: BundleRef.signature).
  const ok = verify(null, Buffer.from(ref.sha256, 'utf8'), publicKey, Buffer.from(ref.signature, 'base64'));
  if (!ok) throw new BundleVerificationError('bundle signature: not valid for the configured ed25519 key');
}

export function loadPublicKey(path: string): KeyObject {
  const key = createPublicKey(readFileSync(path));
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(
      `controlPlane.signingPublicKeyFile: expected an ed25519 public key, got ${key.asymmetricKeyType}`,
    );
  }
  return key;
}
