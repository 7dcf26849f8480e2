import { describe, expect, it } from 'vitest';
import { TarScanner } from '../../src/registry/tar-scanner.js';
import { makeTar, sha256 } from '../helpers/tar.js';

function scan(tar: Buffer, chunk = 700) {
  const s = new TarScanner((p) => p.endsWith('manifest.json'));
  for (let i = 0; i < tar.length; i += chunk) s.write(tar.subarray(i, i + chunk));
  s.end();
  return s;
}

describe('TarScanner', () => {
  const big = Buffer.alloc(5000, 3);
  const tar = makeTar([
    { path: 'manifest.json', data: '{"a":1}' },
    { path: 'dir/', data: '', type: '5' },
    { path: 'dir/big.bin', data: big },
    { path: 'empty', data: '' },
  ]);

  it('hashes every regular file whatever the chunking, and keeps the requested ones', () => {
    for (const chunk of [1, 511, 512, 513, 4096, tar.length]) {
      const s = scan(tar, chunk);
      expect(s.entries).toEqual([
        { path: 'manifest.json', bytes: 7, sha256: sha256('{"a":1}') },
        { path: 'dir/big.bin', bytes: 5000, sha256: sha256(big) },
        { path: 'empty', bytes: 0, sha256: sha256('') },
      ]);
      expect(s.content('manifest.json')?.toString()).toBe('{"a":1}');
      expect(s.content('dir/big.bin')).toBeUndefined();
    }
  });

  it('reads long names from the ustar prefix and from GNU long-name entries', () => {
    const long = `${'d'.repeat(120)}/model.onnx`;
    expect(scan(makeTar([{ path: long, data: 'x' }])).entries[0].path).toBe(long);
    const gnu = makeTar([
      { path: '././@LongLink', data: `${'e'.repeat(150)}.onnx\0`, type: 'L' },
      { path: 'short', data: 'y' },
    ]);
    expect(scan(gnu).entries).toEqual([{ path: `${'e'.repeat(150)}.onnx`, bytes: 1, sha256: sha256('y') }]);
  });

  it('takes the path from a pax header', () => {
    const rec = ' path=pax/name.onnx\n';
    const len = rec.length + String(rec.length + 2).length;
    const pax = makeTar([
      { path: 'PaxHeader', data: `${len}${rec}`, type: 'x' },
      { path: 'ignored', data: 'z' },
    ]);
    expect(scan(pax).entries[0].path).toBe('pax/name.onnx');
  });

  it('rejects a corrupt header, a truncated archive, links and parent paths with TypeError', () => {
    const bad = Buffer.from(tar);
    bad[10] ^= 1;
    expect(() => scan(bad)).toThrow(/header checksum mismatch at byte 0/);
    expect(() => scan(tar.subarray(0, 2000))).toThrow(/truncated inside an entry at byte 1536/);
    expect(() => scan(tar.subarray(0, 2500))).toThrow(/truncated inside dir\/big\.bin/);
    expect(() => scan(makeTar([{ path: 'link', data: '', type: '2' }]))).toThrow(/links are not allowed/);
    expect(() => scan(makeTar([{ path: '../evil', data: 'x' }]))).toThrow(/parent paths/);
    expect(() => scan(Buffer.alloc(1024))).toThrow(/no files/);
  });
});
