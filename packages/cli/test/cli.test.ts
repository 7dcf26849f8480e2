import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diad, tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('diad command line', () => {
  it('prints usage and rejects unknown commands', async () => {
    expect((await diad('--help')).stdout).toContain('synth');
    const r = await diad('train');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "train"');
    expect(await diad('--version')).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^diad \d+\.\d+\.\d+\n$/),
    });
    expect(await diad('--bogus')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown option "--bogus"'),
    });
    expect((await diad()).code).toBe(2);
  });

  it('synth: names a missing or bad option with exit code 2', async () => {
    expect(await diad('synth', '--out', '/tmp/x')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--seed N is required'),
    });
    expect(await diad('synth', '--out', '/tmp/x', '--seed', 'abc')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--seed must be an integer, got "abc"'),
    });
    expect(await diad('synth', '--out', '/tmp/x', '--seed', '1', '--tier', 'medium')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--tier must be one of easy, hard'),
    });
    expect(await diad('synth', '--bogus')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("Unknown option '--bogus'"),
    });
  });

  it('synth writes a dataset and says what it wrote', async () => {
    const out = await tempDir('synth');
    dirs.push(out);
    const r = await diad(
      'synth',
      '--out',
      out,
      '--seed',
      '4',
      '--size',
      '48',
      '--train',
      '1',
      '--test',
      '2',
      '--categories',
      'tile,bottle_cap',
      '-q',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote 9 files for 2 categories/);
  });

  it('eval: a wrong dataset layout is a one-line error, not a stack trace', async () => {
    const empty = await tempDir('empty');
    dirs.push(empty);
    const r = await diad(
      'eval',
      '--bundle',
      join(empty, 'nobundle'),
      '--dataset',
      empty,
      '--layout',
      'mvtec',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^diad eval: no MVTec-AD category folder found in .*expected MVTec-AD layout/);
    expect(r.stderr).not.toContain('    at ');
    expect(await diad('eval', '--dataset', empty)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--bundle'),
    });
    expect(await diad('eval', '--bundle', 'b', '--dataset', empty, '--methods', 'diad,magic')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown method "magic"'),
    });
  });
});
