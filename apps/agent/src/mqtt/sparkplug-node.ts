import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { MqttLink, type MqttLinkOptions } from './link.js';
import { decodePayload, encodePayload, type SpMetric } from './sparkplug.js';

export interface SparkplugOptions {
  connection: Omit<MqttLinkOptions, 'will' | 'onConnect' | 'clock' | 'logger'>;
  groupId: string;
  edgeNodeId: string;
  stations: string[];
  dataDir: string;
  clock: Clock;
  logger: Logger;
}

const NS = 'spBv1.0';

/**
 * Sparkplug B edge node: the agent is the node, each station a device. On every connect: NBIRTH (seq 0, bdSeq),
 * then DBIRTH per station; each result is a DDATA. NDEATH with the same bdSeq is the MQTT last will. bdSeq is
 * persisted so it increases across restarts. Results here are best effort (QoS 0, per the spec); the durable
 * path is the JSON result topic.
 */
export class SparkplugNode {
  readonly link: MqttLink;
  private bdSeq: number;
  private seq = 0;
  private readonly last = new Map<string, InspectionResult>();
  private readonly seqFile: string;

  constructor(private readonly o: SparkplugOptions) {
    this.seqFile = join(o.dataDir, 'sparkplug-bdseq');
    let prev = -1;
    try {
      prev = Number(readFileSync(this.seqFile, 'utf8'));
    } catch {}
    this.bdSeq = Number.isInteger(prev) && prev >= 0 ? prev : -1;
    this.link = new MqttLink({
      ...o.connection,
      clock: o.clock,
      logger: o.logger,
      will: () => {
        // A new session gets the next bdSeq; its NDEATH (the will) carries the same number.
        this.bdSeq = (this.bdSeq + 1) % 256;
        try {
          writeFileSync(this.seqFile, String(this.bdSeq));
        } catch {}
        return {
          topic: this.topic('NDEATH'),
          payload: Buffer.from(this.deathPayload()),
          retain: false,
          qos: 1,
        };
      },
      // Sparkplug: subscribe to NCMD before NBIRTH, so a host can ask for a rebirth at any time.
      subscribe: [this.topic('NCMD')],
      onMessage: (topic, payload) => this.onCommand(topic, payload),
      onConnect: (link) => this.births(link),
    });
  }

  /** NBIRTH (seq restarts at 0) then one DBIRTH per station with the last known values. */
  private async births(link: MqttLink) {
    this.seq = 0;
    const now = this.o.clock.now();
    const nbirth = encodePayload({
      timestamp: now,
      seq: this.nextSeq(),
      metrics: [
        { name: 'bdSeq', type: 'Int64', value: this.bdSeq },
        { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
      ],
    });
    await link.publish(this.topic('NBIRTH'), Buffer.from(nbirth), { qos: 0 });
    for (const s of this.o.stations) {
      const dbirth = encodePayload({
        timestamp: now,
        seq: this.nextSeq(),
        metrics: this.metrics(s, this.last.get(s) ?? null, true),
      });
      await link.publish(this.topic('DBIRTH', s), Buffer.from(dbirth), { qos: 0 });
    }
  }

  private onCommand(topic: string, payload: Buffer) {
    if (topic !== this.topic('NCMD')) return;
    let rebirth = false;
    try {
      rebirth = decodePayload(payload).metrics.some(
        (m) => m.name === 'Node Control/Rebirth' && m.value === true,
      );
    } catch (e) {
      this.o.logger.warn({ err: (e as Error).message }, 'sparkplug: undecodable NCMD ignored');
    }
    if (rebirth && this.link.connected) {
      this.o.logger.info('sparkplug: rebirth requested');
      this.births(this.link).catch((e) =>
        this.o.logger.warn({ err: (e as Error).message }, 'sparkplug: rebirth failed'),
      );
    }
  }

  get currentBdSeq() {
    return this.bdSeq;
  }

  start() {
    this.link.start();
  }

  publishResult(r: InspectionResult) {
    this.last.set(r.station, r);
    if (!this.link.connected) return;
    const payload = encodePayload({
      timestamp: this.o.clock.now(),
      seq: this.nextSeq(),
      metrics: this.metrics(r.station, r, false),
    });
    this.link.publish(this.topic('DDATA', r.station), Buffer.from(payload), { qos: 0 }).catch(() => {});
  }

  async close() {
    if (this.link.connected)
      await this.link
        .publish(this.topic('NDEATH'), Buffer.from(this.deathPayload()), { qos: 1 })
        .catch(() => {});
    await this.link.close();
  }

  private deathPayload() {
    return encodePayload({
      timestamp: this.o.clock.now(),
      metrics: [{ name: 'bdSeq', type: 'Int64', value: this.bdSeq }],
    });
  }

  private nextSeq() {
    const s = this.seq;
    this.seq = (this.seq + 1) % 256;
    return s;
  }

  private topic(type: string, device?: string) {
    return `${NS}/${this.o.groupId}/${type}/${this.o.edgeNodeId}${device ? `/${device}` : ''}`;
  }

  /**
   * A station's metrics. Births carry name and alias; DDATA only the alias (Sparkplug B metric aliases), which is
   * unique within the node: 1000 × (station position + 1) + metric position.
   */
  private metrics(station: string, r: InspectionResult | null, birth: boolean): SpMetric[] {
    const ts = r ? Date.parse(r.inspectedAt) : undefined;
    const base = 1000 * (this.o.stations.indexOf(station) + 1);
    const values: Array<Omit<SpMetric, 'alias' | 'timestamp'> & { name: string }> = [
      { name: 'Result/PartId', type: 'String', value: r?.partId ?? null },
      { name: 'Result/ResultId', type: 'String', value: r?.resultId ?? null },
      { name: 'Result/State', type: 'String', value: r?.state ?? null },
      { name: 'Result/Verdict', type: 'String', value: r?.verdict ?? null },
      { name: 'Result/Score', type: 'Double', value: r?.score ?? null },
      { name: 'Result/ModelVersion', type: 'String', value: r?.model?.version ?? null },
      { name: 'Result/ThresholdImage', type: 'Double', value: r?.thresholds?.image ?? null },
      { name: 'Result/NOK', type: 'Boolean', value: r ? r.verdict === 'NOK' : null },
    ];
    return values.map((m, i) => ({
      ...m,
      name: birth ? m.name : undefined,
      alias: base + i,
      timestamp: ts,
    }));
  }

  /** The alias → name map of a station's metrics (what a host learns from its DBIRTH). */
  aliases(station: string): Map<number, string> {
    return new Map(this.metrics(station, null, true).map((m) => [m.alias!, m.name!]));
  }
}
