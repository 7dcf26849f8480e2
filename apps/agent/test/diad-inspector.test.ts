import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleSha256 } from '../src/app.js';
import { DiadInspector } from '../src/inspector/diad.js';
import { FrameDecodeError } from '../src/inspector/types.js';

// Runs against the real @diad/pipeline (ONNX Runtime) once it is in the workspace, with its micro bundle fixture.
const fixture = resolve(__dirname, '../../../packages/pipeline/test/fixtures/micro-random');
const specifier = '@diad/pipeline';
const mod = (await import(specifier).catch(() => null)) as Record<string, { create?: unknown }> | null;
const available =
  typeof mod?.DiadPipeline?.create === 'function' && existsSync(join(fixture, 'manifest.json'));

describe.runIf(available)('DiadInspector adapter on @diad/pipeline (real ONNX Runtime session)', () => {
  it('loads a bundle, inspects a raw frame, and maps decode failures to FrameDecodeError', async () => {
    const m = await DiadInspector.load(fixture, bundleSha256(fixture), { providers: ['cpu'] });
    try {
      expect(m.model.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(m.provider).toBe('cpu');
      const raw = {
        data: new Uint8Array(64 * 64 * 3).fill(120),
        width: 64,
        height: 64,
        channels: 3 as const,
      };
      const a = await m.inspect(raw, { seed: 0 });
      const b = await m.inspect(raw, { seed: 0 });
      expect(Number.isFinite(a.score)).toBe(true);
      expect(b.score).toBe(a.score);
      expect(a.verdict).toBe(a.score >= a.thresholds.image ? 'NOK' : 'OK');
      await expect(m.inspect(new Uint8Array([1, 2, 3]))).rejects.toBeInstanceOf(FrameDecodeError);
    } finally {
      await m.close();
    }
  });
});
