#!/usr/bin/env node
/**
 * Trainer worker entry point. Configuration from the environment (checked once at start):
 *   DATABASE_URL, DATABASE_SCHEMA (default public)   the control plane's PostgreSQL (the queue lives there)
 *   CONTROL_PLANE_URL                                 where datasets are downloaded and bundles registered
 *   DIAD_WORKER_USER, DIAD_WORKER_PASSWORD            an engineer account of the control plane
 *   DIAD_WORKER_DIR (default .data/trainer)           datasets, runs (checkpoints kept for resume), bundles
 *   DIAD_REPO_ROOT (default: this checkout), PYTHON (default /usr/bin/python3)
 */
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { z } from 'zod';
import { TrainerWorker } from './worker.js';

const Env = z.object({
  DATABASE_URL: z.string().url('DATABASE_URL: expected a postgresql:// URL'),
  DATABASE_SCHEMA: z.string().default('public'),
  CONTROL_PLANE_URL: z.string().url('CONTROL_PLANE_URL: expected the control plane base URL'),
  DIAD_WORKER_USER: z.string().min(1, 'DIAD_WORKER_USER: expected an engineer account name'),
  DIAD_WORKER_PASSWORD: z.string().min(1, 'DIAD_WORKER_PASSWORD: expected its password'),
  DIAD_WORKER_DIR: z.string().default('.data/trainer'),
  DIAD_REPO_ROOT: z.string().default(fileURLToPath(new URL('../../../../', import.meta.url))),
  PYTHON: z.string().default('/usr/bin/python3'),
});

const parsed = Env.safeParse(process.env);
if (!parsed.success) {
  process.stderr.write(`diad trainer worker: ${parsed.error.issues[0].message}\n`);
  process.exit(2);
}
const env = parsed.data;
const log = pino({ base: { app: 'diad-trainer-worker' } });
const worker = new TrainerWorker({
  databaseUrl: env.DATABASE_URL,
  databaseSchema: env.DATABASE_SCHEMA,
  controlPlaneUrl: env.CONTROL_PLANE_URL.replace(/\/$/, ''),
  username: env.DIAD_WORKER_USER,
  password: env.DIAD_WORKER_PASSWORD,
  workDir: env.DIAD_WORKER_DIR,
  repoRoot: env.DIAD_REPO_ROOT,
  python: env.PYTHON,
  log: (msg, fields) => log.info(fields ?? {}, msg),
});
await worker.start();
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    void worker.stop().then(() => process.exit(0));
  });
