/**
 * The hostile-archive corpus (made on each run by packages/protocol/test/hostile-tars.ts) uploaded to the
 * registry over HTTP: every archive is refused with 422 and exactly the message of the repo's one tar reader,
 * the same message the agent reports for the same bytes (apps/agent/test/hostile-tar.test.ts). Nothing of a
 * refused upload is kept.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readTar } from '@diad/protocol/tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileCorpus } from '../../../../packages/protocol/test/hostile-tars.js';
import { manifestFor } from '../helpers/bundle.js';
import { type Client, client, type Harness, login, startHarness, uploadForm } from '../helpers/harness.js';

function bundleFiles(version: string) {
  const files: Record<string, Buffer> = {};
  for (const g of ['encoder', 'denoiser', 'decoder', 'features']) files[`${g}.onnx`] = randomBytes(700);
  const manifest = manifestFor('hostile', version, files);
  return [
    { name: 'manifest.json', data: JSON.stringify(manifest) },
    ...Object.entries(files).map(([name, data]) => ({ name, data })),
  ];
}

async function refusal(tar: Buffer): Promise<string> {
  return readTar([tar]).then(
    () => 'accepted',
    (e: Error) => e.message,
  );
}

describe('registry upload refuses the hostile tar corpus', () => {
  let h: Harness;
  let admin: Client;
  beforeAll(async () => {
    h = await startHarness('pglite', { maxBundleBytes: 1024 * 1024 });
    admin = client(h.cp.url, await login(h.cp.url));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers 422 with the tar reader’s message for every case, and stores nothing', async () => {
    const corpus = await hostileCorpus(bundleFiles('1.0.0'));
    for (const c of corpus) {
      const want = await refusal(c.tar);
      expect(want, c.id).toMatch(c.refusal);
      const r = await admin.raw('POST', '/api/v1/models', uploadForm(c.tar));
      expect(r.status, `${c.id}: ${JSON.stringify(r.body)}`).toBe(422);
      expect(r.body.message, c.id).toBe(want);
    }
    expect((await admin.get('/api/v1/models')).body).toEqual([]);
    const bundles = join(h.blobDir, 'bundles');
    expect(readdirSync(bundles, { withFileTypes: true }).filter((e) => e.isFile())).toEqual([]);
  });
});
