import { safeText } from '@diad/protocol';
import {
  ConflictException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestContext } from '../common/request-context.js';
import { CLOCK, type Clock, CONFIG } from '../common/tokens.js';
import type { ControlPlaneConfig } from '../config.js';
import { Database } from '../db/database.js';
import type { Role } from '../generated/prisma/enums.js';
import {
  API_KEY_RE,
  DEVICE_CREDENTIAL_RE,
  hashPassword,
  newApiKey,
  sameHash,
  sha256Hex,
  verifyPassword,
} from './secrets.js';

export const HumanRole = z.enum(['admin', 'engineer', 'supervisor']);
export const CreateUser = z.object({
  username: z
    .string()
    .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'expected 1-64 letters, digits, ".", "_", "@" or "-"'),
  password: z.string().min(10, 'expected at least 10 characters').max(256),
  role: HumanRole,
});
export const UpdateUser = z
  .object({
    password: z.string().min(10).max(256).optional(),
    role: HumanRole.optional(),
    disabled: z.boolean().optional(),
  })
  .strict();
export const CreateApiKey = z.object({
  name: z.string().min(1).max(100),
  role: z.enum(['admin', 'engineer', 'supervisor']),
});
// Control characters and lone surrogates cannot be stored or compared by the database (a NUL was a 500); a user name
// never has them, so such a sign-in is a 400.
export const Login = z.object({ username: safeText(64).min(1), password: z.string().min(1).max(256) });

const CACHE_MS = 15_000;

