/**
 * Sessions (#20): tokens are revoked by a password reset, a disable or a role change (token version checked on
 * every request, on every replica); tokens without `exp` or signed with another algorithm are refused; failed
 * sign-ins back off per account whatever address they come from; sign-ins and failures are audited; the last
 * enabled admin cannot disable itself.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, client, type Harness, login, startHarness } from '../helpers/harness.js';

const SECRET = new TextEncoder().encode('test-secret-test-secret-test-secret-!');

describe('sessions', () => {
  let h: Harness;
  let admin: Client;
  let userId = '';
  beforeAll(async () => {
    h = await startHarness('pglite');
    admin = client(h.cp.url, await login(h.cp.url));
    const u = await admin.post('/api/v1/users', {
      username: 'eng1',
      password: 'first-password-1',
      role: 'engineer',
    });
    expect(u.status).toBe(201);
    userId = u.body.id;
  });
  afterAll(async () => {
    await h?.close();
  });

  const me = async (token: string) => (await client(h.cp.url, token).get('/api/v1/auth/me')).status;

  it('refuses tokens without exp, or signed with another algorithm, even with the right secret', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { role: 'engineer', name: 'eng1', ver: 0 };
    const base = () =>
      new SignJWT(claims).setSubject(userId).setIssuer('diad-control-plane').setIssuedAt(now);
    const good = await base()
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now + 600)
      .sign(SECRET);
    expect(await me(good)).toBe(200);
    expect(await me(await base().setProtectedHeader({ alg: 'HS256' }).sign(SECRET))).toBe(401);
    expect(
      await me(
        await base()
          .setProtectedHeader({ alg: 'HS512' })
          .setExpirationTime(now + 600)
          .sign(SECRET),
      ),
    ).toBe(401);
  });

  it('a password reset, a role change and a disable each revoke the tokens issued before', async () => {
    let token = await login(h.cp.url, 'eng1', 'first-password-1');
    expect(await me(token)).toBe(200);
    expect((await admin.patch(`/api/v1/users/${userId}`, { password: 'second-password-2' })).status).toBe(
      200,
    );
    expect(await me(token)).toBe(401);
    token = await login(h.cp.url, 'eng1', 'second-password-2');
    expect((await admin.patch(`/api/v1/users/${userId}`, { role: 'supervisor' })).status).toBe(200);
    expect(await me(token)).toBe(401);
    token = await login(h.cp.url, 'eng1', 'second-password-2');
    expect(await me(token)).toBe(200);
    expect((await admin.patch(`/api/v1/users/${userId}`, { disabled: true })).status).toBe(200);
    expect(await me(token)).toBe(401);
    expect((await admin.patch(`/api/v1/users/${userId}`, { disabled: false })).status).toBe(200);
    expect(await me(token)).toBe(401); // re-enabling does not bring old tokens back
  });

  it('backs off per account, whatever address the tries come from, and audits sign-ins', async () => {
    const anon = client(h.cp.url);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await anon.post(
        '/api/v1/auth/login',
        { username: 'eng1', password: `wrong-${i}-password` },
        { 'x-forwarded-for': `10.0.${i}.1` },
      );
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.at(-1)).toBe(429);
    // Locked: even the right password waits.
    const locked = await anon.post('/api/v1/auth/login', { username: 'eng1', password: 'second-password-2' });
    expect(locked.status).toBe(429);
    const audit = (await admin.get('/api/v1/audit?entityType=user&limit=200')).body.items as Array<{
      action: string;
      entityId: string | null;
    }>;
    expect(
      audit.filter((e) => e.action === 'auth.login-failed' && e.entityId === userId).length,
    ).toBeGreaterThanOrEqual(6);
    expect(audit.some((e) => e.action === 'auth.login' && e.entityId === userId)).toBe(true);
  });

  it('the last enabled admin cannot disable itself or drop its role', async () => {
    const self = (await admin.get('/api/v1/auth/me')).body.id;
    expect((await admin.patch(`/api/v1/users/${self}`, { disabled: true })).status).toBe(409);
    expect((await admin.patch(`/api/v1/users/${self}`, { role: 'engineer' })).status).toBe(409);
    expect((await admin.get('/api/v1/auth/me')).status).toBe(200);
  });
});
