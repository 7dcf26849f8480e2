import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** One registry per control-plane instance, so several can run in one process (tests, demo). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'diad_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });
  readonly responseSchemaMismatch = new Counter({
    name: 'diad_http_response_schema_mismatch_total',
    help: 'JSON responses that did not match the schema their route declares in the OpenAPI document',
    labelNames: ['route'],
    registers: [this.registry],
  });
  readonly brokerIdentityOps = new Counter({
    name: 'diad_broker_identity_operations_total',
    help: 'Per-device broker identity changes (provision, revoke), by outcome (ok, failed)',
    labelNames: ['op', 'outcome'],
    registers: [this.registry],
  });
  readonly resultsIngested = new Counter({
    name: 'diad_results_ingested_total',
    help: 'Results stored, by transport',
    labelNames: ['transport'],
    registers: [this.registry],
  });
  readonly resultsDuplicate = new Counter({
    name: 'diad_results_duplicate_total',
    help: 'Results ignored because their id was already stored',
    labelNames: ['transport'],
    registers: [this.registry],
  });
  readonly statusRejected = new Counter({
    name: 'diad_status_rejected_total',
    help: 'Device status messages not applied, by reason (unsigned, bad-signature, replayed, disabled-device, ...)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly resultsRejected = new Counter({
    name: 'diad_results_rejected_total',
    help: 'Results rejected, by reason',
    labelNames: ['transport', 'reason'],
    registers: [this.registry],
  });
  readonly ingestBatchSeconds = new Histogram({
    name: 'diad_ingest_batch_seconds',
    help: 'Time to write one batch of results',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly mqttConnected = new Gauge({
    name: 'diad_mqtt_connected',
    help: '1 while the result subscriber is connected to the broker',
    registers: [this.registry],
  });
  readonly resultsHandedBack = new Counter({
    name: 'diad_results_handed_back_total',
    help: 'Deliveries handed back to the broker unacknowledged (shutdown with the database down, a check that could not decide)',
    labelNames: ['transport', 'cause'],
    registers: [this.registry],
  });
  readonly lastCommitSeconds = new Gauge({
    name: 'diad_ingest_last_commit_timestamp_seconds',
    help: 'Unix time of the last committed batch of results on this replica',
    registers: [this.registry],
  });
  readonly ingestStalled = new Gauge({
    name: 'diad_ingest_stalled',
    help: '1 while agents report queued results (outbox depth > 0) and this replica has committed none within the stall window',
    registers: [this.registry],
  });
  readonly mqttSubscribeFailures = new Counter({
    name: 'diad_mqtt_subscribe_failures_total',
    help: 'SUBACKs refusing a result/status subscription, or subscribe errors',
    registers: [this.registry],
  });
  readonly mqttSessionLost = new Counter({
    name: 'diad_mqtt_session_lost_total',
    help: 'Reconnects where the broker had no session for this replica (messages published meanwhile may not be queued)',
    registers: [this.registry],
  });
  readonly mqttCanaryMissed = new Counter({
    name: 'diad_mqtt_canary_missed_total',
    help: 'Canaries that did not come back through the shared subscription within the probe interval (each causes a re-subscribe)',
    registers: [this.registry],
  });
  readonly mqttResubscribes = new Counter({
    name: 'diad_mqtt_resubscribes_total',
    help: 'Re-subscriptions made because the liveness probe found the subscription not delivering',
    registers: [this.registry],
  });
  readonly mqttCanaryLatency = new Histogram({
    name: 'diad_mqtt_canary_seconds',
    help: 'Round trip of a canary through the broker and the shared subscription',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly okImagesSwept = new Counter({
    name: 'diad_ok_images_swept_total',
    help: 'Uploaded OK-sample images removed by the retention sweep, by the bound that removed them (age, count, bytes)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly okImageBytesSwept = new Counter({
    name: 'diad_ok_image_bytes_swept_total',
    help: 'Bytes of uploaded OK-sample images removed by the retention sweep',
    registers: [this.registry],
  });
  readonly okImageLastSweep = new Gauge({
    name: 'diad_ok_image_sweep_timestamp_seconds',
    help: 'Unix time of the last completed OK-image retention sweep on this replica',
    registers: [this.registry],
  });
  readonly enrolments = new Counter({
    name: 'diad_enrolments_total',
    help: 'Enrolment requests, by outcome (enrolled; replayed: a retry answered with the same device; refused)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly rolloutActions = new Counter({
    name: 'diad_rollout_actions_total',
    help: 'Rollout transitions, by action',
    labelNames: ['action'],
    registers: [this.registry],
  });
  readonly sseClients = new Gauge({
    name: 'diad_sse_clients',
    help: 'Open live result streams',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'diad_cp_' });
  }

  /** Devices seen within the offline window, counted at scrape time (one query serves both gauges). */
  watchDevices(count: () => Promise<{ online: number; total: number }>): void {
    let last: Promise<{ online: number; total: number }> | null = null;
    const once = () => {
      last ??= count().finally(() => setTimeout(() => (last = null), 1000).unref());
      return last;
    };
    new Gauge({
      name: 'diad_devices_online',
      help: 'Enabled devices seen within the offline window',
      registers: [this.registry],
      async collect() {
        this.set((await once()).online);
      },
    });
    new Gauge({
      name: 'diad_devices',
      help: 'Enrolled, enabled devices',
      registers: [this.registry],
      async collect() {
        this.set((await once()).total);
      },
    });
  }
}
