import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/common/metrics.js';
import { MqttTransport } from '../../src/results/ingestion/mqtt-transport.js';
import type { Delivery, DeliverySink } from '../../src/results/ingestion/transport.js';
import { until } from '../helpers/broker.js';
import { startMosquitto } from '../helpers/mosquitto.js';

/** A sink that keeps deliveries without settling them, so the test decides when to acknowledge. */
class HoldingSink implements DeliverySink {
  held: Delivery[] = [];
  async deliver(d: Delivery) {
    this.held.push(d);
  }
}

// A private Mosquitto: the test relies on the broker redelivering to a persistent session.
describe('MQTT transport: PUBACK only when the core acknowledges', () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let pub: mqtt.MqttClient;
  const transport = () =>
    new MqttTransport({
      url: broker.url,
      protocolVersion: 5,
      clientId: 'transport-test',
      clean: false,
      sessionExpirySeconds: 600,
      group: 'tt',
      probeMs: 0,
      reconnectMs: 200,
      onStatus: async () => {},
      metrics: new Metrics(),
      log: pino({ level: 'silent' }),
    });

  beforeAll(async () => {
    broker = await startMosquitto();
    pub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  });
  afterAll(async () => {
    await pub?.endAsync();
    await broker?.close();
  });

  it('redelivers what was not acknowledged after a reconnect, and nothing that was', async () => {
    let sink = new HoldingSink();
    let t = transport();
    await t.start(sink);
    expect(t.health().attached).toBe(true);
    for (const id of ['a', 'b']) await pub.publishAsync('diad/s/l/st/result', id, { qos: 1 });
    await until(
      async () => sink.held.length,
      (n) => n === 2,
    );
    expect(sink.held.map((d) => Buffer.from(d.payload).toString())).toEqual(['a', 'b']);
    expect(sink.held[0].address).toEqual({ site: 's', line: 'l', station: 'st' });
    sink.held[0].ack(); // 'a' committed; 'b' not (the replica dies before its commit)
    await new Promise((r) => setTimeout(r, 300));
    await t.stop();

    sink = new HoldingSink();
    t = transport();
    await t.start(sink);
    await until(
      async () => sink.held.length,
      (n) => n >= 1,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.held.map((d) => Buffer.from(d.payload).toString())).toEqual(['b']);
    expect(sink.held[0].redelivered).toBe(true);
    sink.held[0].ack();
    await new Promise((r) => setTimeout(r, 300));
    await t.stop();

    sink = new HoldingSink();
    t = transport();
    await t.start(sink);
    await pub.publishAsync('diad/s/l/st/result', 'c', { qos: 1 });
    await until(
      async () => sink.held.length,
      (n) => n >= 1,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.held.map((d) => Buffer.from(d.payload).toString())).toEqual(['c']);
    sink.held[0].ack();
    await t.stop();
  });

  it('starts and reports itself attached while the SUBACK waits behind a backlog of queued results', async () => {
    // A first connection creates the session (and its subscription), then goes away with results queued for it.
    const first = transport();
    await first.start(new HoldingSink());
    await first.stop();
    for (let i = 0; i < 50; i++) await pub.publishAsync('diad/s/l/st/result', `q${i}`, { qos: 1 });

    // The restarted replica buffers nothing until released: mqtt.js reads no further packet, so the SUBACK for
    // its new SUBSCRIBE stays unread behind the queued results, as under a large backlog on a loaded machine.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const seen: Delivery[] = [];
    const blocking: DeliverySink = {
      async deliver(d) {
        seen.push(d);
        await gate;
      },
    };
    const t = transport();
    await t.start(blocking);
    expect(seen.length).toBe(1);
    expect(t.health()).toMatchObject({ attached: true });
    expect(t.health().detail).toContain('SUBACK not yet read');

    release();
    await until(
      async () => t.health().detail,
      (d) => d.startsWith('subscribed to'),
    );
    await until(
      async () => seen.length,
      (n) => n === 50,
    );
    for (const d of seen) d.ack();
    await new Promise((r) => setTimeout(r, 300));
    await t.stop();
  });
});
