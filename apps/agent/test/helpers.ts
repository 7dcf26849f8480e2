import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InspectionResult, uuidv7 } from '@diad/protocol';
import pino from 'pino';
import type { Clock } from '../src/clock.js';

export const silent = pino({ level: 'silent' });

/** A manual clock: timers fire only when the test advances time. */
export class FakeClock implements Clock {
  private t: number;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  constructor(start = Date.parse('2026-11-28T12:00:00Z')) {
    this.t = start;
  }
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown) {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  get pending() {
    return this.timers.length;
  }
  /** Delays of the timers now pending (ms from now). */
  pendingDelays() {
    return this.timers.map((x) => x.at - this.t);
  }
  advance(ms: number) {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      due.fn();
    }
  }
  /** Fires every pending timer now (skipping the wait). */
  fireAll() {
    const max = Math.max(0, ...this.pendingDelays());
    this.advance(max);
  }
}

export function tmp(prefix = 'diad-agent-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function fakeResult(station: string, i: number, now = Date.now()): InspectionResult {
  return {
    schema: 'diad.result/v1',
    resultId: uuidv7(now),
    site: 'site1',
    line: 'line1',
    station,
    camera: 'cam1',
    deviceId: 'dev1',
    partId: `part-${i}`,
    capturedAt: new Date(now).toISOString(),
    inspectedAt: new Date(now).toISOString(),
    state: 'ok',
    verdict: 'OK',
    score: i / 1000,
    normalizedScore: 0.1,
    defectAreaPx: 0,
    thresholds: { version: 0, image: 0.5, pixel: 0.5 },
    model: { name: 'standin', version: '1.0.0', sha256: 'a'.repeat(64) },
    provider: 'cpu',
    timingsMs: {},
    error: null,
    imageRef: null,
    heatmapRef: null,
    shadow: null,
  };
}

/** Writes a stand-in bundle file and returns its path. */
export function standInBundle(dir: string, version = '1.0.0', extra: Record<string, unknown> = {}) {
  const p = join(dir, `standin-${version}-${Math.random().toString(36).slice(2, 6)}.json`);
  writeFileSync(
    p,
    JSON.stringify({
      format: 'diad-standin',
      model: { name: 'standin', version },
      calibration: { imageThreshold: 0.5, pixelThreshold: 0.5 },
      ...extra,
    }),
  );
  return p;
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition') {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** True when Debian's `nats-server` is on PATH (NATS tests skip without it). */
export function haveNatsServer(): boolean {
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
