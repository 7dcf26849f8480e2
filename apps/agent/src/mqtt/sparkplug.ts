/**
 * Minimal Sparkplug B payload encoding (Eclipse Tahu sparkplug_b.proto, the fields this agent uses):
 * Payload { uint64 timestamp = 1; repeated Metric metrics = 2; uint64 seq = 3 }
 * Metric { string name = 1; uint64 timestamp = 3; uint32 datatype = 4; bool is_null = 7;
 *          uint64 long_value = 11; double double_value = 13; bool boolean_value = 14; string string_value = 15 }
 * Written by hand (protobuf wire format) to avoid a protobuf runtime dependency.
 */

export const SpDataType = { Int64: 4, UInt64: 8, Double: 10, Boolean: 11, String: 12 } as const;
export type SpDataTypeName = keyof typeof SpDataType;

export interface SpMetric {
  name: string;
  type: SpDataTypeName;
  value: number | boolean | string | null;
  timestamp?: number;
}

export interface SpPayload {
  timestamp: number;
  seq?: number;
  metrics: SpMetric[];
}

class Writer {
  private parts: number[] = [];
  varint(v: number) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`sparkplug: varint: expected a safe non-negative integer, got ${v}`);
    while (v > 0x7f) {
      this.parts.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.parts.push(v);
  }
  tag(field: number, wire: number) {
    this.varint(field * 8 + wire);
  }
  bytes(field: number, b: Uint8Array) {
    this.tag(field, 2);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
  }
  double(field: number, v: number) {
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    for (const x of b) this.parts.push(x);
  }
  finish() {
    return Uint8Array.from(this.parts);
  }
}

function encodeMetric(m: SpMetric): Uint8Array {
  const w = new Writer();
  w.bytes(1, Buffer.from(m.name, 'utf8'));
  if (m.timestamp !== undefined) {
    w.tag(3, 0);
    w.varint(m.timestamp);
  }
  w.tag(4, 0);
  w.varint(SpDataType[m.type]);
  if (m.value === null) {
    w.tag(7, 0);
    w.varint(1);
    return w.finish();
  }
  switch (m.type) {
    case 'Int64':
    case 'UInt64':
      w.tag(11, 0);
      // Int64 is carried as two's complement in uint64; negatives are not used by this agent.
      w.varint(Number(m.value));
      break;
    case 'Double':
      w.double(13, Number(m.value));
      break;
    case 'Boolean':
      w.tag(14, 0);
      w.varint(m.value ? 1 : 0);
      break;
    case 'String':
      w.bytes(15, Buffer.from(String(m.value), 'utf8'));
      break;
  }
  return w.finish();
}

export function encodePayload(p: SpPayload): Uint8Array {
  const w = new Writer();
  w.tag(1, 0);
  w.varint(p.timestamp);
  for (const m of p.metrics) w.bytes(2, encodeMetric(m));
  if (p.seq !== undefined) {
    w.tag(3, 0);
    w.varint(p.seq);
  }
  return w.finish();
}

/** Decodes what encodePayload writes (and ignores unknown fields); for tests and diagnostics. */
export function decodePayload(buf: Uint8Array): SpPayload {
  const fields = readFields(buf);
  const out: SpPayload = { timestamp: 0, metrics: [] };
  for (const f of fields) {
    if (f.field === 1) out.timestamp = f.value as number;
    else if (f.field === 3) out.seq = f.value as number;
    else if (f.field === 2) out.metrics.push(decodeMetric(f.value as Uint8Array));
  }
  return out;
}

function decodeMetric(buf: Uint8Array): SpMetric {
  const m: SpMetric = { name: '', type: 'String', value: null };
  for (const f of readFields(buf)) {
    if (f.field === 1) m.name = Buffer.from(f.value as Uint8Array).toString('utf8');
    else if (f.field === 3) m.timestamp = f.value as number;
    else if (f.field === 4)
      m.type = (Object.entries(SpDataType).find(([, v]) => v === f.value)?.[0] ?? 'String') as SpDataTypeName;
    else if (f.field === 11) m.value = f.value as number;
    else if (f.field === 13) m.value = f.value as number;
    else if (f.field === 14) m.value = f.value === 1;
    else if (f.field === 15) m.value = Buffer.from(f.value as Uint8Array).toString('utf8');
  }
  return m;
}

function readFields(buf: Uint8Array): { field: number; value: number | Uint8Array }[] {
  const out: { field: number; value: number | Uint8Array }[] = [];
  let i = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (i >= buf.length) throw new RangeError('sparkplug: truncated varint');
      const b = buf[i++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) out.push({ field, value: varint() });
    else if (wire === 1) {
      out.push({ field, value: Buffer.from(buf.subarray(i, i + 8)).readDoubleLE(0) });
      i += 8;
    } else if (wire === 2) {
      const n = varint();
      out.push({ field, value: buf.subarray(i, i + n) });
      i += n;
    } else if (wire === 5) {
      out.push({ field, value: Buffer.from(buf.subarray(i, i + 4)).readFloatLE(0) });
      i += 4;
    } else throw new RangeError(`sparkplug: unsupported wire type ${wire}`);
  }
  return out;
}
