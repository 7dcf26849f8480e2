import { randomBytes } from 'node:crypto';
import { AgentStatus, InspectionResult, topics } from '@diad/protocol';
import { Inject, Injectable } from '@nestjs/common';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../common/logger.js';
import { Metrics } from '../common/metrics.js';
import { CLOCK, type Clock, CONFIG, LOGGER } from '../common/tokens.js';
import type { ControlPlaneConfig } from '../config.js';
import { Database } from '../db/database.js';
import { DeviceDirectory } from '../fleet/device-directory.js';
import { IngestService } from './ingest.service.js';
import { IngestBuffer } from './ingest-buffer.js';
import { writeResilient } from './resilient-write.js';
import { outOfRange } from './result-row.js';

/**
 * Subscribes to every station's result topic through a shared subscription ($share/<group>/...), so replicas of
 * the control plane split the stream, and to agent status messages. Results are validated, checked against the
 * device directory and written in batches.
 */
@Injectable()
export class MqttIngest {
  private client: MqttClient | null = null;
  private buffer: IngestBuffer;
  private stopping = false;

  constructor(
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(DeviceDirectory) private readonly directory: DeviceDirectory,
    @Inject(Database) private readonly db: Database,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.buffer = new IngestBuffer(
      async (batch) => {
        const outcome = await writeResilient(batch, {
          write: async (b) => {
            await this.ingest.ingest(b, 'mqtt');
          },
          healthy: async () => {
            try {
              await this.db.prisma.$queryRawUnsafe('SELECT 1');
              return true;
            } catch {
              return false;
            }
          },
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
          onDropped: (row, err) => {
            this.metrics.resultsRejected.inc({ transport: 'mqtt', reason: 'database-refused' });
            this.log.error({ err, resultId: row.resultId }, 'database refused a result');
          },
          onRetry: (err, attempt) =>
            this.log.warn({ err, attempt, results: batch.length }, 'writing MQTT results failed'),
          stopping: () => this.stopping,
        });
        if (outcome === 'lost') {
          this.metrics.resultsRejected.inc({ transport: 'mqtt', reason: 'lost-at-shutdown' }, batch.length);
          this.log.error({ results: batch.length }, 'database unreachable at shutdown: results lost');
        }
      },
      config.ingestBatchSize,
      config.ingestFlushMs,
    );
  }

  async start(): Promise<void> {
    if (!this.config.mqttUrl) return;
    const client = mqtt.connect(this.config.mqttUrl, {
      protocolVersion: this.config.mqttProtocol,
      clientId: `diad-cp-${randomBytes(6).toString('hex')}`,
      username: this.config.mqttUsername,
      password: this.config.mqttPassword,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
    });
    client.handleMessage = (packet, done) => {
      this.onMessage(packet.topic, packet.payload as Buffer).then(
        () => done(),
        (e) => {
          this.log.error({ err: e }, 'MQTT message handling failed');
          done();
        },
      );
    };
    this.client = client;
    const group = this.config.mqttGroup;
    const subscriptions = group
      ? [topics.sharedResults(group), `$share/${group}/${topics.allStatus()}`]
      : [topics.sharedResults('x').replace(/^\$share\/x\//, ''), topics.allStatus()];
    let first = true;
    client.on('connect', (ack) => {
      this.metrics.mqttConnected.set(1);
      if (first || !ack.sessionPresent) {
        client.subscribe(subscriptions, { qos: 1 }, (err) => {
          if (err) this.log.error({ err }, 'MQTT subscribe failed');
        });
      }
      first = false;
    });
    client.on('close', () => this.metrics.mqttConnected.set(0));
    client.on('error', (err) => this.log.warn({ err: err.message }, 'MQTT error'));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`MQTT: no connection to ${this.config.mqttUrl} within 10 s`)),
          10_000,
        );
        client.once('connect', () => {
          clearTimeout(t);
          resolve();
        });
      });
      // The first subscription is made by the connect handler; wait until the broker granted it.
      await client.subscribeAsync(subscriptions, { qos: 1 });
    } catch (e) {
      this.client = null;
      await client.endAsync(true);
      throw e;
    }
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    const parts = topic.split('/');
    const kind = parts[4];
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      this.metrics.resultsRejected.inc({ transport: 'mqtt', reason: 'invalid-json' });
      return;
    }
    if (kind === 'status') return this.onStatus(json);
    if (kind !== 'result') return;
    const r = InspectionResult.safeParse(json);
    if (!r.success) {
      this.metrics.resultsRejected.inc({ transport: 'mqtt', reason: 'invalid' });
      this.log.debug({ topic, issue: r.error.issues[0] }, 'invalid result dropped');
      return;
    }
    const res = r.data;
    if (outOfRange(res)) {
      this.metrics.resultsRejected.inc({ transport: 'mqtt', reason: 'out-of-range' });
      return;
    }
    if (parts[1] !== res.site || parts[2] !== res.line || parts[3] !== res.station) {
      this.metrics.resultsRejected.inc({ transport: 'mqtt', reason: 'topic-mismatch' });
      return;
    }
    const dev = await this.directory.lookup(res.deviceId);
    if (!dev || dev.disabled) {
      this.metrics.resultsRejected.inc({ transport: 'mqtt', reason: 'unknown-device' });
      return;
    }
    if (dev.site !== res.site || dev.line !== res.line || dev.station !== res.station) {
      this.metrics.resultsRejected.inc({ transport: 'mqtt', reason: 'address-mismatch' });
      return;
    }
    await this.buffer.add(res);
  }

  private async onStatus(json: unknown): Promise<void> {
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

  /** Stops receiving, then writes whatever is buffered. */
  async stop(): Promise<void> {
    this.stopping = true;
    const c = this.client;
    this.client = null;
    if (c) await c.endAsync();
    await this.buffer.flush();
    this.metrics.mqttConnected.set(0);
  }
}
