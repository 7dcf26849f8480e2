import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError, DiadPipeline, loadBundle } from '../src/index.js';
import { makeTar, type TarItem } from './helpers/tar-writer.js';
import { writeTinyBundle } from './helpers/tiny-bundle.js';

let root: string;
let n = 0;
const fresh = () => join(root, `b${n++}`);

async function expectBundleError(p: Promise<unknown>, file: string, message: RegExp): Promise<BundleError> {
  const e = await p.then(
    () => {
      throw new Error('expected a BundleError, the bundle loaded');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BundleError);
  expect((e as BundleError).file).toBe(file);
  expect((e as BundleError).message).toMatch(message);
  return e as BundleError;
}

async function tarOf(dir: string, prefix = ''): Promise<Buffer> {
  const items: TarItem[] = [];
  if (prefix) items.push({ name: prefix, type: '5' });
  for (const f of await readdir(dir))
    items.push({ name: `${prefix}${f}`, data: await readFile(join(dir, f)) });
  return makeTar(items);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'diad-bundle-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadBundle: files', () => {
  it('loads a valid directory bundle and identifies it by the sha256 of manifest.json', async () => {
    const dir = fresh();
    await writeTinyBundle(dir);
    const b = await loadBundle(dir);
    expect(b.manifest.model.name).toBe('tiny-test');
    expect(b.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b.dir).toBe(dir);
  });

  it('sha256 mismatch names the file', async () => {
    const dir = fresh();
    await writeTinyBundle(dir, {
      editFiles: (f) => {
        f['decoder.onnx'] = f['decoder.onnx'].slice();
        f['decoder.onnx'][20] ^= 0xff;
      },
    });
    await expectBundleError(
      loadBundle(dir),
      'decoder.onnx',
      /sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}/,
    );
  });

  it('missing file names the file', async () => {
    const dir = fresh();
    await writeTinyBundle(dir, { editFiles: (f) => delete f['features.onnx'] });
    await expectBundleError(loadBundle(dir), 'features.onnx', /missing/);
  });

  it('truncated file says how many bytes were expected and found', async () => {
    const dir = fresh();
    let full = 0;
    await writeTinyBundle(dir, {
      editFiles: (f) => {
        full = f['encoder.onnx'].length;
        f['encoder.onnx'] = f['encoder.onnx'].subarray(0, 50);
      },
    });
    await expectBundleError(
      loadBundle(dir),
      'encoder.onnx',
      new RegExp(`truncated: expected ${full} bytes, found 50`),
    );
  });

  it('manifest key errors name the key; bad JSON and a missing manifest are reported', async () => {
    const dir = fresh();
    await writeTinyBundle(dir, { editManifest: (m) => delete m.model.version });
    await expectBundleError(loadBundle(dir), 'manifest.json', /model\.version/);
    const dir2 = fresh();
    await writeTinyBundle(dir2, { editManifest: (m) => (m.scoring.upsample = 'nearest') });
    await expectBundleError(loadBundle(dir2), 'manifest.json', /scoring\.upsample/);
    await writeFile(join(dir2, 'manifest.json'), '{"format": "diad-bundle",');
    await expectBundleError(loadBundle(dir2), 'manifest.json', /not valid JSON/);
    const empty = fresh();
    await mkdir(empty);
    await expectBundleError(loadBundle(empty), 'manifest.json', /missing/);
  });

  it('a manifest file path that escapes the bundle is refused', async () => {
    const dir = fresh();
    await writeTinyBundle(dir, {
      editManifest: (m) => {
        m.files['../outside.onnx'] = { sha256: '0'.repeat(64), bytes: 1 };
      },
    });
    await expectBundleError(loadBundle(dir), 'manifest.json', /unsafe path/);
  });
});

