/**
 * The hostile corpus: what an attacker or a careless client sends to any interface. Shared by the control plane's
 * walk over every HTTP route and MQTT topic (apps/control-plane/test/e2e/hostile-corpus.test.ts) and the agent's
 * walk over its frame endpoint, hot folder and OPC UA methods (apps/agent/test/hostile-corpus.test.ts); a new
 * entry here reaches every interface at once.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** Text values for path segments, query values and JSON string fields. */
export const hostileStrings: Array<{ id: string; value: string }> = [
  { id: 'empty', value: '' },
  { id: 'oversized', value: 'A'.repeat(100_000) },
  { id: 'nul', value: 'part\u0000id' },
  { id: 'control', value: 'a\u0001\u001b[31mred\r\nx' },
  { id: 'lone-surrogate', value: 'x\ud800y' },
  { id: 'traversal', value: '../../../../etc/passwd' },
  { id: 'traversal-encoded', value: '..%2f..%2f..%2fetc%2fpasswd' },
  { id: 'absolute', value: '/etc/shadow' },
  { id: 'windows', value: 'C:\\Windows\\system32\\config' },
  { id: 'sql', value: "' OR 1=1; DROP TABLE results; --" },
  { id: 'huge-number', value: '1e400' },
  { id: 'int8-overflow', value: '99999999999999999999999' },
  { id: 'negative', value: '-1' },
  { id: 'year', value: '2020' },
  { id: 'far-time', value: '9999-12-31T23:59:59Z' },
  { id: 'nan', value: 'NaN' },
  { id: 'uuid-like', value: '--------------------------------0000' },
  { id: 'proto', value: '__proto__' },
];

/** JSON values of the wrong type or shape, for every body field. */
export const hostileValues: Array<{ id: string; value: unknown }> = [
  ...hostileStrings.map((s) => ({ id: `string:${s.id}`, value: s.value })),
  { id: 'null', value: null },
  { id: 'true', value: true },
  { id: 'zero', value: 0 },
  { id: 'negative-number', value: -1e308 },
  { id: 'huge-number', value: 1e308 },
  { id: 'fraction', value: 0.5 },
  { id: 'array', value: ['a', 1, null] },
  { id: 'object', value: { $ne: null, __proto__: { admin: true } } },
];

/** Raw request bodies (sent as application/json unless said otherwise). */
export function hostileBodies(): Array<{ id: string; body: string | Buffer; type?: string }> {
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  const deepObject = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
  return [
    { id: 'deep-array', body: deep },
    { id: 'deep-object', body: deepObject },
    { id: 'huge-number', body: '{"limit": 1e400, "percent": 1e400, "ttlSeconds": 1e400}' },
    { id: 'truncated', body: '{"name": "x", "a": [1, 2' },
    { id: 'not-json', body: 'hello world', type: 'application/json' },
    { id: 'nul-json', body: '{"name":"a\\u0000b"}' },
    { id: 'array-top', body: '[1,2,3]' },
    { id: 'null-top', body: 'null' },
    { id: 'string-top', body: '"x"' },
    { id: 'proto-pollution', body: '{"__proto__":{"role":"admin"},"constructor":{"prototype":{"x":1}}}' },
    { id: 'binary', body: randomBytes(2048), type: 'application/octet-stream' },
    {
      id: 'xml',
      body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
      type: 'application/xml',
    },
  ];
}

function b64url(v: unknown): string {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
}

/** Bearer tokens that must never authenticate: malformed, unsigned, wrongly signed, expired, another algorithm. */
export function forgedTokens(
  subject = '00000000-0000-7000-8000-000000000000',
): Array<{ id: string; token: string }> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: subject, ver: 0, role: 'admin', iat: now, exp: now + 3600 };
  const hs256 = (payload: unknown, key: string) => {
    const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}`;
    return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
  };
  return [
    { id: 'garbage', token: 'not-a-token' },
    { id: 'alg-none', token: `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.` },
    { id: 'wrong-key', token: hs256(claims, 'guessed-secret') },
    { id: 'empty-key', token: hs256(claims, '') },
    {
      id: 'hs512',
      token: `${b64url({ alg: 'HS512', typ: 'JWT' })}.${b64url(claims)}.${randomBytes(64).toString('base64url')}`,
    },
    { id: 'device-credential-shape', token: `diad_d_${randomBytes(24).toString('base64url')}` },
    { id: 'api-key-shape', token: `diad_k_${randomBytes(24).toString('base64url')}` },
    { id: 'enrolment-shape', token: `diad_e_${randomBytes(24).toString('base64url')}` },
    { id: 'huge', token: 'x'.repeat(60_000) },
  ];
}

const PNG_SIG = Buffer.from('89504e470d0a1a0a', 'hex');

/** Image bytes no decoder should take: empty, truncated, lying headers, not images at all. */
export function corruptImages(): Array<{ id: string; bytes: Buffer }> {
  // An IHDR claiming 100000 × 100000 pixels (a decompression bomb's header), with a bad CRC and no data.
  const ihdr = Buffer.concat([
    Buffer.from('0000000d49484452', 'hex'),
    Buffer.from('000186a0000186a00802000000', 'hex'),
    Buffer.from('00000000', 'hex'),
  ]);
  return [
    { id: 'empty', bytes: Buffer.alloc(0) },
    { id: 'png-signature-only', bytes: PNG_SIG },
    { id: 'png-huge-dimensions', bytes: Buffer.concat([PNG_SIG, ihdr]) },
    { id: 'png-truncated', bytes: Buffer.concat([PNG_SIG, ihdr.subarray(0, 10)]) },
    { id: 'jpeg-truncated', bytes: Buffer.from('ffd8ffe000104a46494600010100000100010000ffdb0043', 'hex') },
    { id: 'ppm-lying-size', bytes: Buffer.from('P6\n100000 100000\n255\nabc') },
    { id: 'ppm-negative', bytes: Buffer.from('P6\n-5 -5\n255\n') },
    { id: 'random', bytes: randomBytes(4096) },
    { id: 'text', bytes: Buffer.from('this is not an image\n') },
  ];
}

/** Message payloads for bus topics (MQTT results and status): none must be stored or applied. */
export function hostilePayloads(): Array<{ id: string; payload: Buffer }> {
  return [
    ...hostileBodies().map((b) => ({ id: `body:${b.id}`, payload: Buffer.from(b.body) })),
    { id: 'empty', payload: Buffer.alloc(0) },
    {
      id: 'oversized',
      payload: Buffer.from(JSON.stringify({ schema: 'diad.result/v1', x: 'A'.repeat(2_000_000) })),
    },
    { id: 'invalid-utf8', payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) },
  ];
}
