import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOnnx, OnnxCheck } from '../../src/registry/onnx-check.js';
import { identityOnnx } from '../helpers/onnx.js';

const REF = join(import.meta.dirname, '../../../../models/diad-synth-tiny');
const manifest = JSON.parse(readFileSync(join(REF, 'manifest.json'), 'utf8'));
// A PNG signature and IHDR chunk: the start of any PNG file.
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000400000004008020000002583d9c1', 'hex');

describe('OnnxCheck', () => {
  it('reads the reference model’s four graphs, in any chunking, with the inputs and outputs its manifest names', () => {
    for (const [g, spec] of Object.entries(manifest.graphs) as Array<
      [string, { file: string; inputs: { name: string }[]; outputs: { name: string }[] }]
    >) {
      const bytes = readFileSync(join(REF, spec.file));
      const whole = checkOnnx(bytes);
      expect(whole.ok, g).toBe(true);
      if (!whole.ok) continue;
      expect(whole.summary.inputs).toEqual(expect.arrayContaining(spec.inputs.map((t) => t.name)));
      expect(whole.summary.outputs).toEqual(expect.arrayContaining(spec.outputs.map((t) => t.name)));
      expect(whole.summary.nodes).toBeGreaterThan(0);
      const c = new OnnxCheck();
      for (let i = 0; i < bytes.length; i += 4093) c.push(bytes.subarray(i, i + 4093));
      expect(c.finish()).toEqual(whole);
    }
  });

  it('reads a small model byte by byte', () => {
    const bytes = identityOnnx(300);
    const c = new OnnxCheck();
    for (const b of bytes) c.push(Uint8Array.of(b));
    expect(c.finish()).toMatchObject({ ok: true, summary: { inputs: ['x'], outputs: ['y'], nodes: 1 } });
  });

  it('refuses what is not an ONNX model, saying why', () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['empty file', Buffer.alloc(0), /no ir_version/],
      [
        'PNG',
        Buffer.concat([PNG, randomBytes(500)]),
        /wire type|overruns|ends inside|no ir_version|field number 0/,
      ],
      ['JSON', Buffer.from('{"graph": {}}'), /wire type 3/],
      ['truncated model', identityOnnx(3000).subarray(0, 2000), /ends inside/],
      ['ir_version only', Uint8Array.of(0x08, 0x08), /no opset_import/],
    ];
    for (const [what, bytes, why] of cases) {
      const v = checkOnnx(bytes);
      expect(v.ok, what).toBe(false);
      if (!v.ok) expect(v.reason, what).toMatch(why);
    }
    // Random bytes: a thousand tries, none read as a model.
    for (let i = 0; i < 1000; i++) expect(checkOnnx(randomBytes(1500)).ok).toBe(false);
  });
});