describe('loadBundle: tar archives', () => {
  it('loads a tar (top level or inside one folder) into a cache keyed by the manifest sha', async () => {
    const dir = fresh();
    await writeTinyBundle(dir);
    const ref = await loadBundle(dir);
    const cache = fresh();
    for (const prefix of ['', 'tiny-test-0.0.1/']) {
      const tar = join(root, `bundle${n++}.tar`);
      await writeFile(tar, await tarOf(dir, prefix));
      const b = await loadBundle(tar, { cacheDir: cache });
      expect(b.sha256).toBe(ref.sha256);
      expect(b.dir).toBe(join(cache, ref.sha256));
      expect(b.manifest).toEqual(ref.manifest);
    }
  });

  it('a damaged extraction cache is re-extracted from the archive; a damaged archive is reported', async () => {
    const dir = fresh();
    await writeTinyBundle(dir);
    const tar = join(root, `bundle${n++}.tar`);
    const bytes = await tarOf(dir);
    await writeFile(tar, bytes);
    const cache = fresh();
    const first = await loadBundle(tar, { cacheDir: cache });
    await writeFile(join(first.dir, 'decoder.onnx'), 'tampered');
    const second = await loadBundle(tar, { cacheDir: cache });
    expect((await readFile(join(second.dir, 'decoder.onnx'))).length).toBe(
      first.manifest.files['decoder.onnx'].bytes,
    );

    // Flip a byte inside encoder.onnx's data in the archive itself (tar data is stored verbatim).
    const enc = await readFile(join(dir, 'encoder.onnx'));
    const at = bytes.indexOf(enc.subarray(0, 64));
    const bad = Buffer.from(bytes);
    bad[at + 100] ^= 0xff;
    const badTar = join(root, `bundle${n++}.tar`);
    await writeFile(badTar, bad);
    await expectBundleError(loadBundle(badTar, { cacheDir: fresh() }), 'encoder.onnx', /sha256 mismatch/);
  });

  it('a tarred bundle gives the same result as the directory', async () => {
    const dir = fresh();
    await writeTinyBundle(dir);
    const tar = join(root, `bundle${n++}.tar`);
    await writeFile(tar, await tarOf(dir));
    const frame = {
      data: new Uint8Array(32 * 32 * 3).map((_, i) => (i * 37) & 255),
      width: 32,
      height: 32,
      channels: 3 as const,
    };
    const a = await DiadPipeline.create(dir);
    const b = await DiadPipeline.create(tar, { bundleCacheDir: fresh() });
    try {
      expect((await b.inspect(frame)).score).toBe((await a.inspect(frame)).score);
      expect(b.bundleSha256).toBe(a.bundleSha256);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses path traversal and writes nothing outside the cache', async () => {
    const dir = fresh();
    await writeTinyBundle(dir);
    const items: TarItem[] = [{ name: '../evil.txt', data: Buffer.from('pwned') }];
    for (const f of await readdir(dir)) items.push({ name: f, data: await readFile(join(dir, f)) });
    const tar = join(root, 'traversal.tar');
    await writeFile(tar, await makeTar(items));
    const cache = join(fresh(), 'cache');
    await expectBundleError(
      loadBundle(tar, { cacheDir: cache }),
      'traversal.tar',
      /"\.\.\/evil\.txt": unsafe path/,
    );
    await expect(stat(join(cache, '..', 'evil.txt'))).rejects.toThrow();
    await expect(stat(join(root, 'evil.txt'))).rejects.toThrow();

    const abs = join(root, 'absolute.tar');
    await writeFile(abs, await makeTar([{ name: '/etc/diad-evil', data: Buffer.from('x') }]));
    await expectBundleError(loadBundle(abs, { cacheDir: cache }), 'absolute.tar', /unsafe path/);
  });

  it('refuses links, corrupt headers, truncated archives and archives without a manifest', async () => {
    const cache = fresh();
    const link = join(root, 'link.tar');
    await writeFile(link, await makeTar([{ name: 'manifest.json', type: '2', linkname: '/etc/passwd' }]));
    await expectBundleError(loadBundle(link, { cacheDir: cache }), 'link.tar', /symbolic link \(type "2"\)/);

    const good = await makeTar([{ name: 'readme.txt', data: Buffer.alloc(2000, 1) }]);
    const corrupt = Buffer.from(good);
    corrupt[10] ^= 0xff;
    await writeFile(join(root, 'corrupt.tar'), corrupt);
    await expectBundleError(
      loadBundle(join(root, 'corrupt.tar'), { cacheDir: cache }),
      'corrupt.tar',
      /checksum/,
    );

    await writeFile(join(root, 'short.tar'), good.subarray(0, 1000));
    await expectBundleError(
      loadBundle(join(root, 'short.tar'), { cacheDir: cache }),
      'short.tar',
      /archive ends after 488 of them/,
    );

    await writeFile(join(root, 'nomanifest.tar'), good);
    await expectBundleError(
      loadBundle(join(root, 'nomanifest.tar'), { cacheDir: cache }),
      'manifest.json',
      /missing/,
    );
  });
});

describe('DiadPipeline.create: graphs checked against the manifest before the first frame', () => {
  it('wrong output name', async () => {
    const dir = fresh();
    await writeTinyBundle(dir, { editManifest: (m) => (m.graphs.encoder.outputs[0].name = 'mu') });
    await expectBundleError(
      DiadPipeline.create(dir),
      'encoder.onnx',
      /output "mu".*not in the graph.*mean, logvar/,
    );
  });

  it('wrong input name and an undeclared graph input', async () => {
    const dir = fresh();
    await writeTinyBundle(dir, { editManifest: (m) => (m.graphs.denoiser.inputs[2].name = 'cond') });
    await expectBundleError(DiadPipeline.create(dir), 'denoiser.onnx', /input "cond"/);
  });

  it('shape that disagrees with the graph', async () => {
    const dir = fresh();
    await writeTinyBundle(dir, {
      editManifest: (m) => (m.graphs.features.outputs[0].shape = ['batch', 3, 8, 8]),
    });
    await expectBundleError(
      DiadPipeline.create(dir),
      'features.onnx',
      /"f0": shape \[batch,3,16,16\] in the graph, \[batch,3,8,8\]/,
    );
  });

  it('a manifest claiming a dynamic batch for a fixed-batch graph', async () => {
    const dir = fresh();
    await writeTinyBundle(dir, {
      batch: 1,
      editManifest: (m) => {
        m.graphs.decoder.inputs[0].shape = ['batch', 4, 4, 4];
      },
    });
    await expectBundleError(DiadPipeline.create(dir), 'decoder.onnx', /input "z": shape \[1,4,4,4\]/);
  });

  it('graph descriptions that do not fit input/latent sizes', async () => {
    const dir = fresh();
    await writeTinyBundle(dir, { editManifest: (m) => (m.latent.height = 8) });
    await expectBundleError(DiadPipeline.create(dir), 'manifest.json', /graphs\.encoder: "mean".*latent/);
  });

  it('an ONNX file that cannot be parsed (hash matching) names the file', async () => {
    const dir = fresh();
    await writeTinyBundle(dir, {
      editFiles: () => undefined,
      editManifest: () => undefined,
    });
    const junk = Buffer.from('this is not an onnx model');
    await writeFile(join(dir, 'decoder.onnx'), junk);
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    const { createHash } = await import('node:crypto');
    m.files['decoder.onnx'] = { sha256: createHash('sha256').update(junk).digest('hex'), bytes: junk.length };
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
    await expectBundleError(DiadPipeline.create(dir), 'decoder.onnx', /ONNX Runtime cannot load it/);
  });
});
