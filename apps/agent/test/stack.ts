import { systemClock } from '../src/clock.js';
import type { Frame } from '../src/frame.js';
import { InspectionService } from '../src/inspection.js';
import { ModelManager } from '../src/inspector/model-manager.js';
import { makePpm } from '../src/inspector/pnm.js';
import { StandInInspector } from '../src/inspector/standin.js';
import { AgentMetrics } from '../src/metrics.js';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { FakeClock, silent, standInBundle, tmp } from './helpers.js';

/** An inspection stack on the stand-in model and an in-memory outbox. */
export async function inspectionStack(
  opts: { stations?: { id: string; queueSize: number }[]; delayMs?: number; fake?: boolean } = {},
) {
  const dir = tmp();
  const model = await StandInInspector.load(standInBundle(dir, '1.0.0', { delayMs: opts.delayMs ?? 0 }));
  const models = new ModelManager(model);
  const outbox = new MemoryOutbox(1 << 24);
  const metrics = new AgentMetrics();
  const clock = opts.fake ? new FakeClock() : systemClock;
  const service = new InspectionService({
    deviceId: 'dev1',
    stations: opts.stations ?? [{ id: 'st1', queueSize: 4 }],
    models,
    outbox,
    clock,
    metrics,
    logger: silent,
  });
  return { dir, model, models, outbox, metrics, service, clock };
}

/** A frame whose stand-in score is `grey/255`, or undecodable bytes when grey < 0. */
export function frame(station: string, partId: string, grey: number, at = Date.now()): Frame {
  return {
    site: 'site1',
    line: 'line1',
    station,
    camera: 'cam1',
    partId,
    capturedAt: at,
    image: grey < 0 ? new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) : makePpm(32, 32, grey),
  };
}
