import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import { AppModule } from './app.module.js';
import { FsBlobStore } from './blob/fs-blob-store.js';
import { createLogger } from './common/logger.js';
import { Metrics } from './common/metrics.js';
import { openApiDocument } from './common/openapi.js';
import { systemClock } from './common/tokens.js';
import { parseConfig } from './config.js';
import { Database } from './db/database.js';

/**
 * The OpenAPI document of this build, without a server: the Nest application is assembled (controllers and their
 * DTOs read) over a throw-away in-memory database, never listens, and is closed again.
 */
export async function buildOpenApiDocument(): Promise<OpenAPIObject> {
  const blobDir = mkdtempSync(join(tmpdir(), 'diad-openapi-'));
  // The secret only satisfies the config schema: nothing is signed while the document is read.
  const config = parseConfig({
    jwtSecret: 'openapi-document-'.padEnd(32, '-'),
    dataDir: 'memory://',
    blobDir,
  });
  const log = createLogger('silent');
  const db = await Database.open(config);
  try {
    const app = await NestFactory.create(
      AppModule.with({
        config,
        db,
        blobs: new FsBlobStore(blobDir),
        clock: systemClock,
        log,
        metrics: new Metrics(),
      }),
      { logger: false, bodyParser: false },
    );
    try {
      return openApiDocument(app);
    } finally {
      await app.close();
    }
  } finally {
    await db.close();
    rmSync(blobDir, { recursive: true, force: true });
  }
}
