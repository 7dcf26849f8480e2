/** Minimal ONNX model writer for test graphs (onnx-proto / protobufjs). */
import { createRequire } from 'node:module';
import type onnxProtoTypes from 'onnx-proto';

// Under vitest, protobufjs' lazy `inquire('long')` yields an unusable object; give it protobufjs' own `long`.
const require = createRequire(import.meta.url);
const pbRequire = createRequire(require.resolve('protobufjs/minimal'));
const protobuf = pbRequire('protobufjs/minimal');
protobuf.util.Long = pbRequire('long');
protobuf.configure();
const { onnx } = require('onnx-proto') as typeof onnxProtoTypes;
const FLOAT = 1;
const INT64 = 7;

export type Dim = number | string;
export type Attr = number | number[] | string;

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, Attr>;
}

export interface IoSpec {
  name: string;
  dtype: 'float32' | 'int64';
  shape: Dim[];
}

export interface Initializer {
  name: string;
  dtype: 'float32' | 'int64';
  dims: number[];
  values: number[];
  /** Store a float32 tensor's bytes in this sidecar file (ONNX external data) instead of the model. */
  external?: { location: string; offset: number };
}

function valueInfo(io: IoSpec) {
  return {
    name: io.name,
    type: {
      tensorType: {
        elemType: io.dtype === 'float32' ? FLOAT : INT64,
        shape: { dim: io.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: Attr) {
  const AT = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
  if (Number.isInteger(v)) return { name, type: AT.INT, i: v };
  return { name, type: AT.FLOAT, f: v };
}

export function buildModel(spec: {
  inputs: IoSpec[];
  outputs: IoSpec[];
  nodes: NodeSpec[];
  initializers?: Initializer[];
  opset?: number;
}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'diad-pipeline-tests',
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }],
    graph: {
      name: 'g',
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map((t) => {
        if (t.external) {
          return {
            name: t.name,
            dataType: FLOAT,
            dims: t.dims,
            dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
            externalData: [
              { key: 'location', value: t.external.location },
              { key: 'offset', value: String(t.external.offset) },
              { key: 'length', value: String(t.values.length * 4) },
            ],
          };
        }
        return t.dtype === 'float32'
          ? { name: t.name, dataType: FLOAT, dims: t.dims, floatData: t.values }
          : { name: t.name, dataType: INT64, dims: t.dims, int64Data: t.values };
      }),
      node: spec.nodes.map((n, i) => ({
        name: `n${i}_${n.op}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
