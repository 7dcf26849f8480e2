import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBundle, manifestFor } from '../helpers/bundle.js';
import {
  BACKENDS,
  type Client,
  client,
  type Harness,
  login,
  startHarness,
  uploadForm,
} from '../helpers/harness.js';
import { identityOnnx } from '../helpers/onnx.js';
import { makeTar, sha256 } from '../helpers/tar.js';

describe.each(BACKENDS)('model registry on $name', ({ name }) => {
  let h: Harness;
  let admin: Client;

  beforeAll(async () => {
    h = await startHarness(name, { maxBundleBytes: 64 * 1024 });
    admin = client(h.cp.url, await login(h.cp.url));
  });
  afterAll(async () => {
    await h?.close();
  });

  const upload = async (tar: Buffer | Promise<Buffer>, fields: Record<string, string> = {}) =>
    admin.raw('POST', '/api/v1/models', uploadForm(await tar, fields));

  it('stores a verified bundle with its manifest metadata and serves it back byte for byte', async () => {
    const tar = await makeBundle('gear', '2.0.0', { folder: 'gear-2.0.0', imageThreshold: 0.42 });
    const r = await upload(tar);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({
      name: 'gear',
      version: '2.0.0',
      sha256: sha256(tar),
      bytes: tar.length,
      status: 'active',
    });
    expect(r.body.calibration.imageThreshold).toBe(0.42);
    const dl = await fetch(`${h.cp.url}/api/v1/models/gear/versions/2.0.0/bundle`, {
      headers: { authorization: `Bearer ${await login(h.cp.url)}` },
    });
    expect(dl.headers.get('etag')).toBe(`"${sha256(tar)}"`);
    expect(Buffer.from(await dl.arrayBuffer()).equals(tar)).toBe(true);
    const list = (await admin.get('/api/v1/models?name=gear')).body;
    expect(list.map((m: { version: string }) => m.version)).toEqual(['2.0.0']);
  });

  it('keeps versions immutable', async () => {
    const r = await upload(makeBundle('gear', '2.0.0'));
    expect(r.status).toBe(409);
    expect(r.body.message).toMatch(/immutable/);
  });

  it('rejects a bundle whose file does not match its manifest hash, and keeps no blob', async () => {
    const r = await upload(makeBundle('gear', '2.0.1', { tamper: true }));
    expect(r.status).toBe(422);
    expect(r.body.message).toMatch(/decoder\.onnx: sha256 mismatch/);
    expect((await admin.get('/api/v1/models/gear/versions/2.0.1')).status).toBe(404);
  });

  it('rejects archives that are not bundles, with the reason', async () => {
    const noManifest = await upload(makeTar([{ path: 'encoder.onnx', data: 'x' }]));
    expect(noManifest.status).toBe(422);
    expect(noManifest.body.message).toMatch(/manifest\.json not found/);
    const badManifest = await upload(
      await makeTar([{ path: 'manifest.json', data: JSON.stringify({ format: 'diad-bundle' }) }]),
    );
    expect(badManifest.status).toBe(422);
    expect(badManifest.body.message).toMatch(/^manifest\.json: formatVersion/);
    const garbage = await upload(Buffer.alloc(2048, 7));
    expect(garbage.status).toBe(422);
    expect(garbage.body.message).toMatch(/bad checksum/);
    const missing = await admin.raw('POST', '/api/v1/models', new FormData());
    expect(missing.status).toBe(400);
  });

  it('refuses a bundle whose graph is not ONNX, or lacks the inputs its manifest names, with 422 naming the file', async () => {
    const png = Buffer.concat([
      Buffer.from('89504e470d0a1a0a0000000d49484452000000400000004008020000002583d9c1', 'hex'),
      randomBytes(1200),
    ]);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['random bytes', randomBytes(1500), /^bundle: decoder\.onnx: graph decoder is not an ONNX model \(/],
      ['a PNG renamed', png, /^bundle: decoder\.onnx: graph decoder is not an ONNX model \(/],
      [
        'other names',
        identityOnnx(1500, 'image', 'y'),
        /^bundle: decoder\.onnx: graph decoder has no input "x"/,
      ],
    ];
    for (const [i, [what, decoder, why]] of cases.entries()) {
      const files: Record<string, Buffer> = {};
      for (const g of ['encoder', 'denoiser', 'features']) files[`${g}.onnx`] = identityOnnx();
      files['decoder.onnx'] = decoder;
      const manifest = manifestFor('notonnx', `1.0.${i}`, files);
      const tar = await makeTar([
        { path: 'manifest.json', data: JSON.stringify(manifest) },
        ...Object.entries(files).map(([path, data]) => ({ path, data })),
      ]);
      const r = await upload(tar);
      expect(r.status, what).toBe(422);
      expect(r.body.message, what).toMatch(why);
    }
    expect((await admin.get('/api/v1/models?name=notonnx')).body).toEqual([]);
  });

  it('refuses a bundle over the size limit with 413', async () => {
    const r = await upload(makeBundle('gear', '3.0.0', { fileBytes: 20_000 }));
    expect(r.status).toBe(413);
  });

  it('verifies ed25519 signatures over the tar sha256 against trusted keys', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect((await admin.post('/api/v1/signing-keys', { name: 'release', publicKey: pem })).status).toBe(201);
    const tar = await makeBundle('gear', '2.1.0');
    const good = sign(null, Buffer.from(sha256(tar)), privateKey).toString('base64');
    const forged = sign(null, Buffer.from(sha256(await makeBundle('gear', '2.1.0'))), privateKey).toString(
      'base64',
    );
    const bad = await upload(tar, { signature: forged, signedBy: 'release' });
    expect(bad.status).toBe(422);
    expect(bad.body.message).toMatch(/does not verify/);
    const unknown = await upload(tar, { signature: good, signedBy: 'nobody' });
    expect(unknown.status).toBe(422);
    const ok = await upload(tar, { signature: good, signedBy: 'release' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.signedBy).toBe('release');
  });

  it('deprecates and retires versions, and audits each change', async () => {
    const dep = await admin.post('/api/v1/models/gear/versions/2.0.0/status', {
      status: 'deprecated',
      reason: 'superseded',
    });
    expect(dep.status).toBe(201);
    expect(dep.body.status).toBe('deprecated');
    const ret = await admin.post('/api/v1/models/gear/versions/2.0.0/status', { status: 'retired' });
    expect(ret.body.status).toBe('retired');
    const audit = (await admin.get(`/api/v1/audit?entityType=model&entityId=${dep.body.id}`)).body.items;
    expect(audit.map((e: { action: string }) => e.action)).toEqual([
      'model.retire',
      'model.deprecate',
      'model.upload',
    ]);
    expect(audit[1].before.status).toBe('active');
    expect(audit[1].after).toMatchObject({ status: 'deprecated', statusReason: 'superseded' });
  });
});
