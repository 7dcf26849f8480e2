import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one agent (own registry, so several agents can live in one test process). */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly frames = new Counter({
    name: 'diad_agent_frames_total',
    help: 'Frames that produced a result, by station and result state',
    labelNames: ['station', 'state'] as const,
    registers: [this.registry],
  });
  readonly stageSeconds = new Histogram({
    name: 'diad_agent_stage_seconds',
    help: 'Latency per stage: queue (wait), inspect (model), store (outbox write), publish (to PUBACK), total',
    labelNames: ['stage'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly modelSeconds = new Histogram({
    name: 'diad_agent_model_stage_seconds',
    help: 'Model stage timings reported by the pipeline',
    labelNames: ['stage'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly providerUsable = new Gauge({
    name: 'diad_agent_execution_provider',
    help: 'Start-up check of each execution provider: 1 on the series with its status (ok, unavailable, failed)',
    labelNames: ['provider', 'status'] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'diad_agent_queue_depth',
    help: 'Frames waiting for the model, per station',
    labelNames: ['station'] as const,
    registers: [this.registry],
  });
  readonly outboxDepth = new Gauge({
    name: 'diad_agent_outbox_depth',
    help: 'Undelivered results',
    registers: [this.registry],
  });
  readonly outboxBytes = new Gauge({
    name: 'diad_agent_outbox_bytes',
    help: 'Bytes of undelivered results',
    registers: [this.registry],
  });
  readonly resultsSetAside = new Counter({
    name: 'diad_agent_results_set_aside_total',
    help: 'Results the receiver refused for good (poison results), set aside in the outbox with the reason',
    registers: [this.registry],
  });
  readonly outboxFull = new Gauge({
    name: 'diad_agent_outbox_full',
    help: '1 while the outbox is full (alarm)',
    registers: [this.registry],
  });
  readonly published = new Counter({
    name: 'diad_agent_published_total',
    help: 'Results acknowledged by the broker',
    registers: [this.registry],
  });
  readonly publishFailures = new Counter({
    name: 'diad_agent_publish_failures_total',
    help: 'Failed publish attempts and lost broker connections',
    registers: [this.registry],
  });
  readonly publishRefused = new Counter({
    name: 'diad_agent_publish_refused_total',
    help: 'Results the broker answered but did not deliver (MQTT 5 PUBACK 0x10 or >= 0x80), kept and retried',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly controlPlaneRetries = new Counter({
    name: 'diad_agent_control_plane_retries_total',
    help: 'Control-plane calls repeated after a transient failure (timeout, reset, 5xx), by call',
    labelNames: ['call'] as const,
    registers: [this.registry],
  });
  readonly modelSwitches = new Counter({
    name: 'diad_agent_model_updates_total',
    help: 'Model updates by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
}
