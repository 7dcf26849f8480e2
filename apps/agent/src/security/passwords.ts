import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/**
 * Passwords of the agent's own servers (OPC UA users, the embedded MQTT broker): kept only as scrypt hashes
 * (`scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`), compared in constant time, with failed logins throttled per
 * user name. A config may give `password` (hashed at load, never kept) or `passwordHash` (from
 * `diad-agent hash-password`).
 */
const N = 16384;
const R = 8;
const P = 1;

export function hashPassword(password: string, salt = randomBytes(16)): string {
  const hash = scryptSync(password.normalize('NFC'), salt, 32, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function isPasswordHash(s: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(s);
}

export function verifyPassword(password: string, stored: string): boolean {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  if (!(n >= 1024 && n <= 1 << 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return false;
  const want = Buffer.from(parts[5], 'base64');
  if (want.length < 16) return false;
  const got = scryptSync(password.normalize('NFC'), Buffer.from(parts[4], 'base64'), want.length, {
    N: n,
    r,
    p,
    maxmem: 256 * n * r + 1024 * 1024,
  });
  return timingSafeEqual(got, want);
}

/**
 * Failed-login throttle per user name: after `free` failures, each further try within the window is refused
 * without checking the password until a lock that doubles per failure (up to `maxLockMs`) has passed.
 */
export class LoginThrottle {
  private readonly fails = new Map<string, { n: number; until: number; last: number }>();
  constructor(
    private readonly free = 5,
    private readonly baseLockMs = 1000,
    private readonly maxLockMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when this user name may try now. */
  allowed(user: string): boolean {
    const f = this.fails.get(user);
    return !f || this.now() >= f.until;
  }

  record(user: string, ok: boolean): void {
    if (ok) {
      this.fails.delete(user);
      return;
    }
    const t = this.now();
    const f = this.fails.get(user) ?? { n: 0, until: 0, last: t };
    if (t - f.last > this.maxLockMs * 2) f.n = 0;
    f.n++;
    f.last = t;
    f.until =
      f.n > this.free ? t + Math.min(this.maxLockMs, this.baseLockMs * 2 ** (f.n - this.free - 1)) : 0;
    this.fails.set(user, f);
    if (this.fails.size > 10_000) this.fails.clear();
  }
}

/** A checker for a set of users, each given a password or a hash; plain passwords are hashed once here. */
export function passwordChecker(
  users: Array<{ username: string; password?: string; passwordHash?: string }>,
  throttle = new LoginThrottle(),
): (username: string, password: string) => boolean {
  const hashes = new Map(users.map((u) => [u.username, u.passwordHash ?? hashPassword(u.password ?? '')]));
  // Unknown users cost the same scrypt as known ones.
  const decoy = hashPassword(randomBytes(12).toString('hex'));
  return (username, password) => {
    const user = String(username ?? '');
    if (!throttle.allowed(user)) return false;
    const stored = hashes.get(user);
    const ok = verifyPassword(String(password ?? ''), stored ?? decoy) && stored !== undefined;
    throttle.record(user, ok);
    return ok;
  };
}
