#!/usr/bin/env node
/**
 * Operator commands against the control plane's database (DATABASE_URL or DATA_DIR, as the server uses):
 *   create-user <username> <admin|engineer|supervisor>   password from DIAD_NEW_PASSWORD or the first stdin line
 *   reset-password <username>                             same password source
 */
import { createInterface } from 'node:readline';
import { hashPassword } from './auth/secrets.js';
import { Database } from './db/database.js';

const [cmd, username, role] = process.argv.slice(2);
const usage = 'usage: cli create-user <username> <admin|engineer|supervisor> | cli reset-password <username>';

async function readPassword(): Promise<string> {
  if (process.env.DIAD_NEW_PASSWORD) return process.env.DIAD_NEW_PASSWORD;
  process.stderr.write('password: ');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  return '';
}

async function main(): Promise<number> {
  if (!username || !['create-user', 'reset-password'].includes(cmd)) {
    console.error(usage);
    return 2;
  }
  if (cmd === 'create-user' && !['admin', 'engineer', 'supervisor'].includes(role)) {
    console.error(`role: expected admin, engineer or supervisor, got ${role ?? '(nothing)'}`);
    return 2;
  }
  const passwordHash = await hashPassword(await readPassword());
  const db = await Database.open({
    databaseUrl: process.env.DATABASE_URL || undefined,
    databaseSchema: process.env.DATABASE_SCHEMA || 'public',
    dataDir: process.env.DATA_DIR || '.data/control-plane/db',
  });
  try {
    await db.migrate();
    const actor = {
      actorType: 'system',
      actorId: 'cli',
      actorName: process.env.USER ?? 'cli',
      role: 'system',
    };
    if (cmd === 'create-user') {
      const u = await db.prisma.user.create({ data: { username, passwordHash, role: role as 'admin' } });
      await db.prisma.auditLog.create({
        data: {
          ...actor,
          action: 'user.create',
          entityType: 'user',
          entityId: u.id,
          after: { username, role },
        },
      });
      console.log(`created ${role} ${username} (${u.id})`);
    } else {
      const u = await db.prisma.user.update({ where: { username }, data: { passwordHash } });
      await db.prisma.auditLog.create({
        data: { ...actor, action: 'user.update+password', entityType: 'user', entityId: u.id },
      });
      console.log(`password of ${username} changed`);
    }
    return 0;
  } finally {
    await db.close();
  }
}

process.exitCode = await main().catch((e) => {
  console.error((e as Error).message);
  return 1;
});
