/**
 * The hostile-archive corpus offered to a real agent as its desired model: the agent downloads each archive over
 * HTTP, hands it to its model loader (@diad/pipeline, whose bundles go through @diad/protocol/tar), keeps its
 * current model and reports the refusal with exactly the tar reader's message: the message the registry gives
 * for the same bytes (apps/control-plane/test/e2e/hostile-tar.test.ts).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readTar } from '@diad/protocol/tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileCorpus } from '../../../packages/protocol/test/hostile-tars.js';
import { DiadInspector } from '../src/inspector/diad.js';
import { ControlPlaneClient } from '../src/sync/client.js';
import { StateStore } from '../src/sync/state-store.js';
import { SyncService } from '../src/sync/sync-service.js';
import { FakeControlPlane } from './fake-control-plane.js';
import { FakeClock, silent, tmp } from './helpers.js';
import { inspectionStack } from './stack.js';

describe('agent refuses the hostile tar corpus as the registry does', () => {
  const cp = new FakeControlPlane();
  beforeAll(() => cp.start());
  afterAll(() => cp.close());

  it('reports each refusal with the tar reader’s message and keeps its model', async () => {
    const stack = await inspectionStack();
    const dataDir = tmp();
    const sync = new SyncService({
      client: new ControlPlaneClient(cp.url),
      state: new StateStore(join(dataDir, 'state.json')),
      models: stack.models,
      factory: (p, sha) => DiadInspector.load(p, sha),
      inspection: stack.service,
      outboxDepth: () => stack.outbox.depth(),
      bundlesDir: join(dataDir, 'bundles'),
      enrolToken: 'one-time-token-0123456789',
      hostname: 'edge-test',
      agentVersion: '0.1.0',
      providers: ['cpu'],
      publicKey: null,
      heartbeatMs: 1000,
      backoff: { initialMs: 100, maxMs: 1000 },
      clock: new FakeClock(),
      logger: silent,
      metrics: stack.metrics,
    });
    const corpus = await hostileCorpus([
      { name: 'manifest.json', data: '{"format":"diad-bundle"}' },
      { name: 'encoder.onnx', data: Buffer.alloc(700, 1) },
      { name: 'decoder.onnx', data: Buffer.alloc(900, 2) },
    ]);
    let revision = 10;
    for (const c of corpus) {
      const want = await readTar([c.tar]).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
      expect(want, c.id).toMatch(c.refusal);
      const ref = cp.offer(c.tar, 'hostile', `1.0.${revision}`);
      cp.desired = { ...cp.desired, revision: ++revision, model: ref, rolloutId: `r-${c.id}` };
      await sync.syncOnce();
      await sync.syncOnce(); // the heartbeat after the attempt carries the report
      const rep = cp.heartbeats.at(-1)!.modelReports.find((r) => r.rolloutId === `r-${c.id}`);
      expect(rep, c.id).toMatchObject({ state: 'failed' });
      expect(rep!.error, c.id).toBe(`bundle file ${ref.sha256}.tar: ${want}`);
      expect(stack.models.activeModel?.name, c.id).toBe('standin');
    }
    // Nothing of a refused archive is kept on the device.
    expect(readdirSync(join(dataDir, 'bundles')).filter((n) => n.endsWith('.tar'))).toEqual([]);
  });
});
