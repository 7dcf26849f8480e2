import protobuf from 'protobufjs';
import { SPARKPLUG_B_PROTO } from './sparkplug-proto.js';

/**
 * Sparkplug B payloads through protobufjs and the specification's sparkplug_b.proto. The agent publishes the
 * scalar metric types below; a metric carries its name, or only its alias after a birth certificate declared both.
 */
export const SpDataType = { Int64: 4, UInt64: 8, Double: 10, Boolean: 11, String: 12 } as const;
export type SpDataTypeName = keyof typeof SpDataType;

export interface SpMetric {
  /** Required in birth certificates; may be left out in DATA messages when `alias` is set. */
  name?: string;
  /** Numeric alias, unique within the edge node, declared with the name in NBIRTH/DBIRTH. */
  alias?: number;
  type: SpDataTypeName;
  value: number | boolean | string | null;
  timestamp?: number;
}

export interface SpPayload {
  timestamp: number;
  seq?: number;
  metrics: SpMetric[];
}

const Payload = protobuf
  .parse(SPARKPLUG_B_PROTO, { keepCase: true })
  .root.lookupType('org.eclipse.tahu.protobuf.Payload');
const TYPE_BY_CODE = new Map<number, SpDataTypeName>(
  Object.entries(SpDataType).map(([k, v]) => [v, k as SpDataTypeName]),
);

const VALUE_FIELD: Record<SpDataTypeName, string> = {
  Int64: 'long_value',
  UInt64: 'long_value',
  Double: 'double_value',
  Boolean: 'boolean_value',
  String: 'string_value',
};

function metricMessage(m: SpMetric): Record<string, unknown> {
  const out: Record<string, unknown> = { datatype: SpDataType[m.type] };
  if (m.name !== undefined) out.name = m.name;
  if (m.alias !== undefined) out.alias = m.alias;
  if (m.timestamp !== undefined) out.timestamp = m.timestamp;
  if (m.name === undefined && m.alias === undefined)
    throw new TypeError('sparkplug: a metric needs a name or an alias');
  if (m.value === null) out.is_null = true;
  // Int64 travels as two's complement in the uint64 field (protobufjs writes negative numbers that way).
  else out[VALUE_FIELD[m.type]] = m.value;
  return out;
}

export function encodePayload(p: SpPayload): Uint8Array {
  const msg: Record<string, unknown> = { timestamp: p.timestamp, metrics: p.metrics.map(metricMessage) };
  if (p.seq !== undefined) msg.seq = p.seq;
  return Payload.encode(Payload.fromObject(msg)).finish();
}

/** Decodes a Sparkplug B payload; metric types the agent does not use come back with their raw value. */
export function decodePayload(buf: Uint8Array): SpPayload {
  const o = Payload.toObject(Payload.decode(buf), { longs: Number, defaults: false, oneofs: false }) as {
    timestamp?: number;
    seq?: number;
    metrics?: Array<Record<string, unknown>>;
  };
  const out: SpPayload = { timestamp: o.timestamp ?? 0, metrics: [] };
  if (o.seq !== undefined) out.seq = o.seq;
  for (const m of o.metrics ?? []) {
    const type = TYPE_BY_CODE.get(m.datatype as number) ?? 'String';
    const value =
      m.is_null === true
        ? null
        : ((m.long_value ??
            m.double_value ??
            m.boolean_value ??
            m.string_value ??
            m.int_value ??
            m.float_value ??
            null) as number | boolean | string | null);
    const metric: SpMetric = { type, value };
    if (m.name !== undefined) metric.name = m.name as string;
    if (m.alias !== undefined) metric.alias = m.alias as number;
    if (m.timestamp !== undefined) metric.timestamp = m.timestamp as number;
    out.metrics.push(metric);
  }
  return out;
}
