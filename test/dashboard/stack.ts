import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ControlPlane, createControlPlane } from '@diad/control-plane';
import { build } from 'vite';
import { type Seeded, seed, USERS } from './seed.js';

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);

export interface Stack {
  cp: ControlPlane;
  url: string;
  seeded: Seeded;
  close(): Promise<void>;
}

const ROOT = join(import.meta.dirname, '..', '..');

/** Builds the dashboard from source into a temporary folder, so the tests always exercise the current code. */
export async function buildDashboard(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'diad-dashboard-'));
  await build({
    configFile: join(ROOT, 'apps/dashboard/vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, sourcemap: false },
  });
  return outDir;
}

/** The control plane in this process on PGlite and an ephemeral port, serving the built dashboard itself, seeded over HTTP. */
export async function startStack(): Promise<Stack> {
  const dist = await buildDashboard();
  const blobDir = mkdtempSync(join(tmpdir(), 'diad-dashboard-blobs-'));
  const cp = await createControlPlane({
    port: 0,
    dataDir: 'memory://',
    blobDir,
    jwtSecret: 'dashboard-test-secret-0123456789abcdef',
    adminPassword: USERS.admin.password,
    logLevel: 'silent',
    rolloutTickMs: 0,
    responseCheck: 'reject',
    loginRateLimitPerMinute: 0,
    dashboardDir: dist,
  });
  try {
    const seeded = await seed(cp.url);
    return {
      cp,
      url: cp.url,
      seeded,
      close: async () => {
        await cp.close();
        rmSync(blobDir, { recursive: true, force: true });
        rmSync(dist, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await cp.close();
    throw e;
  }
}
