import { randomBytes } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, then random bits. Ids sort by creation time, which keeps
 * database indexes on result ids append-mostly. `now` is injectable for tests.
 */
export function uuidv7(now: number = Date.now(), rand: Buffer = randomBytes(10)): string {
  if (!Number.isSafeInteger(now) || now < 0)
    throw new RangeError(`uuidv7: now: expected a non-negative ms timestamp`);
  const b = Buffer.alloc(16);
  b.writeUIntBE(now, 0, 6);
  rand.copy(b, 6, 0, 10);
  b[6] = 0x70 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
