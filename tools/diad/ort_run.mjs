// Test helper for the Python suite: runs one ONNX graph in onnxruntime-node (the runtime the agents use).
// Usage: node tools/diad/ort_run.mjs spec.json
//   spec: { "model": "x.onnx", "inputs": { "<name>": { "file": "a.f32", "shape": [1, 3], "dtype": "float32" } },
//           "outDir": "dir" }
// Inputs are raw little-endian float32 (.f32) or int64 (.i64) files; each output is written to
// <outDir>/<name>.f32 and its shape printed as JSON on stdout.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const session = await ort.InferenceSession.create(spec.model, { executionProviders: ['cpu'] });
const feeds = {};
for (const [name, input] of Object.entries(spec.inputs)) {
  const buf = readFileSync(input.file);
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const data = input.dtype === 'int64' ? new BigInt64Array(bytes) : new Float32Array(bytes);
  feeds[name] = new ort.Tensor(input.dtype ?? 'float32', data, input.shape);
}
const results = await session.run(feeds);
const shapes = {};
for (const [name, tensor] of Object.entries(results)) {
  writeFileSync(join(spec.outDir, `${name}.f32`), Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  shapes[name] = tensor.dims;
}
process.stdout.write(`${JSON.stringify(shapes)}\n`);
