import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/**
 * OPC UA user passwords are compared only as scrypt hashes, in constant time. Config may hold a plain
 * `password` (hashed with a fresh salt when the server starts, the plain text is not kept by the server) or a
 * `passwordHash` made by hashPassword(): `scrypt:<N>:<salt base64>:<hash base64>`.
 */
const KEYLEN = 32;

export function hashPassword(password: string, n = 16384, salt = randomBytes(16)): string {
  const hash = scryptSync(password, salt, KEYLEN, { N: n });
  return `scrypt:${n}:${salt.toString('base64')}:${hash.toString('base64')}`;
}

export function isPasswordHash(s: string): boolean {
  return /^scrypt:\d+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(s);
}

export function verifyPassword(password: string, stored: string): boolean {
  const [kind, n, salt, hash] = stored.split(':');
  if (kind !== 'scrypt' || !n || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const got = scryptSync(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n) });
  return got.length === expected.length && timingSafeEqual(got, expected);
}