/** Verifies JWTs, API keys and device credentials; manages users and keys. */
@Injectable()
export class AuthService {
  private readonly secret: Uint8Array;
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();

  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.secret = new TextEncoder().encode(config.jwtSecret);
  }

  /** Resolves a bearer token (JWT, API key or device credential) to a principal, or null. */
  async authenticate(token: string): Promise<Principal | null> {
    const now = this.clock.now().getTime();
    // Session tokens are checked against the user row on every request (token version, disabled), so a reset,
    // disable or role change takes effect at once on every replica; device credentials and API keys are cached.
    const jwt = token.split('.').length === 3;
    if (jwt) return this.resolve(token);
    const hit = this.cache.get(token);
    if (hit && hit.until > now) return hit.principal;
    const principal = await this.resolve(token);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(token, { principal, until: now + CACHE_MS });
    return principal;
  }

  /** Forget cached principals (after a user, key or device is disabled). */
  invalidate(): void {
    this.cache.clear();
  }

  private async resolve(token: string): Promise<Principal | null> {
    const dev = DEVICE_CREDENTIAL_RE.exec(token);
    if (dev) {
      const d = await this.db.prisma.device.findUnique({ where: { id: dev[1] } });
      if (!d || d.disabled || !sameHash(d.credentialHash, sha256Hex(dev[2]))) return null;
      return { kind: 'device', id: d.id, name: d.name, role: 'device', deviceId: d.id };
    }
    const key = API_KEY_RE.exec(token);
    if (key) {
      const k = await this.db.prisma.apiKey.findUnique({ where: { prefix: key[1] } });
      if (!k || k.revokedAt || !sameHash(k.keyHash, sha256Hex(key[2]))) return null;
      await this.db.prisma.apiKey.update({ where: { id: k.id }, data: { lastUsedAt: this.clock.now() } });
      return { kind: 'apikey', id: k.id, name: k.name, role: k.role };
    }
    if (token.split('.').length === 3) {
      try {
        const { payload } = await jwtVerify(token, this.secret, {
          issuer: 'diad-control-plane',
          currentDate: this.clock.now(),
          algorithms: ['HS256'],
          requiredClaims: ['exp', 'iat', 'sub', 'ver'],
        });
        const user = await this.db.prisma.user.findUnique({ where: { id: String(payload.sub) } });
        if (!user || user.disabled || payload.ver !== user.tokenVersion) return null;
        return { kind: 'user', id: user.id, name: user.username, role: user.role };
      } catch {
        return null;
      }
    }
    return null;
  }

  /**
   * Signs in. Failed attempts count per account (whatever address they come from): after 5 in a row the account
   * refuses sign-ins for a delay that doubles per further failure (up to 15 min). Every sign-in and every failure
   * is audited.
   */
  async login(
    username: string,
    password: string,
    ip: string | null = null,
  ): Promise<{ token: string; expiresAt: string; role: Role }> {
    const user = await this.db.prisma.user.findUnique({ where: { username } });
    const now = this.clock.now();
    const ctx = {
      // The actor of a sign-in attempt is whoever typed the name: recorded as that user (or "unknown").
      principal: {
        kind: 'user',
        id: user?.id ?? 'unknown',
        name: username.slice(0, 64),
        role: user?.role ?? 'none',
      },
      requestId: null,
      ip,
    } as unknown as RequestContext;
    const fail = async (why: string) => {
      await this.audit.record(undefined, ctx, {
        action: 'auth.login-failed',
        entityType: 'user',
        entityId: user?.id ?? null,
        after: { username: username.slice(0, 64), reason: why },
      });
      throw new UnauthorizedException('invalid username or password');
    };
    if (user?.lockedUntil && user.lockedUntil > now) {
      await this.audit.record(undefined, ctx, {
        action: 'auth.login-failed',
        entityType: 'user',
        entityId: user.id,
        after: { username, reason: 'locked' },
      });
      const wait = Math.ceil((user.lockedUntil.getTime() - now.getTime()) / 1000);
      throw new HttpException(
        `too many failed sign-ins for this account; retry in ${wait} s`,
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    // Verify against a fixed hash when the user is unknown, so timing does not reveal which usernames exist.
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user) return fail('unknown user');
    if (!ok || user.disabled) {
      const n = user.failedLogins + 1;
      const lock = n >= 5 ? Math.min(15 * 60_000, 1000 * 2 ** (n - 5)) : 0;
      await this.db.prisma.user.update({
        where: { id: user.id },
        data: { failedLogins: n, lockedUntil: lock ? new Date(now.getTime() + lock) : null },
      });
      return fail(user.disabled ? 'disabled' : 'wrong password');
    }
    if (user.failedLogins || user.lockedUntil)
      await this.db.prisma.user.update({
        where: { id: user.id },
        data: { failedLogins: 0, lockedUntil: null },
      });
    await this.audit.record(
      undefined,
      { ...ctx, principal: { kind: 'user', id: user.id, name: user.username, role: user.role } },
      { action: 'auth.login', entityType: 'user', entityId: user.id },
    );
    const exp = Math.floor(now.getTime() / 1000) + this.config.jwtTtlSeconds;
    const token = await new SignJWT({ role: user.role, name: user.username, ver: user.tokenVersion })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuer('diad-control-plane')
      .setIssuedAt(Math.floor(now.getTime() / 1000))
      .setExpirationTime(exp)
      .sign(this.secret);
    return { token, expiresAt: new Date(exp * 1000).toISOString(), role: user.role };
  }

  /** Creates the first admin from configuration when the user table is empty. */
  async seedAdmin(): Promise<boolean> {
    if (!this.config.adminPassword) return false;
    if ((await this.db.prisma.user.count()) > 0) return false;
    const user = await this.db.prisma.user.create({
      data: {
        username: this.config.adminUsername,
        passwordHash: await hashPassword(this.config.adminPassword),
        role: 'admin',
      },
    });
    await this.audit.record(
      undefined,
      {
        principal: { kind: 'system', id: 'system', name: 'seed', role: 'system' },
        requestId: null,
        ip: null,
      },
      { action: 'user.seed', entityType: 'user', entityId: user.id, after: publicUser(user) },
    );
    return true;
  }

  async createUser(ctx: RequestContext, input: z.infer<typeof CreateUser>) {
    const exists = await this.db.prisma.user.findUnique({ where: { username: input.username } });
    if (exists) throw new ConflictException(`user "${input.username}" already exists`);
    const passwordHash = await hashPassword(input.password);
    return this.db.prisma.$transaction(async (tx) => {
      const user = await tx.user.create({
        data: { username: input.username, passwordHash, role: input.role },
      });
      await this.audit.record(tx, ctx, {
        action: 'user.create',
        entityType: 'user',
        entityId: user.id,
        after: publicUser(user),
      });
      return publicUser(user);
    });
  }

  async listUsers() {
    return (await this.db.prisma.user.findMany({ orderBy: { username: 'asc' } })).map(publicUser);
  }

  async updateUser(ctx: RequestContext, id: string, input: z.infer<typeof UpdateUser>) {
    const passwordHash = input.password ? await hashPassword(input.password) : undefined;
    const result = await this.db.prisma.$transaction(async (tx) => {
      const before = await tx.user.findUnique({ where: { id } });
      if (!before) throw new NotFoundException(`user ${id} not found`);
      const losesAdmin =
        before.role === 'admin' &&
        !before.disabled &&
        (input.disabled === true || (input.role !== undefined && input.role !== 'admin'));
      if (losesAdmin) {
        const others = await tx.user.count({ where: { role: 'admin', disabled: false, id: { not: id } } });
        if (others === 0)
          throw new ConflictException('the last enabled admin cannot be disabled or lose the admin role');
      }
      // Revoke every session of the user when what a token stands for changes.
      const revoke =
        !!passwordHash ||
        (input.disabled !== undefined && input.disabled !== before.disabled) ||
        (input.role !== undefined && input.role !== before.role);
      const after = await tx.user.update({
        where: { id },
        data: {
          role: input.role,
          disabled: input.disabled,
          passwordHash,
          ...(revoke ? { tokenVersion: { increment: 1 } } : {}),
          ...(passwordHash ? { failedLogins: 0, lockedUntil: null } : {}),
        },
      });
      await this.audit.record(tx, ctx, {
        action: input.password ? 'user.update+password' : 'user.update',
        entityType: 'user',
        entityId: id,
        before: publicUser(before),
        after: publicUser(after),
      });
      return publicUser(after);
    });
    this.invalidate();
    return result;
  }

  async createApiKey(ctx: RequestContext, input: z.infer<typeof CreateApiKey>) {
    const { key, prefix, hash } = newApiKey();
    const userId = ctx.principal.kind === 'user' ? ctx.principal.id : null;
    return this.db.prisma.$transaction(async (tx) => {
      const row = await tx.apiKey.create({
        data: { name: input.name, role: input.role, prefix, keyHash: hash, userId },
      });
      await this.audit.record(tx, ctx, {
        action: 'apikey.create',
        entityType: 'apikey',
        entityId: row.id,
        after: publicKey(row),
      });
      return { ...publicKey(row), key };
    });
  }

  async listApiKeys() {
    return (await this.db.prisma.apiKey.findMany({ orderBy: { createdAt: 'desc' } })).map(publicKey);
  }

  async revokeApiKey(ctx: RequestContext, id: string) {
    const result = await this.db.prisma.$transaction(async (tx) => {
      const before = await tx.apiKey.findUnique({ where: { id } });
      if (!before) throw new NotFoundException(`api key ${id} not found`);
      const after = await tx.apiKey.update({
        where: { id },
        data: { revokedAt: before.revokedAt ?? this.clock.now() },
      });
      await this.audit.record(tx, ctx, {
        action: 'apikey.revoke',
        entityType: 'apikey',
        entityId: id,
        before: publicKey(before),
        after: publicKey(after),
      });
      return publicKey(after);
    });
    this.invalidate();
    return result;
  }
}

const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

function publicUser(u: { id: string; username: string; role: Role; disabled: boolean; createdAt: Date }) {
  return { id: u.id, username: u.username, role: u.role, disabled: u.disabled, createdAt: u.createdAt };
}

function publicKey(k: {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    role: k.role,
    createdAt: k.createdAt,
    revokedAt: k.revokedAt,
    lastUsedAt: k.lastUsedAt,
  };
}
