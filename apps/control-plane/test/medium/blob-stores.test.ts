import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/blob/blob-store.js';
import { FsBlobStore } from '../../src/blob/fs-blob-store.js';
import { S3BlobStore } from '../../src/blob/s3-blob-store.js';
import { makeBundle } from '../helpers/bundle.js';
import { startFakeS3 } from '../helpers/fake-s3.js';
import { client, login, startHarness, uploadForm } from '../helpers/harness.js';

const creds = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret/key+value', region: 'eu-central-1' };
let s3: Awaited<ReturnType<typeof startFakeS3>>;
const dir = mkdtempSync(join(tmpdir(), 'diad-blobs-'));
beforeAll(async () => {
  s3 = await startFakeS3(creds);
});
afterAll(async () => {
  await s3.close();
  rmSync(dir, { recursive: true, force: true });
});

const read = async (s: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

describe.each([
  { name: 'filesystem', make: (): BlobStore => new FsBlobStore(join(dir, 'fs')) },
  {
    name: 'S3-compatible',
    make: (): BlobStore => new S3BlobStore({ endpoint: s3.url, bucket: 'diad', ...creds }),
  },
])('$name blob store', ({ make }) => {
  it('stores, streams back and deletes a blob', async () => {
    const store = make();
    const data = Buffer.alloc(300_000, 7);
    expect(
      await store.put('bundles/x_1.tar', Readable.from([data.subarray(0, 1000), data.subarray(1000)])),
    ).toEqual({
      bytes: data.length,
    });
    const got = await store.get('bundles/x_1.tar');
    expect(got?.bytes).toBe(data.length);
    expect((await read(got!.stream)).equals(data)).toBe(true);
    await store.delete('bundles/x_1.tar');
    expect(await store.get('bundles/x_1.tar')).toBeNull();
    await store.delete('bundles/x_1.tar');
  });

  it('refuses keys that could escape the store', async () => {
    await expect(make().put('../etc/passwd', Readable.from([Buffer.from('x')]))).rejects.toThrow(TypeError);
    await expect(make().get('/abs')).rejects.toThrow(/blob key/);
  });

  it('leaves nothing behind when the source stream fails', async () => {
    const store = make();
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk gone'));
      },
    });
    await expect(store.put('bundles/broken.tar', failing)).rejects.toThrow(/disk gone/);
    expect(await store.get('bundles/broken.tar')).toBeNull();
  });
});

describe('S3 blob store', () => {
  it('reports a refused signature with the S3 error code', async () => {
    const bad = new S3BlobStore({ endpoint: s3.url, bucket: 'diad', ...creds, secretAccessKey: 'wrong' });
    await expect(bad.put('k', Readable.from([Buffer.from('x')]))).rejects.toThrow(
      /HTTP 403 SignatureDoesNotMatch/,
    );
    expect(s3.rejected()).toBeGreaterThan(0);
  });

  it('serves the registry of a control plane configured for it', async () => {
    const h = await startHarness('pglite', {
      blobStore: 's3',
      s3Endpoint: s3.url,
      s3Bucket: 'models',
      s3AccessKeyId: creds.accessKeyId,
      s3SecretAccessKey: creds.secretAccessKey,
      s3Region: creds.region,
    });
    try {
      const admin = client(h.cp.url, await login(h.cp.url));
      const tar = await makeBundle('s3model', '1.0.0');
      expect((await admin.raw('POST', '/api/v1/models', uploadForm(tar))).status).toBe(201);
      expect([...s3.objects.keys()].some((k) => k.startsWith('/models/bundles/'))).toBe(true);
      expect(readdirSync(h.blobDir)).toEqual([]);
      const dl = await fetch(`${h.cp.url}/api/v1/models/s3model/versions/1.0.0/bundle`, {
        headers: { authorization: `Bearer ${await login(h.cp.url)}` },
      });
      expect(Buffer.from(await dl.arrayBuffer()).equals(tar)).toBe(true);
    } finally {
      await h.close();
    }
  });
});
