import type { Readable } from 'node:stream';

/** Where bundles and result images live. Filesystem by default; an S3-compatible store can implement the same. */
export interface BlobStore {
  /** Streams `body` to `key`; the blob appears only once complete (no half-written blob is ever readable). */
  put(key: string, body: Readable): Promise<{ bytes: number }>;
  /** A stream of the blob, or null when absent. */
  get(key: string): Promise<{ stream: Readable; bytes: number } | null>;
  delete(key: string): Promise<void>;
}

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

export function checkKey(key: string): string {
  if (typeof key !== 'string' || !KEY_RE.test(key) || key.includes('..')) {
    throw new TypeError(
      `blob key: expected segments of letters, digits, ".", "_" or "-", got ${JSON.stringify(key)}`,
    );
  }
  return key;
}
