import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/clock.js';
import { ImageStore } from '../src/images.js';
import { InspectionService, sampled } from '../src/inspection.js';
import { ModelManager } from '../src/inspector/model-manager.js';
import { StandInInspector } from '../src/inspector/standin.js';
import { AgentMetrics } from '../src/metrics.js';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { OutboxFullError } from '../src/outbox/types.js';
import { FakeClock, silent, standInBundle, tmp } from './helpers.js';
import { frame, inspectionStack } from './stack.js';

describe('inspection loop', () => {
  it('scores, decides with the active thresholds and records model and thresholds', async () => {
    const { service, outbox } = await inspectionStack();
    const ok = await service.submit(frame('st1', 'a', 51));
    expect(ok).toMatchObject({
      state: 'ok',
      verdict: 'OK',
      partId: 'a',
      station: 'st1',
      thresholds: { version: 0, image: 0.5, pixel: 0.5 },
    });
    expect(ok.score).toBeCloseTo(0.2, 5);
    expect(ok.model).toMatchObject({ name: 'standin', version: '1.0.0' });
    service.setThresholds({ version: 3, image: 0.1, pixel: null, categoryThresholds: { glass: 0.9 } });
    const nok = await service.submit(frame('st1', 'b', 51));
    expect(nok).toMatchObject({
      state: 'nok',
      verdict: 'NOK',
      thresholds: { version: 3, image: 0.1, pixel: 0.5 },
    });
    const cat = await service.submit({ ...frame('st1', 'c', 51), category: 'glass' });
    expect(cat).toMatchObject({ verdict: 'OK', thresholds: { image: 0.9 }, category: 'glass' });
    expect(outbox.peek(10).map((e) => e.result.partId)).toEqual(['a', 'b', 'c']);
  });

  it('turns overload into "overrun" results, never dropping a frame', async () => {
    const { service, outbox, metrics } = await inspectionStack({
      stations: [{ id: 'st1', queueSize: 2 }],
      delayMs: 30,
    });
    const all = await Promise.all(
      Array.from({ length: 8 }, (_, i) => service.submit(frame('st1', `p${i}`, 10))),
    );
    const states = all.map((r) => r.state);
    expect(states.filter((s) => s === 'overrun').length).toBeGreaterThan(0);
    expect(states.filter((s) => s === 'ok').length).toBeGreaterThanOrEqual(2);
    expect(outbox.depth()).toBe(8);
    const overrun = all.find((r) => r.state === 'overrun')!;
    expect(overrun).toMatchObject({ verdict: null, score: null, error: { code: 'OVERRUN' } });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/diad_agent_frames_total\{station="st1",state="overrun"\} [1-9]/);
  });

  it('turns a bad frame into an error result and keeps going', async () => {
    const { service } = await inspectionStack();
    const bad = await service.submit(frame('st1', 'bad', -1));
    expect(bad).toMatchObject({ state: 'error', verdict: null, error: { code: 'IMAGE_DECODE' } });
    const raw = await service.submit({
      ...frame('st1', 'raw', 0),
      image: { data: new Uint8Array(10), width: 4, height: 4, channels: 3 },
    });
    expect(raw.state).toBe('error');
    expect((await service.submit(frame('st1', 'good', 10))).state).toBe('ok');
  });

  it('rejects bad input at the boundary, naming it', async () => {
    const { service } = await inspectionStack();
    await expect(service.submit(frame('nope', 'p', 1))).rejects.toThrow(/frame.station/);
    await expect(service.submit(frame('st1', '', 1))).rejects.toThrow(/frame.partId/);
  });

  it('stores an error result when no model is loaded', async () => {
    const metrics = new AgentMetrics();
    const service = new InspectionService({
      deviceId: 'd',
      stations: [{ id: 'st1', queueSize: 2 }],
      models: new ModelManager(null),
      outbox: new MemoryOutbox(1 << 20),
      clock: new FakeClock(),
      metrics,
      logger: silent,
    });
    expect(await service.submit(frame('st1', 'p', 1))).toMatchObject({
      state: 'error',
      error: { code: 'NO_MODEL' },
    });
  });

  it('raises the outbox-full alarm, refuses frames, and clears it once results drain', async () => {
    const model = await StandInInspector.load(standInBundle(tmp()));
    const outbox = new MemoryOutbox(4096);
    const metrics = new AgentMetrics();
    const service = new InspectionService({
      deviceId: 'd',
      stations: [{ id: 'st1', queueSize: 4 }],
      models: new ModelManager(model),
      outbox,
      clock: new FakeClock(),
      metrics,
      logger: silent,
    });
    const alarms: boolean[] = [];
    service.on('alarm', (_n, on) => alarms.push(on));
    let err: unknown;
    for (let i = 0; i < 50 && !err; i++)
      await service.submit(frame('st1', `p${i}`, 1)).catch((e) => (err = e));
    expect(err).toBeInstanceOf(OutboxFullError);
    expect(service.outboxFull).toBe(true);
    expect(service.canAccept('st1')).toBe(false);
    expect(alarms).toEqual([true]);
    expect(await metrics.registry.metrics()).toMatch(/diad_agent_outbox_full 1/);
    outbox.ack(outbox.peek(100).map((e) => e.seq));
    service.refreshOutboxGauges();
    expect(service.outboxFull).toBe(false);
    expect(alarms).toEqual([true, false]);
  });

  it('saves defect images for NOK results and sweeps them after the retention period', async () => {
    const clock = new FakeClock(Date.parse('2026-11-28T10:00:00Z'));
    const root = tmp();
    const images = new ImageStore(root, 2, clock);
    const model = await StandInInspector.load(standInBundle(tmp()));
    const service = new InspectionService({
      deviceId: 'd',
      stations: [{ id: 'st1', queueSize: 4 }],
      models: new ModelManager(model),
      outbox: new MemoryOutbox(1 << 20),
      clock,
      metrics: new AgentMetrics(),
      logger: silent,
      images,
      saveImages: 'nok',
    });
    const ok = await service.submit(frame('st1', 'ok', 10));
    const nok = await service.submit(frame('st1', 'nok', 250));
    expect(ok.imageRef).toBeNull();
    expect(nok.imageRef).toBe(`2026-11-28/${nok.resultId}-image.png`);
    expect(existsSync(join(root, nok.imageRef!))).toBe(true);
    clock.advance(86_400_000 * 2);
    expect(images.sweep()).toEqual([]);
    clock.advance(86_400_000);
    expect(images.sweep()).toEqual(['2026-11-28']);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('OK image sampling for training sets', () => {
  it('keeps the configured share of OK images, chosen by result id, and every NOK image', async () => {
    expect(sampled('a', 0)).toBe(false);
    expect(sampled('a', 1)).toBe(true);
    const ids = Array.from(
      { length: 4000 },
      (_, i) => `01a2519f-1eea-7cbf-b47c-${String(i).padStart(12, '0')}`,
    );
    const share = ids.filter((id) => sampled(id, 0.25)).length / ids.length;
    expect(share).toBeGreaterThan(0.22);
    expect(share).toBeLessThan(0.28);
    expect(ids.map((id) => sampled(id, 0.25))).toEqual(ids.map((id) => sampled(id, 0.25)));
    const clock = new FakeClock(Date.parse('2026-11-28T10:00:00Z'));
    const model = await StandInInspector.load(standInBundle(tmp()));
    const service = new InspectionService({
      deviceId: 'd',
      stations: [{ id: 'st1', queueSize: 64 }],
      models: new ModelManager(model),
      outbox: new MemoryOutbox(1 << 22),
      clock,
      metrics: new AgentMetrics(),
      logger: silent,
      images: new ImageStore(tmp(), 2, clock),
      saveImages: 'nok',
      okSampleRate: 0.5,
    });
    const oks = [];
    for (let i = 0; i < 40; i++) oks.push(await service.submit(frame('st1', `ok${i}`, 10)));
    const kept = oks.filter((r) => r.imageRef !== null);
    expect(kept.length).toBe(oks.filter((r) => sampled(r.resultId, 0.5)).length);
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.length).toBeLessThan(35);
    expect((await service.submit(frame('st1', 'nok', 250))).imageRef).not.toBeNull();
  });
});

describe('model manager', () => {
  it('switches between frames: the old model closes only after its last frame', async () => {
    const closed: string[] = [];
    const mk = (v: string) => ({
      model: { name: 'm', version: v, sha256: v.padEnd(64, '0') },
      provider: 'cpu',
      calibration: { image: 1, pixel: 1 },
      inspect: async () => {
        throw new Error('unused');
      },
      close: async () => {
        closed.push(v);
      },
    });
    const mm = new ModelManager(mk('1'));
    const lease = mm.lease();
    await mm.activate(mk('2'));
    expect(mm.activeModel?.version).toBe('2');
    expect(lease.active?.model.version).toBe('1');
    expect(closed).toEqual([]);
    await mm.release(lease);
    expect(closed).toEqual(['1']);
  });
});

describe('backoff', () => {
  it('grows exponentially with jitter inside [base/2, min(max, base*2^n)]', () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, 100, 1000, () => 1))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
    expect(backoffDelay(3, 100, 1000, () => 0)).toBe(50);
    expect(() => backoffDelay(-1, 1, 1)).toThrow(RangeError);
  });
});

describe('capture failures', () => {
  it('records a frame that could not be captured as an error result', async () => {
    const { service, outbox } = await inspectionStack();
    const { image: _img, ...meta } = frame('st1', 'SN-9', 1);
    const r = service.recordCaptureFailure(meta, 'NO_FRAME', 'camera cam1: no frame within 5000 ms');
    expect(r).toMatchObject({ state: 'error', partId: 'SN-9', error: { code: 'NO_FRAME' } });
    expect(outbox.peek(10).map((e) => e.result.resultId)).toEqual([r.resultId]);
    expect(() => service.recordCaptureFailure({ ...meta, station: 'zz' }, 'X', 'y')).toThrow(RangeError);
  });
});
