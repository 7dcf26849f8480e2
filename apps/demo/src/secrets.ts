import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

const Secrets = z.object({
  jwtSecret: z.string().min(32),
  adminPassword: z.string().min(10),
  plcPassword: z.string().min(8),
});
export type Secrets = z.infer<typeof Secrets>;

/** The demo's secrets, made on first start and kept (owner-only) so a restart signs in with the same ones. */
export function loadOrCreateSecrets(path: string): Secrets {
  if (existsSync(path)) {
    const r = Secrets.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (!r.success) throw new TypeError(`${path}: not a demo secrets file (${r.error.issues[0].message})`);
    return r.data;
  }
  const s: Secrets = {
    jwtSecret: randomBytes(32).toString('hex'),
    adminPassword: randomBytes(9).toString('base64url'),
    plcPassword: randomBytes(9).toString('base64url'),
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(s, null, 2), { mode: 0o600 });
  chmodSync(path, 0o600);
  return s;
}
