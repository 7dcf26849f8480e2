import type { InspectionResult } from '@diad/protocol';
import mqtt, { type MqttClient } from 'mqtt';

/** A downstream consumer: subscribes on every (re)connect and records results by id, counting duplicates. */
export class Downstream {
  readonly client: MqttClient;
  readonly ids = new Set<string>();
  readonly byStation = new Map<string, string[]>();
  readonly retained = new Map<string, unknown>();
  duplicates = 0;
  private subscribed = false;

  constructor(url: string, topic = 'diad/+/+/+/#') {
    this.client = mqtt.connect(url, {
      reconnectPeriod: 50,
      clean: true,
      clientId: `downstream-${Math.random().toString(36).slice(2)}`,
    });
    this.client.on('connect', () => {
      this.subscribed = false;
      this.client.subscribe(topic, { qos: 1 }, () => {
        this.subscribed = true;
      });
    });
    this.client.on('close', () => {
      this.subscribed = false;
    });
    this.client.on('error', () => {});
    this.client.on('message', (t, payload, packet) => {
      const body = JSON.parse(payload.toString());
      if (t.endsWith('/status')) {
        this.retained.set(t, { ...body, retainFlag: packet.retain });
        return;
      }
      const r = body as InspectionResult;
      if (this.ids.has(r.resultId)) {
        this.duplicates++;
        return;
      }
      this.ids.add(r.resultId);
      const list = this.byStation.get(r.station) ?? [];
      list.push(r.partId);
      this.byStation.set(r.station, list);
    });
  }

  get ready() {
    return this.subscribed && this.client.connected;
  }

  close() {
    return this.client.endAsync();
  }
}
