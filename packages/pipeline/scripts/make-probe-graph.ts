/**
 * Writes the base64 of the provider probe's graph (src/providers/probe-graph.ts): a 1×1 convolution, a ReLU and a
 * global average pool over a 1×4×8×8 input, so a provider must run a real convolution kernel (cuDNN, a TensorRT
 * engine, a WebGPU shader) to pass. Run: npx tsx packages/pipeline/scripts/make-probe-graph.ts
 */
import { buildModel } from '../test/helpers/onnx-builder.js';

const weights = Array.from({ length: 4 * 4 }, (_, i) => ((i % 5) - 2) / 4);
const bytes = buildModel({
  inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 8, 8] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4, 1, 1] }],
  nodes: [
    { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attrs: { kernel_shape: [1, 1] } },
    { op: 'Relu', inputs: ['c'], outputs: ['r'] },
    { op: 'GlobalAveragePool', inputs: ['r'], outputs: ['y'] },
  ],
  initializers: [{ name: 'w', dtype: 'float32', dims: [4, 4, 1, 1], values: weights }],
  opset: 17,
});
process.stdout.write(`${Buffer.from(bytes).toString('base64')}\n`);
