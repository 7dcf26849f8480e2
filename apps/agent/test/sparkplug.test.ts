import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from '../src/mqtt/sparkplug.js';

// Eclipse Tahu's JavaScript implementation (its own code generated from the official sparkplug_b.proto), as an
// independent reader and writer of Sparkplug B payloads.
const tahu = createRequire(import.meta.url)('sparkplug-payload').get('spBv1.0') as {
  encodePayload(p: object): Uint8Array;
  decodePayload(b: Uint8Array): {
    timestamp?: unknown;
    seq?: unknown;
    metrics?: Array<{
      name?: string;
      alias?: unknown;
      type: string;
      value: unknown;
      isNull?: boolean;
      timestamp?: unknown;
    }>;
  };
};
const num = (v: unknown) => (v === undefined || v === null ? v : Number(v));

describe('Sparkplug B payloads against Eclipse Tahu (sparkplug-payload)', () => {
  it('Tahu reads what the agent writes: births with names and aliases, data by alias, nulls, Int64 bdSeq', () => {
    const bytes = encodePayload({
      timestamp: 1764331200123,
      seq: 7,
      metrics: [
        { name: 'bdSeq', type: 'Int64', value: 42 },
        { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
        { name: 'Result/PartId', alias: 1000, type: 'String', value: 'P-7731', timestamp: 1764331200000 },
        { alias: 1004, type: 'Double', value: 0.731 },
        { alias: 1001, type: 'String', value: null },
        { name: 'big', type: 'UInt64', value: 2 ** 40 + 3 },
      ],
    });
    const p = tahu.decodePayload(bytes);
    expect(num(p.timestamp)).toBe(1764331200123);
    expect(num(p.seq)).toBe(7);
    const m = p.metrics ?? [];
    expect(m.map((x) => [x.name, num(x.alias), x.type])).toEqual([
      ['bdSeq', undefined, 'Int64'],
      ['Node Control/Rebirth', undefined, 'Boolean'],
      ['Result/PartId', 1000, 'String'],
      [undefined, 1004, 'Double'],
      [undefined, 1001, 'String'],
      ['big', undefined, 'UInt64'],
    ]);
    expect(num(m[0].value)).toBe(42);
    expect(m[1].value).toBe(false);
    expect(m[2].value).toBe('P-7731');
    expect(num(m[2].timestamp)).toBe(1764331200000);
    expect(m[3].value).toBeCloseTo(0.731, 12);
    expect(m[4].value).toBeNull(); // is_null set: Tahu gives value null
    expect(num(m[5].value)).toBe(2 ** 40 + 3);
  });

  it('the agent reads what Tahu writes: an NCMD rebirth request', () => {
    const bytes = tahu.encodePayload({
      timestamp: 1764331200000,
      metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }],
    });
    expect(decodePayload(bytes)).toEqual({
      timestamp: 1764331200000,
      metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }],
    });
  });

  it('writes a null metric as Tahu does (is_null), and the same bytes as Tahu for the same payload', () => {
    const nullMetric = { timestamp: 1, metrics: [{ name: 'n', type: 'String' as const, value: null }] };
    expect(Buffer.from(encodePayload(nullMetric)).toString('hex')).toBe(
      Buffer.from(tahu.encodePayload(nullMetric)).toString('hex'),
    );
    const metrics = [
      { name: 'bdSeq', type: 'Int64' as const, value: 3 },
      { name: 'Result/Score', alias: 1004, type: 'Double' as const, value: 0.5, timestamp: 1764331200000 },
      { name: 'Result/NOK', type: 'Boolean' as const, value: true },
    ];
    const ours = encodePayload({ timestamp: 1764331200001, seq: 1, metrics });
    const theirs = tahu.encodePayload({ timestamp: 1764331200001, seq: 1, metrics });
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
  });
});
