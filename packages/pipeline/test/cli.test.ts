import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectCommand } from '../src/index.js';
import { writeTinyBundle } from './helpers/tiny-bundle.js';

let root: string;
let bundle: string;
let good1: string;
let good2: string;
let bad: string;

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  return { io: { stdout, stderr }, out: () => out, err: () => err };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'diad-cli-'));
  bundle = join(root, 'bundle');
  await writeTinyBundle(bundle);
  const mk = (seed: number) =>
    sharp(
      new Uint8Array(40 * 30 * 3).map((_, i) => (i * seed) & 255),
      { raw: { width: 40, height: 30, channels: 3 } },
    )
      .png()
      .toBuffer();
  good1 = join(root, 'a.png');
  good2 = join(root, 'b.png');
  bad = join(root, 'broken.png');
  await writeFile(good1, await mk(7));
  await writeFile(good2, await mk(13));
  await writeFile(bad, 'not an image');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('diad inspect', () => {
  it('prints one JSON line per image, one error line per unreadable image, exit 1 when any failed', async () => {
    const c = capture();
    const code = await inspectCommand(['--bundle', bundle, '--seed', '3', good1, bad, good2], c.io);
    expect(code).toBe(1);
    const lines = c
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.image)).toEqual([good1, good2]);
    for (const l of lines) {
      expect(typeof l.score).toBe('number');
      expect(['OK', 'NOK']).toContain(l.verdict);
      expect(l.model.name).toBe('tiny-test');
      expect(l.provider).toBe('cpu');
      expect(l.timingsMs).toBeUndefined();
    }
    const errLines = c.err().trim().split('\n');
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/^diad inspect: .*broken\.png: .*unsupported image format/);
  });

  it('exit 0, --json timings, step overrides, heatmaps and provider fallback', async () => {
    const c = capture();
    const heat = join(root, 'heat');
    const code = await inspectCommand(
      [
        '--bundle',
        bundle,
        '--json',
        '--steps',
        '2',
        '--start-step',
        '199',
        '--heatmaps',
        heat,
        '--providers',
        'cuda,cpu',
        good1,
      ],
      c.io,
    );
    expect(code).toBe(0);
    const line = JSON.parse(c.out().trim());
    expect(line.timingsMs.total).toBeGreaterThan(0);
    expect(line.provider).toBe('cpu');
    expect(line.heatmap).toBe(join(heat, 'a.heatmap.png'));
    expect(await readdir(heat)).toEqual(['a.heatmap.png']);
    expect(c.err()).toMatch(/execution provider cuda failed to load/);
    // a different step count gives a different score than the defaults
    const d = capture();
    await inspectCommand(['--bundle', bundle, good1], d.io);
    expect(JSON.parse(d.out()).score).not.toBe(line.score);
  });

  it('usage and bundle errors exit 2 with a one-line reason', async () => {
    for (const argv of [
      [good1],
      ['--bundle', bundle],
      ['--bundle', bundle, '--steps', 'x', good1],
      ['--nope'],
    ]) {
      const c = capture();
      expect(await inspectCommand(argv, c.io)).toBe(2);
      expect(c.err()).toMatch(/^diad inspect: /);
    }
    const c = capture();
    expect(await inspectCommand(['--bundle', join(root, 'missing'), good1], c.io)).toBe(2);
    expect(c.err()).toMatch(/missing: not found/);
    const h = capture();
    expect(await inspectCommand(['--help'], h.io)).toBe(0);
    expect(h.out()).toMatch(/usage: diad inspect/);
  });
});
