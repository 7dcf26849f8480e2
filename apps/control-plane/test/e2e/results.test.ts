import { topics } from '@diad/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedAgent } from '../helpers/agent.js';
import { startAedes, until } from '../helpers/broker.js';
import {
  BACKENDS,
  type Client,
  client,
  type Harness,
  login,
  MQTT_URL,
  makeFleet,
  startHarness,
} from '../helpers/harness.js';

const BROKERS = [{ broker: 'aedes' }, ...(MQTT_URL ? [{ broker: 'mosquitto' }] : [])];
const CASES = BACKENDS.flatMap((b) => BROKERS.map((m) => ({ ...b, ...m })));

describe.each(CASES)('results on $name via $broker', ({ name, broker }) => {
  let h: Harness;
  let aedes: Awaited<ReturnType<typeof startAedes>> | null = null;
  let admin: Client;
  let a: ScriptedAgent;
  let b: ScriptedAgent;
  let pub: MqttClient;
  let mqttUrl: string;

  beforeAll(async () => {
    if (broker === 'aedes') aedes = await startAedes();
    mqttUrl = aedes?.url ?? MQTT_URL!;
    // aedes speaks MQTT 3.1.1 and has no shared subscriptions; Mosquitto gets the production settings.
    const mqttCfg =
      broker === 'aedes'
        ? { mqttUrl, mqttProtocol: 4 as const, mqttGroup: '' }
        : { mqttUrl, mqttGroup: `cp${Math.random().toString(36).slice(2, 8)}` };
    h = await startHarness(name, mqttCfg);
    admin = client(h.cp.url, await login(h.cp.url));
    const fleet = await makeFleet(admin, ['st1', 'st2']);
    a = new ScriptedAgent(h.cp.url);
    b = new ScriptedAgent(h.cp.url);
    await a.enrol(
      (await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[0].id })).body.token,
    );
    await b.enrol(
      (await admin.post('/api/v1/enrolment-tokens', { stationId: fleet.stations[1].id })).body.token,
    );
    pub = await mqtt.connectAsync(mqttUrl, { protocolVersion: broker === 'aedes' ? 4 : 5 });
  });
  afterAll(async () => {
    await pub?.endAsync();
    await h?.close();
    await aedes?.close();
  });

  const count = async (q = '') => {
    let n = 0;
    let cursor: string | null = null;
    do {
      const page: { items: unknown[]; nextCursor: string | null } = (
        await admin.get(
          `/api/v1/results?site=${a.address.site}&limit=1000${q}${cursor ? `&cursor=${cursor}` : ''}`,
        )
      ).body;
      n += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    return n;
  };

  it('ingests results published over MQTT, once each, and drops invalid or misaddressed ones', async () => {
    const results = Array.from({ length: 300 }, (_, i) => a.result({ partId: `mqtt-${i}` }));
    for (const r of results) await pub.publishAsync(topics.result(a.address), JSON.stringify(r), { qos: 1 });
    // Re-sent after a lost ack: stored once.
    for (const r of results.slice(0, 20))
      await pub.publishAsync(topics.result(a.address), JSON.stringify(r), { qos: 1 });
    await pub.publishAsync(topics.result(a.address), '{not json', { qos: 1 });
    await pub.publishAsync(topics.result(a.address), JSON.stringify({ ...a.result(), score: 'high' }), {
      qos: 1,
    });
    // Valid for the protocol, too large for the column: refused before it can fail a whole batch.
    const huge = JSON.stringify(a.result({ defectAreaPx: 2 ** 40 }));
    await pub.publishAsync(topics.result(a.address), huge, { qos: 1 });
    // Published on station 2's topic although it claims station 1: rejected.
    await pub.publishAsync(topics.result(b.address), JSON.stringify(a.result({ partId: 'wrong-topic' })), {
      qos: 1,
    });
    // A device id that was never enrolled: rejected.
    const ghost = a.result({ deviceId: '01900000-0000-7000-8000-000000000000', partId: 'ghost' });
    await pub.publishAsync(topics.result(a.address), JSON.stringify(ghost), { qos: 1 });
    const n = await until(
      () => count(),
      (v) => v >= 300,
    );
    expect(n).toBe(300);
    // Every message has been handled once the last rejection and the last duplicate are counted.
    const metrics = await until(
      async () => (await client(h.cp.url).get('/metrics')).body as string,
      (m) =>
        /diad_results_rejected_total\{transport="mqtt",reason="unknown-device"\} 1/.test(m) &&
        /diad_results_duplicate_total\{transport="mqtt"\} 20/.test(m),
    );
    expect(metrics).toMatch(/diad_results_rejected_total\{transport="mqtt",reason="invalid-json"\} 1/);
    expect(metrics).toMatch(/diad_results_rejected_total\{transport="mqtt",reason="invalid"\} 1/);
    expect(metrics).toMatch(/diad_results_rejected_total\{transport="mqtt",reason="out-of-range"\} 1/);
    expect(metrics).toMatch(/diad_results_rejected_total\{transport="mqtt",reason="topic-mismatch"\} 1/);
    expect(metrics).toMatch(/diad_results_duplicate_total\{transport="mqtt"\} 20/);
    expect((await admin.get('/api/v1/results?partId=wrong-topic')).body.items).toHaveLength(0);
  });

  it('ingests HTTP batches idempotently and refuses results of another device', async () => {
    const batch = Array.from({ length: 100 }, (_, i) =>
      b.result({
        partId: `http-${i}`,
        verdict: i % 10 === 0 ? 'NOK' : 'OK',
        state: i % 10 === 0 ? 'nok' : 'ok',
        score: i / 100,
        category: i % 2 ? 'screw' : 'nut',
      }),
    );
    expect((await b.postResults(batch)).body).toEqual({ accepted: 100, duplicates: 0 });
    expect((await b.postResults(batch.slice(0, 30))).body).toEqual({ accepted: 0, duplicates: 30 });
    const forged = await b.postResults([a.result()]);
    expect(forged.status).toBe(403);
    // One bad result is refused by itself (its own 4xx in `refused`); the rest of the batch is stored.
    const huge = await b.postResults([batch[0], b.result({ defectAreaPx: 2 ** 40 })]);
    expect(huge.status).toBe(200);
    expect(huge.body).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(huge.body.refused).toEqual([
      expect.objectContaining({
        index: 1,
        status: 400,
        message: 'body.results.1.defectAreaPx: expected at most 2147483647',
      }),
    ]);
    // A NUL in a part id once made the database refuse the whole batch with a 500 (and the agent retry forever).
    const poison = b.result({ partId: 'bad\u0000part' });
    const mixed = await b.postResults([batch[1], poison, batch[2]]);
    expect(mixed.status).toBe(200);
    expect(mixed.body).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(mixed.body.refused).toEqual([
      {
        index: 1,
        resultId: poison.resultId,
        status: 400,
        message: expect.stringMatching(/^body\.results\.1\.partId: control characters/),
      },
    ]);
    const alone = await b.postResults([poison]);
    expect(alone.status).toBe(400);
    expect(alone.body.refused).toHaveLength(1);
    const future = await b.postResults([b.result({ capturedAt: '9999-12-31T23:59:59Z' })]);
    expect(future.status).toBe(400);
    expect(future.body.message).toMatch(/capturedAt: expected a time between 2000 and 2100/);
    const invalid = await b.postResults([{ ...b.result(), resultId: 'nope' }]);
    expect(invalid.status).toBe(400);
    expect(invalid.body.message).toMatch(/^body\.results\.0\.resultId:/);
  });

  it('filters, pages and aggregates the defect history', async () => {
    const st2 = `&station=${b.address.station}`;
    expect(await count(st2)).toBe(100);
    expect(await count(`${st2}&verdict=NOK`)).toBe(10);
    expect(await count(`${st2}&minScore=0.5&maxScore=0.595`)).toBe(10);
    expect(await count(`${st2}&category=screw`)).toBe(50);
    expect(await count('&partId=http-7')).toBe(1);
    const page1 = (await admin.get(`/api/v1/results?line=${b.address.line}${st2}&limit=40`)).body;
    const page2 = (
      await admin.get(`/api/v1/results?line=${b.address.line}${st2}&limit=40&cursor=${page1.nextCursor}`)
    ).body;
    const ids = new Set([...page1.items, ...page2.items].map((r: { resultId: string }) => r.resultId));
    expect(ids.size).toBe(80);
    const times = [...page1.items, ...page2.items].map((r: { inspectedAt: string }) => r.inspectedAt);
    expect([...times].sort().reverse()).toEqual(times);
    const bad = await admin.get('/api/v1/results?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^query\.from:/);
    const agg = (await admin.get(`/api/v1/results/aggregates?bucket=hour${st2}`)).body;
    const total = agg.series.reduce((s: number, x: { total: number }) => s + x.total, 0);
    const nok = agg.series.reduce((s: number, x: { nok: number }) => s + x.nok, 0);
    expect([total, nok]).toEqual([100, 10]);
    const noneReply = await admin.get(`/api/v1/results/aggregates?bucket=none&groupBy=none${st2}`);
    expect(noneReply.status, JSON.stringify(noneReply.body)).toBe(200);
    const none = noneReply.body.series;
    expect(none).toHaveLength(1);
    expect(none[0].nokRate).toBeCloseTo(0.1);
    const shift = (await admin.get(`/api/v1/results/aggregates?bucket=shift${st2}`)).body;
    const start = new Date(shift.series[0].bucket);
    expect((start.getUTCHours() - 6 + 24) % 8).toBe(0);
  });

  it('exports CSV', async () => {
    const r = await admin.get(`/api/v1/results/export.csv?station=${b.address.station}&verdict=NOK`);
    expect(r.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (r.body as string).trim().split('\r\n');
    expect(lines[0].split(',')[0]).toBe('resultId');
    expect(lines).toHaveLength(11);
    expect(lines.slice(1).every((l) => l.includes(',NOK,'))).toBe(true);
  });

  it('streams new results to live clients (SSE) and stores images', async () => {
    const ctrl = new AbortController();
    const res = await fetch(
      `${h.cp.url}/api/v1/results/stream?station=${b.address.station}&access_token=${admin === null ? '' : await login(h.cp.url)}`,
      {
        signal: ctrl.signal,
      },
    );
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const r = b.result({ partId: 'live-1', verdict: 'NOK', state: 'nok' });
    await b.postResults([a.result()].filter(() => false).concat([r]));
    let text = '';
    while (!text.includes('live-1')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    ctrl.abort();
    expect(text).toMatch(/event: result/);
    expect(text).toContain(r.resultId);

    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const up = await b.api.put(`/api/v1/agent/results/${r.resultId}/heatmap`, png, 'image/png');
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    const other = await a.api.put(`/api/v1/agent/results/${r.resultId}/heatmap`, png, 'image/png');
    expect(other.status).toBe(403);
    const wrongType = await b.api.put(`/api/v1/agent/results/${r.resultId}/image`, png, 'text/plain');
    expect(wrongType.status).toBe(415);
    const got = await fetch(`${h.cp.url}/api/v1/results/${r.resultId}/heatmap`, {
      headers: { authorization: `Bearer ${await login(h.cp.url)}` },
    });
    expect(got.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await got.arrayBuffer())).toEqual(png);
    expect((await admin.get(`/api/v1/results/${r.resultId}/image`)).status).toBe(404);
  });
});
