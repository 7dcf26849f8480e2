/**
 * A corpus of hostile archives, made in memory from a valid bundle's files: each one is refused by the tar policy
 * of @diad/protocol/tar, and every interface that takes a bundle (registry upload, agent, pipeline) must refuse
 * it with the same message. Nothing here is committed as binary; the archives are built on each run.
 *
 * The header writer below exists only to make malformed archives that no honest writer produces; honest
 * archives come from packTar.
 */
import { packTar } from '../src/tar.js';

export interface RawHeader {
  name: string;
  /** Typeflag character; default '0'. */
  type?: string;
  size?: number;
  /** Exact 12-byte size field, for sizes no octal field holds. */
  sizeField?: Buffer;
  linkname?: string;
  prefix?: string;
  format?: 'posix' | 'gnu';
  badChecksum?: boolean;
}

/** One 512-byte header block, checksummed. */
export function rawHeader(o: RawHeader): Buffer {
  const h = Buffer.alloc(512);
  h.write(o.name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  if (o.sizeField) o.sizeField.copy(h, 124, 0, 12);
  else h.write(`${(o.size ?? 0).toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(o.type ?? '0', 156, 'latin1');
  if (o.linkname) h.write(o.linkname, 157, 100, 'utf8');
  if (o.format === 'gnu') h.write('ustar  \0', 257, 'latin1');
  else h.write('ustar\u000000', 257, 'latin1');
  if (o.prefix) h.write(o.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  if (o.badChecksum) sum += 1;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** Data padded to whole blocks. */
export function blocks(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
}

/** A full entry: header and padded data. */
export function rawEntry(o: Omit<RawHeader, 'size'>, data: Buffer | string = ''): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([rawHeader({ ...o, size: b.length }), blocks(b)]);
}

/** Pax records with exact lengths. */
export function pax(records: Array<[string, string]>): Buffer {
  let out = '';
  for (const [k, v] of records) {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len++;
    out += `${len}${body}`;
  }
  return Buffer.from(out);
}

export const END = Buffer.alloc(1024);

export interface HostileTar {
  /** Short identifier of the case. */
  id: string;
  tar: Buffer;
  /** What the refusal message must say. */
  refusal: RegExp;
}

export interface BundleFile {
  name: string;
  data: Buffer | string;
}

/**
 * Builds every hostile case around `files` (a valid bundle: manifest.json first). Each case hides its trick
 * among the valid files, so only the tar policy can refuse it.
 */
export async function hostileCorpus(files: BundleFile[]): Promise<HostileTar[]> {
  const valid = await packTar(files);
  const body = valid.subarray(0, lastEntryEnd(valid));
  const manifest = files.find((f) => f.name === 'manifest.json')!;
  const evil = Buffer.from('{"evil":true}');
  const rest = await packTar(files.filter((f) => f.name !== 'manifest.json'));
  const restBody = rest.subarray(0, lastEntryEnd(rest));
  const withEntry = (entry: Buffer) => Buffer.concat([body, entry, END]);
  const cases: HostileTar[] = [
    {
      id: 'gnu-long-name-and-pax-path',
      tar: Buffer.concat([
        rawEntry({ name: '././@LongLink', type: 'L', format: 'gnu' }, 'manifest.json\0'),
        rawEntry({ name: 'PaxHeader', type: 'x' }, pax([['path', 'manifest.json']])),
        rawEntry({ name: 'other.json' }, evil),
        restBody,
        END,
      ]),
      refusal: /ambiguous name \(GNU long name "manifest\.json" and pax path "manifest\.json"\)/,
    },
    {
      id: 'pax-two-path-records',
      tar: Buffer.concat([
        rawEntry(
          { name: 'PaxHeader', type: 'x' },
          pax([
            ['path', 'manifest.json'],
            ['path', 'decoy.json'],
          ]),
        ),
        rawEntry({ name: 'x.json' }, manifest.data),
        restBody,
        END,
      ]),
      refusal: /pax header at byte 0 has two "path" records/,
    },
    {
      id: 'two-pax-headers',
      tar: Buffer.concat([
        rawEntry({ name: 'PaxHeader', type: 'x' }, pax([['path', 'decoy.json']])),
        rawEntry({ name: 'PaxHeader', type: 'x' }, pax([['path', 'manifest.json']])),
        rawEntry({ name: 'x.json' }, evil),
        restBody,
        END,
      ]),
      refusal: /two pax headers for one entry/,
    },
    {
      id: 'two-gnu-long-names',
      tar: Buffer.concat([
        rawEntry({ name: '././@LongLink', type: 'L', format: 'gnu' }, 'decoy.json\0'),
        rawEntry({ name: '././@LongLink', type: 'L', format: 'gnu' }, 'manifest.json\0'),
        rawEntry({ name: 'x.json', format: 'gnu' }, evil),
        restBody,
        END,
      ]),
      refusal: /two GNU long names for one entry/,
    },
    {
      id: 'global-pax-path',
      tar: Buffer.concat([
        rawEntry({ name: 'GlobalHead', type: 'g' }, pax([['path', 'manifest.json']])),
        rawEntry({ name: 'x.json' }, evil),
        body,
        END,
      ]),
      refusal: /global pax header at byte 0 sets "path"/,
    },
    {
      id: 'pax-size-mismatch',
      tar: Buffer.concat([
        rawEntry({ name: 'PaxHeader', type: 'x' }, pax([['size', '0']])),
        rawEntry({ name: 'manifest.json' }, manifest.data),
        restBody,
        END,
      ]),
      refusal: /tar entry "manifest\.json": pax size 0 differs from the header's size/,
    },
    {
      id: 'pax-malformed-record',
      tar: Buffer.concat([
        rawEntry({ name: 'PaxHeader', type: 'x' }, '99 path=manifest.json\n'),
        rawEntry({ name: 'x.json' }, evil),
        body,
        END,
      ]),
      refusal: /pax header at byte 0 has a malformed record/,
    },
    {
      id: 'pax-path-with-nul',
      tar: Buffer.concat([
        rawEntry({ name: 'PaxHeader', type: 'x' }, pax([['path', 'manifest.json\u0000.bak']])),
        rawEntry({ name: 'x.json' }, evil),
        restBody,
        END,
      ]),
      refusal: /unsafe path \(control character\)/,
    },
    {
      // A 400 MiB long name: refused from its header, before any of it arrives.
      id: 'oversized-long-name',
      tar: Buffer.concat([
        rawHeader({ name: '././@LongLink', type: 'L', format: 'gnu', size: 400 * 1024 * 1024 }),
        Buffer.alloc(4096, 0x61),
      ]),
      refusal: /metadata header \("L"\) at byte 0 declares 419430400 bytes, more than the limit of 65536/,
    },
    {
      id: 'oversized-pax',
      tar: Buffer.concat([
        rawHeader({ name: 'PaxHeader', type: 'x', size: 65537 }),
        Buffer.alloc(1024, 0x61),
      ]),
      refusal: /metadata header \("x"\) at byte 0 declares 65537 bytes, more than the limit of 65536/,
    },
    {
      id: 'size-beyond-data',
      tar: Buffer.concat([body, rawHeader({ name: 'graphs/extra.onnx', size: 4096 }), Buffer.alloc(100, 1)]),
      refusal: /tar entry "graphs\/extra\.onnx": declares 4096 bytes but the archive ends after 100 of them/,
    },
    {
      id: 'declares-2GiB',
      tar: Buffer.concat([body, rawHeader({ name: 'big.bin', size: 2 * 1024 ** 3 }), Buffer.alloc(512, 1)]),
      refusal: /tar entry "big\.bin": declares 2147483648 bytes but the archive ends after 512 of them/,
    },
    {
      id: 'declares-80GiB',
      tar: Buffer.concat([
        body,
        rawHeader({ name: 'huge.bin', sizeField: base256(80 * 1024 ** 3) }),
        Buffer.alloc(512, 1),
      ]),
      refusal: /tar entry "huge\.bin": declares 85899345920 bytes, more than the limit of 68719476736/,
    },
    {
      id: 'truncated-header',
      tar: Buffer.concat([body, rawHeader({ name: 'next.bin', size: 1 }).subarray(0, 300)]),
      refusal: /truncated header at byte \d+/,
    },
    {
      id: 'symlink',
      tar: withEntry(rawEntry({ name: 'graphs/link.onnx', type: '2', linkname: '/etc/passwd' })),
      refusal: /tar entry "graphs\/link\.onnx": symbolic link \(type "2"\)/,
    },
    {
      id: 'hardlink',
      tar: withEntry(rawEntry({ name: 'graphs/hard.onnx', type: '1', linkname: 'manifest.json' })),
      refusal: /tar entry "graphs\/hard\.onnx": hard link \(type "1"\)/,
    },
    {
      id: 'fifo',
      tar: withEntry(rawEntry({ name: 'pipe', type: '6' })),
      refusal: /tar entry "pipe": FIFO \(type "6"\)/,
    },
    {
      id: 'duplicate-name',
      tar: withEntry(rawEntry({ name: 'manifest.json' }, evil)),
      refusal: /tar entry "manifest\.json": duplicate name/,
    },
    {
      id: 'duplicate-name-case',
      tar: withEntry(rawEntry({ name: 'MANIFEST.json' }, evil)),
      refusal: /tar entry "MANIFEST\.json": duplicate name/,
    },
    {
      id: 'duplicate-after-normalising',
      tar: withEntry(rawEntry({ name: './/manifest.json' }, evil)),
      refusal: /tar entry "\.\/\/manifest\.json": duplicate name/,
    },
    {
      id: 'file-as-folder',
      tar: withEntry(rawEntry({ name: 'manifest.json/x' }, evil)),
      refusal: /tar entry "manifest\.json\/x": "manifest\.json" is a file, not a folder/,
    },
    {
      id: 'dot-dot',
      tar: withEntry(rawEntry({ name: 'graphs/../../evil.onnx' }, evil)),
      refusal: /tar entry "graphs\/\.\.\/\.\.\/evil\.onnx": unsafe path \("\.\." component\)/,
    },
    {
      id: 'absolute',
      tar: withEntry(rawEntry({ name: '/etc/cron.d/evil' }, evil)),
      refusal: /tar entry "\/etc\/cron\.d\/evil": unsafe path \(absolute path\)/,
    },
    {
      id: 'backslash',
      tar: withEntry(rawEntry({ name: '..\\..\\evil.onnx' }, evil)),
      refusal: /unsafe path \(backslash\)/,
    },
    {
      id: 'drive-letter',
      tar: withEntry(rawEntry({ name: 'C:/Windows/evil.dll' }, evil)),
      refusal: /tar entry "C:\/Windows\/evil\.dll": unsafe path \(drive letter\)/,
    },
    {
      id: 'long-name-dot-dot',
      tar: withEntry(
        Buffer.concat([
          rawEntry(
            { name: '././@LongLink', type: 'L', format: 'gnu' },
            `${'a/'.repeat(60)}../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../x\0`,
          ),
          rawEntry({ name: 'short', format: 'gnu' }, evil),
        ]),
      ),
      refusal: /unsafe path \("\.\." component\)/,
    },
    {
      id: 'folder-with-data',
      tar: withEntry(rawEntry({ name: 'graphs/sub/', type: '5' }, blocks(Buffer.alloc(512, 0x41)))),
      refusal: /tar entry "graphs\/sub\/": a folder that declares 512 bytes of data/,
    },
    {
      id: 'bad-checksum',
      tar: Buffer.concat([body, rawHeader({ name: 'x.bin', badChecksum: true }), END]),
      refusal: /header at byte \d+ has a bad checksum/,
    },
    {
      id: 'data-after-end',
      tar: Buffer.concat([body, END, rawEntry({ name: 'manifest.json' }, evil), END]),
      refusal: /data after the end-of-archive marker/,
    },
    {
      id: 'dangling-metadata',
      tar: Buffer.concat([
        body,
        rawEntry({ name: 'PaxHeader', type: 'x' }, pax([['path', 'late.json']])),
        END,
      ]),
      refusal: /metadata header at byte \d+ is not followed by an entry/,
    },
    {
      id: 'pax-linkpath',
      tar: Buffer.concat([
        rawEntry({ name: 'PaxHeader', type: 'x' }, pax([['linkpath', '/etc/passwd']])),
        rawEntry({ name: 'x.json' }, evil),
        body,
        END,
      ]),
      refusal: /pax header at byte 0 sets "linkpath"/,
    },
  ];
  return cases;
}

/** Where the last entry of a packTar archive ends: tar-stream closes an archive with two zero blocks. */
function lastEntryEnd(tar: Buffer): number {
  return tar.length - 1024;
}

function base256(n: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x80;
  let v = n;
  for (let i = 11; i > 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return b;
}
