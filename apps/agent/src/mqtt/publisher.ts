import { EventEmitter } from 'node:events';
import { AgentStatus, InspectionResult, type StationAddress, topics } from '@diad/protocol';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ResultSink } from '../outbox/drainer.js';
import { RefusedResultError } from '../outbox/types.js';
import { MqttLink, type MqttLinkOptions } from './link.js';

export type StatusSource = () => Omit<AgentStatus, 'schema' | 'state' | 'at'> & {
  state: 'online' | 'degraded';
};

export interface StationPublisherOptions {
  address: StationAddress;
  connection: Omit<MqttLinkOptions, 'clientId' | 'will' | 'onConnect' | 'clock' | 'logger'> & {
    clientId?: string;
  };
  deviceId: string;
  status: StatusSource;
  /** Signs a payload with the device key (results and status); absent: published unsigned. */
  sign?: <T extends object>(payload: T) => T;
  clock: Clock;
  logger: Logger;
}

/**
 * One station's MQTT client: results on `diad/<site>/<line>/<station>/result` (QoS 1, validated), status
 * retained on `.../status` with a birth message on every connect and a last will saying "offline".
 */
export class StationPublisher extends EventEmitter<{ up: []; down: [] }> implements ResultSink {
  readonly link: MqttLink;
  readonly resultTopic: string;
  readonly statusTopic: string;

  constructor(private readonly o: StationPublisherOptions) {
    super();
    this.resultTopic = topics.result(o.address);
    this.statusTopic = topics.status(o.address);
    this.link = new MqttLink({
      ...o.connection,
      clientId: o.connection.clientId ?? `diad-${o.deviceId}-${o.address.station}`.slice(0, 64),
      clock: o.clock,
      logger: o.logger,
      will: () => ({
        topic: this.statusTopic,
        payload: JSON.stringify(this.statusPayload('offline')),
        retain: true,
        qos: 1,
      }),
      onConnect: (link) =>
        link.publish(this.statusTopic, JSON.stringify(this.statusPayload()), { qos: 1, retain: true }),
    });
    this.link.on('up', () => this.emit('up'));
    this.link.on('down', () => this.emit('down'));
  }

  get connected() {
    return this.link.connected;
  }

  start() {
    this.link.start();
  }

  publishResult(result: InspectionResult): Promise<void> {
    const parsed = InspectionResult.safeParse(result);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return Promise.reject(
        new RefusedResultError(result.resultId, `${issue.path.join('.')}: ${issue.message}`),
      );
    }
    const payload = this.o.sign ? this.o.sign(parsed.data) : parsed.data;
    return this.link.publish(this.resultTopic, JSON.stringify(payload), { qos: 1 });
  }

  /** Publishes the current status (retained); call on model change, alarms and periodically. */
  async publishStatus(): Promise<void> {
    if (!this.connected) return;
    await this.link.publish(this.statusTopic, JSON.stringify(this.statusPayload()), { qos: 1, retain: true });
  }

  async close(): Promise<void> {
    // An orderly shutdown says "offline" itself: the broker only sends the will on an unexpected loss.
    if (this.connected) {
      await this.link
        .publish(this.statusTopic, JSON.stringify(this.statusPayload('offline')), { qos: 1, retain: true })
        .catch(() => {});
    }
    await this.link.close();
  }

  private statusPayload(state?: 'offline'): AgentStatus {
    const s = this.o.status();
    const status = AgentStatus.parse({
      ...s,
      schema: 'diad.status/v1',
      state: state ?? s.state,
      at: new Date(this.o.clock.now()).toISOString(),
    });
    return this.o.sign ? this.o.sign(status) : status;
  }
}
