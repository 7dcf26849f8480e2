/** Small real ONNX models for registry tests (onnx-proto, the protobufjs build of onnx.proto). */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type onnxProtoTypes from 'onnx-proto';

const require = createRequire(import.meta.url);
const pbRequire = createRequire(createRequire(require.resolve('onnx-proto')).resolve('protobufjs/minimal'));
const protobuf = pbRequire('protobufjs/minimal');
protobuf.util.Long = pbRequire('long');
protobuf.configure();
const { onnx } = require('onnx-proto') as typeof onnxProtoTypes;

const FLOAT = 1;
const UINT8 = 2;

/**
 * An Identity graph from `input` to `output` (float32, batch × 3 × 64 × 64), padded with a random uint8
 * initializer so that the file is about `bytes` long and every call gives different bytes.
 */
export function identityOnnx(bytes = 1500, input = 'x', output = 'y'): Buffer {
  const vi = (name: string) => ({
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }, { dimValue: 64 }, { dimValue: 64 }] },
      },
    },
  });
  const pad = Math.max(16, bytes - 160);
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'diad-control-plane-tests',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: [{ opType: 'Identity', input: [input], output: [output], name: 'id' }],
      input: [vi(input)],
      output: [vi(output)],
      initializer: [{ name: 'pad', dataType: UINT8, dims: [pad], rawData: randomBytes(pad) }],
    },
  });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}
