import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE, Reflector } from '@nestjs/core';
import { AuditController } from './audit/audit.controller.js';
import { AuditService } from './audit/audit.service.js';
import { AuthController, LOGIN_LIMITER } from './auth/auth.controller.js';
import { AuthGuard, RATE_LIMITER } from './auth/auth.guard.js';
import { AuthService } from './auth/auth.service.js';
import type { BlobStore } from './blob/blob-store.js';
import { ResponseCheck, ZodPipe } from './common/dto.js';
import { AllErrorsFilter } from './common/errors.js';
import type { Logger } from './common/logger.js';
import { Metrics } from './common/metrics.js';
import { OpsController } from './common/ops.controller.js';
import { RateLimiter } from './common/rate-limiter.js';
import { BLOB_STORE, CLOCK, type Clock, CONFIG, LOGGER } from './common/tokens.js';
import type { ControlPlaneConfig } from './config.js';
import { Database } from './db/database.js';
import { AgentController } from './fleet/agent.controller.js';
import { AgentService } from './fleet/agent.service.js';
import { BrokerIdentityService } from './fleet/broker-identities/broker-identity.service.js';
import { DesiredStateService } from './fleet/desired-state.service.js';
import { DeviceDirectory } from './fleet/device-directory.js';
import { FleetController } from './fleet/fleet.controller.js';
import { FleetService } from './fleet/fleet.service.js';
import { DatasetImportService } from './lifecycle/dataset-import.service.js';
import { DatasetsService } from './lifecycle/datasets.service.js';
import { EvaluationsService } from './lifecycle/evaluations.service.js';
import { LabelsService } from './lifecycle/labels.service.js';
import { LifecycleController } from './lifecycle/lifecycle.controller.js';
import { OkImageRetention } from './lifecycle/ok-image-retention.js';
import { ReviewQueueService } from './lifecycle/review-queue.service.js';
import { ShadowEvidenceService } from './lifecycle/shadow-evidence.service.js';
import { ModelsController } from './registry/models.controller.js';
import { ModelsService } from './registry/models.service.js';
import { ArtifactsService } from './results/artifacts.service.js';
import { IngestService } from './results/ingest.service.js';
import { Ingestion } from './results/ingestion/ingestion.service.js';
import { ResultEvents } from './results/result-events.js';
import { ResultsController } from './results/results.controller.js';
import { ResultsService } from './results/results.service.js';
import { RolloutsController } from './rollouts/rollouts.controller.js';
import { RolloutsService } from './rollouts/rollouts.service.js';
import { ThresholdsController } from './thresholds/thresholds.controller.js';
import { ThresholdsService } from './thresholds/thresholds.service.js';
import { TrainingController } from './training/training.controller.js';
import { TrainingService } from './training/training.service.js';

export interface AppDeps {
  config: ControlPlaneConfig;
  db: Database;
  blobs: BlobStore;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}

@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest module is a class by design
export class AppModule {
  static with(deps: AppDeps): DynamicModule {
    return {
      module: AppModule,
      controllers: [
        AuthController,
        AuditController,
        FleetController,
        AgentController,
        ModelsController,
        RolloutsController,
        ThresholdsController,
        // Before ResultsController: its `results/:id/:kind` would otherwise take `results/:id/labels`.
        LifecycleController,
        TrainingController,
        ResultsController,
        OpsController,
      ],
      providers: [
        { provide: CONFIG, useValue: deps.config },
        { provide: Database, useValue: deps.db },
        { provide: BLOB_STORE, useValue: deps.blobs },
        { provide: CLOCK, useValue: deps.clock },
        { provide: LOGGER, useValue: deps.log },
        { provide: Metrics, useValue: deps.metrics },
        { provide: RATE_LIMITER, useValue: new RateLimiter(deps.config.rateLimitPerMinute, deps.clock) },
        {
          provide: LOGIN_LIMITER,
          useValue: new RateLimiter(deps.config.loginRateLimitPerMinute, deps.clock),
        },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useValue: new AllErrorsFilter(deps.log) },
        { provide: APP_PIPE, useValue: new ZodPipe() },
        {
          provide: APP_INTERCEPTOR,
          useFactory: (reflector: Reflector) =>
            new ResponseCheck(reflector, deps.log, deps.metrics, deps.config.responseCheck),
          inject: [Reflector],
        },
        AuditService,
        AuthService,
        LabelsService,
        ReviewQueueService,
        DatasetsService,
        DatasetImportService,
        OkImageRetention,
        ShadowEvidenceService,
        EvaluationsService,
        TrainingService,
        DeviceDirectory,
        BrokerIdentityService,
        FleetService,
        DesiredStateService,
        AgentService,
        ModelsService,
        RolloutsService,
        ThresholdsService,
        ResultEvents,
        IngestService,
        ResultsService,
        ArtifactsService,
        Ingestion,
      ],
    };
  }
}
