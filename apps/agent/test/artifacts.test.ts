import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '@diad/pipeline';
import { uuidv7 } from '@diad/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactUploader } from '../src/sync/artifact-uploader.js';
import { ControlPlaneClient } from '../src/sync/client.js';
import { FakeControlPlane } from './fake-control-plane.js';
import { FakeClock, silent, tmp, waitFor } from './helpers.js';

const PNG = await encodePng(new Uint8Array([0, 64, 128, 255]), 2, 2, 1);

describe('artifact uploader (defect images to the control plane)', () => {
  const cp = new FakeControlPlane();
  beforeAll(() => cp.start());
  afterAll(() => cp.close());

  function setup(credential: () => string | null = () => cp.credential) {
    const root = tmp();
    mkdirSync(join(root, '2026-11-28'));
    const clock = new FakeClock();
    const up = new ArtifactUploader({
      dbPath: join(tmp(), 'a.db'),
      imagesRoot: root,
      client: new ControlPlaneClient(cp.url),
      credential,
      clock,
      backoff: { initialMs: 100, maxMs: 1000 },
      logger: silent,
    });
    const png = PNG;
    const put = (name: string, bytes: Uint8Array = png) => {
      writeFileSync(join(root, '2026-11-28', name), bytes);
      return `2026-11-28/${name}`;
    };
    return { up, clock, png, put };
  }

  it('uploads images with their content type, and skips types and files the control plane cannot take', async () => {
    const { up, png, put } = setup();
    const id = uuidv7();
    up.enqueue(id, 'image', put(`${id}-image.png`));
    up.enqueue(uuidv7(), 'image', put('x-image.ppm', new Uint8Array([1])));
    up.enqueue(uuidv7(), 'heatmap', '2026-11-28/gone-heatmap.png');
    expect(await up.uploadOnce()).toBe(1);
    expect(cp.artifacts.get(`${id}/image`)).toEqual({ type: 'image/png', bytes: Buffer.from(png) });
    expect(up.depth()).toBe(0);
    await up.stop();
  });

  it('keeps uploads through an outage and retries with backoff on the injected clock', async () => {
    const { up, clock, put } = setup();
    cp.artifactStatus = 503;
    up.start();
    const id = uuidv7();
    up.enqueue(id, 'heatmap', put(`${id}-heatmap.png`));
    await waitFor(() => clock.pending === 1, 5000, 'retry scheduled');
    expect(up.depth()).toBe(1);
    cp.artifactStatus = 200;
    clock.fireAll();
    await waitFor(() => up.depth() === 0, 5000, 'uploaded after the outage');
    expect(cp.artifacts.has(`${id}/heatmap`)).toBe(true);
    await up.stop();
  });

  it('sends an image whose result the control plane has not stored yet (409) to the back of the queue', async () => {
    const { up, put } = setup();
    const early = uuidv7();
    const other = uuidv7();
    cp.unknownResults.add(early);
    up.enqueue(early, 'image', put(`${early}-image.png`));
    up.enqueue(other, 'image', put(`${other}-image.png`));
    // The pass sends the other image and ends; the early one waits, not blocking the queue.
    expect(await up.uploadOnce()).toBe(1);
    expect(cp.artifacts.has(`${other}/image`)).toBe(true);
    expect(up.depth()).toBe(1);
    cp.unknownResults.delete(early);
    expect(await up.uploadOnce()).toBe(1);
    expect(cp.artifacts.has(`${early}/image`)).toBe(true);
    expect(up.depth()).toBe(0);
    await up.stop();
  });

  it('waits for enrolment before uploading', async () => {
    let cred: string | null = null;
    const { up, put } = setup(() => cred);
    const id = uuidv7();
    up.enqueue(id, 'image', put(`${id}-image.png`));
    expect(await up.uploadOnce()).toBe(0);
    expect(up.depth()).toBe(1);
    cred = cp.credential;
    expect(await up.uploadOnce()).toBe(1);
    await up.stop();
  });
});
