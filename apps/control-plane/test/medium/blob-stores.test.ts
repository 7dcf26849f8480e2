import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/blob/blob-store.js';
import { FsBlobStore } from '../../src/blob/fs-blob-store.js';
import { S3BlobStore } from '../../src/blob/s3-blob-store.js';
import { makeBundle } from '../helpers/bundle.js';
import { client, login, startHarness, uploadForm } from '../helpers/harness.js';
import { S3RVER_CREDENTIALS as creds, startS3Server } from '../helpers/s3-server.js';

let s3: Awaited<ReturnType<typeof startS3Server>>;
const dir = mkdtempSync(join(tmpdir(), 'diad-blobs-'));
beforeAll(async () => {
  s3 = await startS3Server(['diad', 'models']);
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

describe('S3 blob store (AWS SDK against s3rver)', () => {
  /** Records the S3 operations the SDK sends, to see multipart uploads and retries. */
  const record = (store: S3BlobStore) => {
    const ops: string[] = [];
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        ops.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'recordOps' },
    );
    return ops;
  };

  it('uploads a large body as a multipart upload and reads it back byte for byte', async () => {
    const store = new S3BlobStore({
      endpoint: s3.url,
      bucket: 'diad',
      ...creds,
      partSizeBytes: 5 * 1024 * 1024,
    });
    const ops = record(store);
    const data = Buffer.alloc(12 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
    const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) =>
      data.subarray(i * 65536, (i + 1) * 65536),
    );
    expect(await store.put('bundles/big.tar', Readable.from(chunks))).toEqual({ bytes: data.length });
    expect(ops.filter((o) => o === 'UploadPartCommand')).toHaveLength(3);
    expect(ops).toContain('CreateMultipartUploadCommand');
    expect(ops).toContain('CompleteMultipartUploadCommand');
    const got = await store.get('bundles/big.tar');
    expect(got?.bytes).toBe(data.length);
    expect((await read(got!.stream)).equals(data)).toBe(true);

    // below the part size: one PUT
    await store.put('bundles/small.tar', Readable.from([Buffer.from('small')]));
    expect(ops.at(-1)).toBe('PutObjectCommand');
  });

  it('answers null for a missing key', async () => {
    const store = new S3BlobStore({ endpoint: s3.url, bucket: 'diad', ...creds });
    expect(await store.get('bundles/never-written.tar')).toBeNull();
  });

  it('refuses unknown credentials with the S3 error code', async () => {
    // s3rver checks the access key id but does not verify SigV4 signatures (a wrong secret passes there), so the
    // refusal is exercised with a key id the server does not know.
    const unknown = new S3BlobStore({ endpoint: s3.url, bucket: 'diad', ...creds, accessKeyId: 'NOBODY' });
    await expect(unknown.put('k', Readable.from([Buffer.from('x')]))).rejects.toThrow(
      /s3 PUT k: HTTP 403 InvalidAccessKeyId/,
    );
    await expect(unknown.get('k')).rejects.toThrow(/s3 GET k: HTTP 403 InvalidAccessKeyId/);
  });

  it('takes credentials from the default chain when no keys are configured', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = creds.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = creds.secretAccessKey;
    try {
      const store = new S3BlobStore({ endpoint: s3.url, bucket: 'diad', region: 'us-east-1' });
      await store.put('chain/x', Readable.from([Buffer.from('via env')]));
      expect((await read((await store.get('chain/x'))!.stream)).toString()).toBe('via env');
    } finally {
      for (const [k, v] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('retries a request the server answers with 503, and gives up on one that hangs', async () => {
    // A proxy in front of s3rver: the first two requests get 503 SlowDown, later ones pass; /hang never answers.
    let failures = 2;
    const target = new URL(s3.url);
    const proxy = http.createServer((req, res) => {
      if (req.url?.includes('hang')) return;
      if (failures-- > 0) {
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<Error><Code>SlowDown</Code><Message>slow down</Message></Error>');
        return;
      }
      const up = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      const store = new S3BlobStore({ endpoint: url, bucket: 'diad', ...creds, requestTimeoutMs: 1000 });
      const ops = record(store);
      await store.put('retry/x', Readable.from([Buffer.from('after retries')]));
      expect(ops).toEqual(['PutObjectCommand']); // one operation, retried inside the SDK
      expect(failures).toBeLessThan(0);
      expect((await read((await store.get('retry/x'))!.stream)).toString()).toBe('after retries');
      const t0 = Date.now();
      await expect(
        new S3BlobStore({
          endpoint: url,
          bucket: 'diad',
          ...creds,
          requestTimeoutMs: 500,
          maxAttempts: 2,
        }).get('hang/x'),
      ).rejects.toThrow(/timeout|TimeoutError|socket/i);
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
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
      const tar = makeBundle('s3model', '1.0.0');
      expect((await admin.raw('POST', '/api/v1/models', uploadForm(tar))).status).toBe(201);
      const stored = new S3BlobStore({ endpoint: s3.url, bucket: 'models', ...creds });
      const list = await stored.client.send(
        new ListObjectsV2Command({ Bucket: 'models', Prefix: 'bundles/' }),
      );
      expect(list.KeyCount).toBeGreaterThan(0);
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
