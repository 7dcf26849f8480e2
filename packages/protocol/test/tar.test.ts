import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractTarFile, packTar, readTar, safeTarPath, TarError } from '../src/tar.js';
import { END, hostileCorpus, pax, rawEntry } from './hostile-tars.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function* chunks(b: Buffer, size: number) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

const files = [
  { name: 'manifest.json', data: '{"name":"m","files":{}}' },
  { name: 'graphs/encoder.onnx', data: Buffer.alloc(5000, 7) },
  { name: 'golden/README.md', data: '' },
];

describe('@diad/protocol/tar', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('reads what packTar writes, whatever the chunking, and keeps only what is asked for', async () => {
    const tar = await packTar([...files, { name: 'graphs/sub' }]);
    for (const size of [1, 511, 512, 513, 4096, tar.length]) {
      const got = await readTar(chunks(tar, size), { keep: (p) => p === 'manifest.json' });
      expect(got.files).toEqual([
        { path: 'manifest.json', size: 23, sha256: sha256(files[0].data) },
        { path: 'graphs/encoder.onnx', size: 5000, sha256: sha256(files[1].data as Buffer) },
        { path: 'golden/README.md', size: 0, sha256: sha256('') },
      ]);
      expect(got.dirs).toEqual(['graphs/sub']);
      expect(got.content('manifest.json')?.toString()).toBe(files[0].data);
      expect(got.content('graphs/encoder.onnx')).toBeUndefined();
    }
  });

  it('reads long names (ustar prefix, pax path, GNU long name) one way', async () => {
    const long = `${'d'.repeat(120)}/model.onnx`;
    const longer = `${'e'.repeat(150)}.onnx`;
    const packed = await packTar([
      { name: long, data: 'x' },
      { name: longer, data: 'y' },
    ]);
    expect((await readTar(chunks(packed, 512))).files.map((f) => f.path)).toEqual([long, longer]);
    const gnu = Buffer.concat([
      rawEntry({ name: '././@LongLink', type: 'L', format: 'gnu' }, `${longer}\0`),
      rawEntry({ name: 'short', format: 'gnu' }, 'y'),
      rawEntry(
        { name: 'PaxHeader', type: 'x' },
        pax([
          ['path', 'p/q.bin'],
          ['mtime', '1'],
        ]),
      ),
      rawEntry({ name: 'ignored' }, 'z'),
      END,
    ]);
    expect((await readTar(chunks(gnu, 100))).files.map((f) => f.path)).toEqual([longer, 'p/q.bin']);
  });

  it('extracts files and folders under a fresh folder', async () => {
    const root = await mkdtemp(join(tmpdir(), 'diad-tar-'));
    dirs.push(root);
    const tar = join(root, 'b.tar');
    await writeFile(tar, await packTar([...files, { name: 'empty/' }]));
    const got = await extractTarFile(tar, join(root, 'out'));
    expect(got.files).toHaveLength(3);
    expect(await readFile(join(root, 'out/graphs/encoder.onnx'))).toEqual(files[1].data);
    expect(await readFile(join(root, 'out/golden/README.md'), 'utf8')).toBe('');
  });

  it('the safe-path policy', () => {
    expect(safeTarPath('./a//b/')).toBe('a/b');
    for (const bad of [
      '',
      '.',
      '../a',
      'a/../../b',
      '/abs',
      'a\\b',
      'C:x',
      'a:b',
      'a\u0000b',
      'a\nb',
      'x'.repeat(1025),
    ]) {
      expect(() => safeTarPath(bad), bad).toThrow(TarError);
    }
  });

  it('packTar refuses names the reader would refuse', async () => {
    await expect(packTar([{ name: '../x', data: '' }])).rejects.toThrow(/unsafe path/);
  });

  it('refuses every archive of the hostile corpus, naming the entry, whatever the chunking', async () => {
    const corpus = await hostileCorpus(files);
    expect(corpus.length).toBeGreaterThan(25);
    for (const c of corpus) {
      for (const size of [1000, 64 * 1024]) {
        const err = await readTar(chunks(c.tar, size)).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, c.id).toBeInstanceOf(TarError);
        expect((err as Error).message, c.id).toMatch(c.refusal);
      }
    }
  });

  it('refuses an oversized long name from its header without buffering it', async () => {
    const corpus = await hostileCorpus(files);
    const c = corpus.find((x) => x.id === 'oversized-long-name')!;
    let fed = 0;
    async function* endless() {
      yield c.tar.subarray(0, 512);
      // Were the reader buffering the declared 400 MiB, this would run for long; it must stop at once.
      for (let i = 0; i < 100_000; i++) {
        fed += 65536;
        yield Buffer.alloc(65536, 0x61);
      }
    }
    const before = process.memoryUsage().rss;
    await expect(readTar(endless())).rejects.toThrow(/more than the limit of 65536/);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    expect(fed).toBeLessThan(200 * 1024 * 1024);
  });

  it.skipIf(!existsSync('/usr/bin/python3'))(
    'reads what Python tarfile writes (tools/ packs bundles with it)',
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'diad-tar-py-'));
      dirs.push(root);
      const long = `graphs/${'n'.repeat(120)}.onnx`;
      for (const format of ['USTAR_FORMAT', 'PAX_FORMAT', 'GNU_FORMAT']) {
        const out = join(root, `${format}.tar`);
        const script = [
          'import io, sys, tarfile',
          `with tarfile.open(sys.argv[1], "w", format=tarfile.${format}) as t:`,
          '    for name, data in [("manifest.json", b"{}"), (sys.argv[2], b"x" * 3000)]:',
          '        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))',
        ].join('\n');
        const name = format === 'USTAR_FORMAT' ? 'graphs/short.onnx' : long;
        execFileSync('/usr/bin/python3', ['-c', script, out, name]);
        const got = await readTar([await readFile(out)]);
        expect(
          got.files.map((f) => f.path),
          format,
        ).toEqual(['manifest.json', name]);
      }
    },
  );
});
