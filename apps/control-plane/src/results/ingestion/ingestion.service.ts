import { hostname } from 'node:os';
import { AgentStatus, TOPIC_ROOT } from '@diad/protocol';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from '../../common/logger.js';
import { Metrics } from '../../common/metrics.js';
import { CLOCK, type Clock, CONFIG, LOGGER } from '../../common/tokens.js';
import type { ControlPlaneConfig } from '../../config.js';
import { Database } from '../../db/database.js';
import { DeviceDirectory } from '../../fleet/device-directory.js';
import { IngestService } from '../ingest.service.js';
import { IngestionCore } from './ingestion-core.js';
import { MqttTransport } from './mqtt-transport.js';
import { NatsTransport } from './nats-transport.js';

export interface IngestionReadiness {
  ok: boolean;
  reasons: string[];
  transports: ReturnType<IngestionCore['health']>;
  stalled: string | null;
}

/**
 * Result ingestion of this replica: the transport-independent core, its transports (MQTT when `mqttUrl` is set)
 * and the stall alarm. Other transports attach to `core` before `start()`.
 */
@Injectable()
export class Ingestion {
  readonly core: IngestionCore;
  private mqtt: MqttTransport | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  private stall: string | null = null;
  private started = false;

  constructor(
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(DeviceDirectory) private readonly directory: DeviceDirectory,
    @Inject(Database) private readonly db: Database,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.core = new IngestionCore({
      insert: (rs) => this.ingest.insert(rs),
      healthy: async () => {
        try {
          await this.db.prisma.$queryRawUnsafe('SELECT 1');
          return true;
        } catch {
          return false;
        }
      },
      lookupDevice: (id) => this.directory.lookup(id),
      onCommitted: (rs) => this.ingest.published(rs),
      metrics,
      log,
      batchSize: config.ingestBatchSize,
      flushMs: config.ingestFlushMs,
    });
  }

  /** The MQTT transport, when configured (tests reach its probe through it). */
  get mqttTransport(): MqttTransport | null {
    return this.mqtt;
  }

  /** Starts the transports; `port` is the HTTP port, part of the default MQTT client id. */
  async start(port: number): Promise<void> {
    const c = this.config;
    if (c.ingestTransport === 'nats') {
      this.core.attach(
        new NatsTransport({
          servers: c.natsUrl!.split(','),
          user: c.natsUser,
          pass: c.natsPassword,
          stream: c.natsStream,
          consumer: c.natsConsumer,
          subjectRoot: TOPIC_ROOT,
          replicas: c.natsStreamReplicas,
          maxAgeSeconds: c.natsMaxAgeSeconds,
          maxBytes: c.natsMaxBytes,
          ackWaitSeconds: c.natsAckWaitSeconds,
          maxAckPending: c.natsMaxAckPending,
          pullBatch: c.natsPullBatch,
          onStatus: (payload) => this.onStatus(Buffer.from(payload)),
          log: this.log,
        }),
      );
    } else if (c.mqttUrl) {
      const clientId =
        c.mqttClientId ?? `diad-cp-${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${port}`.slice(0, 64);
      this.mqtt = new MqttTransport({
        url: c.mqttUrl,
        protocolVersion: c.mqttProtocol,
        clientId,
        clean: c.mqttCleanSession,
        sessionExpirySeconds: c.mqttSessionExpirySeconds,
        username: c.mqttUsername,
        password: c.mqttPassword,
        group: c.mqttGroup,
        probeMs: c.mqttProbeMs,
        reconnectMs: c.mqttReconnectMs,
        onStatus: (_topic, payload) => this.onStatus(payload),
        metrics: this.metrics,
        log: this.log,
      });
      this.core.attach(this.mqtt);
    }
    await this.core.start();
    this.started = true;
    if (c.ingestStallSeconds > 0) {
      const every = Math.max(1000, Math.min(c.ingestStallSeconds * 1000, c.mqttProbeMs || 10_000) / 2);
      this.stallTimer = setInterval(() => {
        this.checkStall().catch((err) => this.log.warn({ err }, 'stall check failed'));
      }, every);
      this.stallTimer.unref();
    }
  }

  /**
   * The stall alarm: agents report results waiting in their outbox (status or heartbeat seen within the offline
   * window) while this replica has committed nothing for `ingestStallSeconds`.
   */
  async checkStall(): Promise<string | null> {
    const c = this.config;
    const now = this.clock.now().getTime();
    const idleMs = Date.now() - this.ingest.lastCommitAt;
    let reason: string | null = null;
    if (c.ingestStallSeconds > 0 && idleMs > c.ingestStallSeconds * 1000) {
      const since = new Date(now - c.offlineAfterSeconds * 1000);
      const rows = await this.db.prisma.device.aggregate({
        where: { disabled: false, outboxDepth: { gt: 0 }, lastSeenAt: { gte: since } },
        _count: { _all: true },
        _sum: { outboxDepth: true },
      });
      const devices = rows._count._all;
      if (devices > 0)
        reason = `ingestion stalled: ${devices} device(s) report ${rows._sum.outboxDepth ?? 0} result(s) queued, nothing committed for ${Math.round(idleMs / 1000)} s`;
    }
    if (reason && !this.stall) this.log.error(reason);
    if (!reason && this.stall) this.log.info('ingestion no longer stalled');
    this.stall = reason;
    this.metrics.ingestStalled.set(reason ? 1 : 0);
    return reason;
  }

  readiness(): IngestionReadiness {
    const reasons: string[] = [];
    const transports = this.core.health();
    if (!this.started) reasons.push('ingestion not started');
    for (const t of transports) {
      if (!t.attached) reasons.push(`${t.name}: consumer not attached (${t.detail ?? 'no detail'})`);
      if (t.stalled) reasons.push(`${t.name}: ${t.stalled}`);
    }
    if (this.stall) reasons.push(this.stall);
    return { ok: reasons.length === 0, reasons, transports, stalled: this.stall };
  }

  private async onStatus(payload: Buffer): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    const s = AgentStatus.safeParse(json);
    if (!s.success) return;
    const dev = await this.directory.lookup(s.data.deviceId);
    if (!dev) return;
    await this.db.prisma.device.update({
      where: { id: s.data.deviceId },
      data:
        s.data.state === 'offline'
          ? { health: 'offline' }
          : {
              lastSeenAt: this.clock.now(),
              health: s.data.state === 'degraded' ? 'degraded' : 'ok',
              queueDepth: s.data.queueDepth,
              outboxDepth: s.data.outboxDepth,
            },
    });
  }

  /** Commits (or hands back) what is buffered, then disconnects the transports. */
  async stop(): Promise<void> {
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.stallTimer = null;
    await this.core.stop();
  }
}
