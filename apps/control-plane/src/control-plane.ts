import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module.js';
import { AuthService } from './auth/auth.service.js';
import type { BlobStore } from './blob/blob-store.js';
import { FsBlobStore } from './blob/fs-blob-store.js';
import { S3BlobStore } from './blob/s3-blob-store.js';
import { httpMiddleware } from './common/http-middleware.js';
import { createLogger, type Logger } from './common/logger.js';
import { Metrics } from './common/metrics.js';
import { NestPinoLogger } from './common/nest-logger.js';
import { openApiDocument } from './common/openapi.js';
import { type Clock, systemClock } from './common/tokens.js';
import { type ControlPlaneConfig, type ControlPlaneConfigInput, parseConfig } from './config.js';
import { serveDashboard } from './dashboard/static-dashboard.js';
import { Database } from './db/database.js';
import { maintainPartitions } from './db/partitions.js';
import { OkImageRetention } from './lifecycle/ok-image-retention.js';
import { ArtifactsService } from './results/artifacts.service.js';
import { Ingestion } from './results/ingestion/ingestion.service.js';
import { ResultEvents } from './results/result-events.js';
import { RolloutsService } from './rollouts/rollouts.service.js';

export interface ControlPlane {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  config: ControlPlaneConfig;
  app: INestApplication;
  db: Database;
  /** Resolves a provider (tests drive services and the rollout tick directly). */
  get<T>(token: abstract new (...args: never[]) => T): T;
  close(): Promise<void>;
}

export interface ControlPlaneOverrides {
  clock?: Clock;
  blobs?: BlobStore;
  log?: Logger;
}

/** Starts the control plane in this process: database (migrated), HTTP API, MQTT ingestion, rollout timer. */
export async function createControlPlane(
  input: ControlPlaneConfigInput,
  overrides: ControlPlaneOverrides = {},
): Promise<ControlPlane> {
  const config = parseConfig(input);
  const log = overrides.log ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? systemClock;
  const metrics = new Metrics();
  const db = await Database.open(config);
  let app: NestExpressApplication | null = null;
  try {
    const applied = await db.migrate();
    if (applied.length) log.info({ applied }, 'migrations applied');
    const blobs =
      overrides.blobs ??
      (config.blobStore === 's3'
        ? new S3BlobStore({
            endpoint: config.s3Endpoint,
            region: config.s3Region,
            bucket: config.s3Bucket!,
            accessKeyId: config.s3AccessKeyId,
            secretAccessKey: config.s3SecretAccessKey,
            sessionToken: config.s3SessionToken,
          })
        : new FsBlobStore(config.blobDir));
    app = await NestFactory.create<NestExpressApplication>(
      AppModule.with({ config, db, blobs, clock, log, metrics }),
      { logger: new NestPinoLogger(log), bodyParser: false },
    );
    app.set('trust proxy', 'loopback');
    // Before the request log and metrics: static files need neither (and client routes would be unbounded labels).
    app.use(serveDashboard({ dir: config.dashboardDir }));
    app.use(httpMiddleware(log, metrics));
    app.useBodyParser('json', { limit: '32mb' });
    const doc = openApiDocument(app);
    SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'docs/openapi.json' });
    await app.get(AuthService).seedAdmin();
    metrics.watchDevices(async () => {
      const since = new Date(clock.now().getTime() - config.offlineAfterSeconds * 1000);
      const [online, total] = await Promise.all([
        db.prisma.device.count({ where: { disabled: false, lastSeenAt: { gte: since } } }),
        db.prisma.device.count({ where: { disabled: false } }),
      ]);
      return { online, total };
    });
    // Keep idle connections longer than load balancers' idle timeouts (HAProxy, cloud LBs: 60 s), so a client never
    // sends on a connection the server has just closed (seen as ECONNRESET by clients reusing connections).
    const server = app.getHttpServer() as { keepAliveTimeout: number; headersTimeout: number };
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await app.listen(config.port, config.host);
    const addr = app.getHttpServer().address() as AddressInfo;
    const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
    // Partitions for the current interval exist before the first result is taken in.
    const partitionPolicy = {
      interval: config.resultsPartitionInterval,
      ahead: config.resultsPartitionsAhead,
      retentionDays: config.resultsRetentionDays,
    };
    const artifacts = app.get(ArtifactsService);
    const maintain = () =>
      maintainPartitions(db.prisma, partitionPolicy, clock.now())
        .then((r) => {
          if (r.created.length || r.dropped.length || r.moved || r.expired)
            log.info(r, 'results partitions maintained');
        })
        // Images of results that retention removed.
        .then(() => artifacts.sweepOrphans())
        .then((n) => {
          if (n > 0) log.info({ removed: n }, 'orphaned result images removed');
        })
        .catch((e) => log.error({ err: e }, 'results partition maintenance failed'));
    await maintain();
    const partitionTimer =
      config.partitionMaintenanceMs > 0 ? setInterval(maintain, config.partitionMaintenanceMs) : null;
    partitionTimer?.unref();
    const stopSweep = app.get(OkImageRetention).schedule();
    const ingestion = app.get(Ingestion);
    await ingestion.start(addr.port);
    const rollouts = app.get(RolloutsService);
    const ticker =
      config.rolloutTickMs > 0
        ? setInterval(() => {
            rollouts.tick().catch((e) => log.error({ err: e }, 'rollout tick failed'));
          }, config.rolloutTickMs)
        : null;
    ticker?.unref();
    log.info({ url, database: db.kind, mqtt: config.mqttUrl ?? null }, 'control plane listening');
    const nest = app;
    let closing: Promise<void> | null = null;
    return {
      url,
      config,
      app: nest,
      db,
      get: (token) => nest.get(token),
      close: () => {
        closing ??= (async () => {
          if (ticker) clearInterval(ticker);
          if (partitionTimer) clearInterval(partitionTimer);
          stopSweep();
          await ingestion.stop();
          nest.get(ResultEvents).close();
          const server = nest.getHttpServer();
          const closed = nest.close();
          // Keep-alive sockets would hold close() open; in-flight requests have had their chance by now.
          setTimeout(() => server.closeAllConnections?.(), 2000).unref();
          server.closeIdleConnections?.();
          await closed;
          await db.close();
          log.info('control plane stopped');
        })();
        return closing;
      },
    };
  } catch (e) {
    if (app) await app.close().catch(() => {});
    await db.close().catch(() => {});
    throw e;
  }
}
