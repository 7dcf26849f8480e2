/**
 * Database roles (#20), on PostgreSQL (runs when DATABASE_URL is set; its own database and roles, removed after):
 * migrations run as the owner role, the control plane as an application role that can write the audit log but
 * neither change nor delete its rows, nor drop the append-only trigger.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, createControlPlane } from '../../src/index.js';
import { ADMIN_PASSWORD, client, DATABASE_URL, login } from '../helpers/harness.js';

describe.skipIf(!DATABASE_URL)('database roles on PostgreSQL', () => {
  const tag = randomBytes(3).toString('hex');
  const db = `diad_i20_roles_${tag}`;
  const owner = `diad_i20_owner_${tag}`;
  const app = `diad_i20_app_${tag}`;
  const blobDir = mkdtempSync(join(tmpdir(), 'diad-i20-roles-'));
  const urlFor = (user: string) => {
    const u = new URL(DATABASE_URL!);
    u.username = user;
    u.password = '';
    u.pathname = `/${db}`;
    return u.toString();
  };
  const superuser = async (sql: string) => {
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  let cp: ControlPlane;

  beforeAll(async () => {
    await superuser(`CREATE ROLE ${owner} LOGIN`);
    await superuser(`CREATE ROLE ${app} LOGIN`);
    await superuser(`CREATE DATABASE ${db} OWNER ${owner}`);
    cp = await createControlPlane({
      port: 0,
      dataDir: 'memory://',
      databaseUrl: urlFor(app),
      databaseOwnerUrl: urlFor(owner),
      databaseSchema: 'diad',
      blobDir,
      jwtSecret: 'test-secret-test-secret-test-secret-!',
      adminPassword: ADMIN_PASSWORD,
      logLevel: 'silent',
      rolloutTickMs: 0,
    });
  });
  afterAll(async () => {
    await cp?.close();
    rmSync(blobDir, { recursive: true, force: true });
    await superuser(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await superuser(`DROP ROLE IF EXISTS ${app}`);
    await superuser(`DROP ROLE IF EXISTS ${owner}`);
  });

  it('the application role writes and reads the audit log but cannot change it or its trigger', async () => {
    const admin = client(cp.url, await login(cp.url));
    expect((await admin.post('/api/v1/sites', { code: 'plant', name: 'Plant' })).status).toBe(201);
    const c = new pg.Client({ connectionString: urlFor(app), options: '-c search_path=diad' });
    await c.connect();
    try {
      const n = Number((await c.query('SELECT count(*) AS n FROM audit_log')).rows[0].n);
      expect(n).toBeGreaterThan(0);
      await expect(c.query(`UPDATE audit_log SET action = 'forged'`)).rejects.toThrow(/permission denied/);
      await expect(c.query('DELETE FROM audit_log')).rejects.toThrow(/permission denied/);
      await expect(c.query('TRUNCATE audit_log')).rejects.toThrow(/permission denied/);
      await expect(c.query('ALTER TABLE audit_log DISABLE TRIGGER ALL')).rejects.toThrow(/must be owner/);
      await expect(c.query('DROP TABLE audit_log')).rejects.toThrow(/must be owner/);
      // Ordinary tables stay writable for the application.
      await c.query(`UPDATE sites SET name = 'Plant 1' WHERE code = 'plant'`);
    } finally {
      await c.end();
    }
  });
});
