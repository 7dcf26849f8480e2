import { resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { bundleSha256 } from '../src/app.js';
import { main } from '../src/cli.js';
import { checkAccelerators } from '../src/inspector/accelerators.js';
import { DiadInspector } from '../src/inspector/diad.js';

const fixture = resolve(__dirname, '../../../packages/pipeline/test/fixtures/micro-random');
const exampleConfig = resolve(__dirname, '../../../deploy/agent.example.yaml');

describe('execution provider check on this machine (real ONNX Runtime)', () => {
  it('reports every configured provider with a status, a reason for each unusable one, and CPU usable', async () => {
    const c = await checkAccelerators(['tensorrt', 'cuda', 'webgpu', 'cpu']);
    expect(c.report.checks.map((x) => x.provider)).toEqual(['tensorrt', 'cuda', 'webgpu', 'cpu']);
    expect(c.report.checks.at(-1)).toEqual({ provider: 'cpu', status: 'ok', reason: undefined });
    for (const x of c.report.checks) if (x.status !== 'ok') expect(x.reason?.length).toBeGreaterThan(10);
    expect(c.usable.at(-1)).toBe('cpu');
    expect(c.usable).toEqual(c.report.checks.filter((x) => x.status === 'ok').map((x) => x.provider));
    // The model opens on the first usable provider and says which plain/variant graphs it runs.
    const m = await DiadInspector.load(fixture, bundleSha256(fixture), {
      providers: c.usable,
      device: c.device,
    });
    try {
      expect(m.provider).toBe(c.usable[0]);
      expect(m.variant).toBeNull();
    } finally {
      await m.close();
    }
  });

  it('diad-agent check --providers prints the table and exits 0 when a provider works', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    try {
      expect(await main(['check', '--config', exampleConfig, '--providers'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const text = out.join('');
    expect(text).toMatch(/^provider\s+status\s+warm-up\s+reason$/m);
    expect(text).toMatch(/^cpu\s+ok\s+\d+ ms$/m);
    expect(text).toMatch(/^host: linux\//m);
  });
});
