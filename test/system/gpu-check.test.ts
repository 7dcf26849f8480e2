import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(__dirname, '../..');

// bench/gpu/run.sh is the one-command check for a GPU machine; in its dry mode it must run anywhere, give every
// provider a row, and say why a provider did not run.
describe('bench/gpu/run.sh --dry', () => {
  it('prints the table with a row per provider, CPU measured and GPU rows skipped with a reason', async () => {
    const out = await mkdtemp(join(tmpdir(), 'diad-gpu-check-'));
    try {
      const { stdout } = await run('bash', ['bench/gpu/run.sh', '--dry', '--images', '1', '--out', out], {
        cwd: root,
        timeout: 240_000,
      });
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toMatch(
        /^engine\s+model\s+provider\/precision\s+ms\/image\s+memory\s+parity vs reference\s+note$/,
      );
      const row = (re: RegExp) => lines.find((l) => re.test(l));
      expect(
        row(
          /^diad-pipeline\s+models\/diad-synth-tiny\s+cpu\s+\d+(\.\d+)?\s+\d+ MiB RSS\s+score 0\.0e\+00 rel/,
        ),
      ).toBeDefined();
      for (const p of ['tensorrt', 'cuda', 'webgpu']) {
        const l = row(new RegExp(`^diad-pipeline\\s+models/diad-synth-tiny\\s+${p}\\s`));
        expect(l, `${p} row`).toBeDefined();
        // Here there is no GPU: the row must carry the reason instead of a time. On a GPU box it carries a time.
        if (!/\s\d+(\.\d+)?\s+\d+ MiB/.test(l!)) expect(l).toMatch(/(unavailable|failed): \S+/);
      }
      expect(row(/^pytorch\s+paper\s+-\s+dry mode$/)).toBeDefined();
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 300_000);
});
