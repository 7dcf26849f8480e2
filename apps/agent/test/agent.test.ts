import { join } from 'node:path';
import type { InspectionResult } from '@diad/protocol';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { makePpm } from '../src/inspector/pnm.js';
import { decodePayload, encodePayload } from '../src/mqtt/sparkplug.js';
import { silent, standInBundle, tmp, waitFor } from './helpers.js';
import { Downstream } from './mqtt-harness.js';

describe('Agent end to end (embedded broker, HTTP source, Sparkplug B)', () => {
  let agent: Agent;
  let base: string;
  let url: string;
  const spb: { topic: string; payload: ReturnType<typeof decodePayload> }[] = [];
  let spbClient: mqtt.MqttClient;

  beforeAll(async () => {
    const dir = tmp();
    const config = parseConfig({
      site: 'site1',
      line: 'line1',
      deviceId: 'edge-1',
      dataDir: join(dir, 'data'),
      model: { kind: 'standin', bundle: standInBundle(dir) },
      stations: [{ id: 'st1' }, { id: 'st2' }],
      mqtt: { embeddedBroker: { enabled: true, port: 0 }, sparkplug: { enabled: true, groupId: 'plant' } },
      opcua: { enabled: false },
      http: { host: '127.0.0.1', port: 0 },
    });
    agent = await Agent.start(config, { logger: silent });
    url = `mqtt://127.0.0.1:${agent.broker!.port}`;
    const a = agent.http!.server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    spbClient = mqtt.connect(url);
    spbClient.on('message', (topic, payload) => {
      try {
        spb.push({ topic, payload: decodePayload(payload) });
      } catch {
        // the malformed NCMD sent by a test
      }
    });
    await new Promise<void>((r) =>
      spbClient.on('connect', () => spbClient.subscribe('spBv1.0/#', { qos: 1 }, () => r())),
    );
  });
  afterAll(async () => {
    await spbClient?.endAsync();
    await agent?.stop();
  });

  it('inspects a POSTed frame and publishes the result on the station topic', async () => {
    const down = new Downstream(url);
    await waitFor(() => down.ready);
    const res = await fetch(`${base}/api/v1/frames?station=st2&partId=P-77`, {
      method: 'POST',
      body: makePpm(16, 16, 250),
      headers: { 'content-type': 'application/octet-stream' },
    });
    const r = (await res.json()) as InspectionResult;
    expect(r).toMatchObject({ state: 'nok', deviceId: 'edge-1', station: 'st2' });
    await waitFor(() => down.ids.has(r.resultId), 5000, 'result on MQTT');
    expect(down.byStation.get('st2')).toEqual(['P-77']);
    await waitFor(() => agent.outbox.depth() === 0);
    const status = down.retained.get('diad/site1/line1/st2/status') as Record<string, unknown>;
    expect(status).toMatchObject({
      schema: 'diad.status/v1',
      state: 'online',
      deviceId: 'edge-1',
      model: { name: 'standin' },
    });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    await down.close();
  });

  it('speaks Sparkplug B: DDATA with increasing seq after the births', async () => {
    await fetch(`${base}/api/v1/frames?station=st1&partId=S-1`, {
      method: 'POST',
      body: makePpm(8, 8, 10),
      headers: { 'content-type': 'application/octet-stream' },
    });
    await waitFor(() => spb.some((m) => m.topic === 'spBv1.0/plant/DDATA/edge-1/st1'), 5000, 'DDATA');
    const d = spb.find((m) => m.topic === 'spBv1.0/plant/DDATA/edge-1/st1')!.payload;
    // DDATA names its metrics by the aliases the DBIRTH declared.
    const birth = spb.find((m) => m.topic === 'spBv1.0/plant/DBIRTH/edge-1/st1')!.payload;
    const names = new Map(birth.metrics.map((m) => [m.alias, m.name]));
    expect(d.metrics.every((m) => m.name === undefined && names.has(m.alias))).toBe(true);
    const byName = (n: string) => d.metrics.find((m) => names.get(m.alias) === n)?.value;
    expect(byName('Result/PartId')).toBe('S-1');
    expect(byName('Result/Verdict')).toBe('OK');
    expect(d.seq).toBeGreaterThanOrEqual(3); // NBIRTH 0, DBIRTH 1..2
  });

  it('sends NDEATH (last will) with the session bdSeq, then NBIRTH with the next bdSeq and seq 0', async () => {
    const node = agent.sparkplug!;
    await waitFor(() => node.link.connected, 5000, 'sparkplug node connected');
    const bd = node.currentBdSeq;
    const from = spb.length;
    const after = () => spb.slice(from);
    node.link.kill();
    await waitFor(() => after().some((m) => m.topic === 'spBv1.0/plant/NDEATH/edge-1'), 5000, 'NDEATH');
    await waitFor(() => after().some((m) => m.topic === 'spBv1.0/plant/NBIRTH/edge-1'), 10_000, 'NBIRTH');
    const death = after().find((m) => m.topic === 'spBv1.0/plant/NDEATH/edge-1')!.payload;
    const birth = after().find((m) => m.topic === 'spBv1.0/plant/NBIRTH/edge-1')!.payload;
    expect(death.metrics).toEqual([{ name: 'bdSeq', type: 'Int64', value: bd }]);
    expect(birth.seq).toBe(0);
    expect(birth.metrics.find((m) => m.name === 'bdSeq')?.value).toBe((bd + 1) % 256);
    await waitFor(() => spb.some((m) => m.topic === 'spBv1.0/plant/DBIRTH/edge-1/st2'), 5000, 'DBIRTH');
  });

  it('answers an NCMD Node Control/Rebirth with a new NBIRTH (seq 0) and DBIRTHs', async () => {
    const before = spb.filter((m) => m.topic === 'spBv1.0/plant/NBIRTH/edge-1').length;
    const cmd = encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }],
    });
    await spbClient.publishAsync('spBv1.0/plant/NCMD/edge-1', Buffer.from(cmd), { qos: 1 });
    await waitFor(
      () => spb.filter((m) => m.topic === 'spBv1.0/plant/NBIRTH/edge-1').length > before,
      5000,
      'rebirth',
    );
    const birth = spb.filter((m) => m.topic === 'spBv1.0/plant/NBIRTH/edge-1').at(-1)!.payload;
    expect(birth.seq).toBe(0);
    await spbClient.publishAsync('spBv1.0/plant/NCMD/edge-1', Buffer.from([0xff, 0xff, 0xff]), { qos: 1 });
  });

  it('encodes Sparkplug payloads that decode back (protobuf wire format)', () => {
    const p = {
      timestamp: 1764331200000,
      seq: 255,
      metrics: [
        { name: 'bdSeq', type: 'Int64' as const, value: 7 },
        { alias: 1003, type: 'UInt64' as const, value: 2 ** 40 },
        { name: 'x', type: 'Double' as const, value: 0.25 },
        { name: 'b', type: 'Boolean' as const, value: true },
        { name: 's', type: 'String' as const, value: 'é' },
        { name: 'n', type: 'Double' as const, value: null },
      ],
    };
    const bytes = encodePayload(p);
    // field 1 (timestamp), varint: key 0x08.
    expect(bytes[0]).toBe(0x08);
    const back = decodePayload(bytes);
    expect(back.timestamp).toBe(p.timestamp);
    expect(back.seq).toBe(255);
    expect(back.metrics.map((m) => [m.name, m.alias, m.type, m.value])).toEqual(
      p.metrics.map((m) => [m.name, m.alias, m.type, m.value]),
    );
  });
});
