/** Writes ustar archives for tests, including deliberately unsafe ones. */
export interface TarItem {
  name: string;
  data?: Uint8Array;
  type?: '0' | '5' | '2';
  linkname?: string;
}

function field(h: Buffer, off: number, len: number, s: string) {
  h.write(s, off, Math.min(len, Buffer.byteLength(s)), 'utf8');
}

export function makeTar(items: TarItem[]): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    const data = Buffer.from(it.data ?? new Uint8Array(0));
    const h = Buffer.alloc(512);
    field(h, 0, 100, it.name);
    field(h, 100, 8, '0000644\0');
    field(h, 108, 8, '0000000\0');
    field(h, 116, 8, '0000000\0');
    field(h, 124, 12, `${data.length.toString(8).padStart(11, '0')}\0`);
    field(h, 136, 12, '00000000000\0');
    h.fill(0x20, 148, 156);
    field(h, 156, 1, it.type ?? '0');
    field(h, 157, 100, it.linkname ?? '');
    field(h, 257, 6, 'ustar\0');
    field(h, 263, 2, '00');
    let sum = 0;
    for (const b of h) sum += b;
    field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
