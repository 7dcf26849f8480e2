"""fp16 ONNX graphs for GPU providers (CUDA, WebGPU): weights and activations in float16, the numerically
sensitive ops in float32, the graph's inputs and outputs unchanged (float32), so a bundle's pipeline runs either.

Kept in float32:
  - normalisations (InstanceNormalization, the core of the exported GroupNorm; LayerNormalization;
    GroupNormalization) and Softmax, Exp/Log/Pow/Sqrt/Reciprocal/ReduceMean (statistics, attention, posterior
    variance), as mixed-precision training keeps them;
  - everything computed from integer inputs before its first Gemm/MatMul/Conv: the sinusoidal timestep embedding
    (t up to 999 times frequencies: fp16 would lose the phase).
A Cast is inserted wherever a tensor crosses between the two precisions. Resize's roi/scales inputs keep their type.

    python3 -m tools.diad.fp16 in.onnx out.onnx      (export --precision fp16 calls convert() on every graph)
"""

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

KEEP_FP32 = {"InstanceNormalization", "LayerNormalization", "GroupNormalization", "Softmax", "LogSoftmax", "Exp", "Log",
             "Pow", "Sqrt", "Reciprocal", "ReduceMean", "ReduceSum", "ReduceSumSquare", "Sin", "Cos", "Erf"}  # fmt: skip
LINEAR = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
# inputs that are not of the node's float type T (index -> keep as is)
FIXED_INPUTS = {"Resize": {1, 2}, "Upsample": {1}}
F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def _float_tensors(model):
    """Names of every float32 tensor in the graph (from shape inference, inputs, initializers, Constant nodes)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    out = {v.name for v in list(g.value_info) + list(g.input) + list(g.output) if v.type.tensor_type.elem_type == F32}
    out |= {t.name for t in g.initializer if t.data_type == F32}
    for n in g.node:
        if n.op_type == "Constant" and any(a.name == "value" and a.t.data_type == F32 for a in n.attribute):
            out.add(n.output[0])
        if n.op_type == "Cast" and any(a.name == "to" and a.i == F32 for a in n.attribute):
            out.add(n.output[0])
    return out


def convert(model, keep=KEEP_FP32):
    """Returns a new ModelProto; `model` is not changed."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    floats = _float_tensors(m)
    inits = {t.name: t for t in g.initializer}
    graph_inputs = {i.name for i in g.input}
    producer = {}
    for n in g.node:
        for o in n.output:
            producer[o] = n

    # integer-derived: float tensors computed only from integer-cast values and constants, up to a linear op
    int_derived = set()
    for n in g.node:
        if n.op_type == "Cast" and n.output[0] in floats and n.input[0] not in floats and n.input[0] not in inits:
            int_derived.add(n.output[0])
        elif n.op_type not in LINEAR:
            fin = [i for i in n.input if i in floats]
            live = [i for i in fin if i not in inits and not (i in producer and producer[i].op_type == "Constant")]
            if live and all(i in int_derived for i in live):
                int_derived.update(o for o in n.output if o in floats)

    mode = {}  # node index -> F16 / F32 / None (Constant and Cast keep their own types)
    dtype = {}  # tensor -> current float type
    for name in graph_inputs:
        if name in floats:
            dtype[name] = F32
    for i, n in enumerate(g.node):
        if n.op_type in ("Constant", "Cast"):
            mode[i] = None
        elif not any(x in floats for x in n.input):  # e.g. ConstantOfShape: its output keeps its own type
            mode[i] = None
        elif n.op_type in keep or any(o in int_derived for o in n.output):
            mode[i] = F32
        else:
            mode[i] = F16

    new_nodes, new_inits = [], []
    casts = {}
    fp16_inits = {}

    def cast(name, to):
        key = (name, to)
        if key not in casts:
            out = f"{name}__{'fp16' if to == F16 else 'fp32'}"
            new_nodes.append(helper.make_node("Cast", [name], [out], to=to, name=f"cast_{out}"))
            casts[key] = out
        return casts[key]

    def as_fp16_init(name):
        if name not in fp16_inits:
            arr = numpy_helper.to_array(inits[name]).astype(np.float16)
            t = numpy_helper.from_array(arr, f"{name}__fp16")
            new_inits.append(t)
            fp16_inits[name] = t.name
        return fp16_inits[name]

    for i, n in enumerate(g.node):
        want = mode[i]
        if want is not None:
            fixed = FIXED_INPUTS.get(n.op_type, set())
            for k, name in enumerate(n.input):
                if not name or k in fixed or name not in floats:
                    continue
                if name in inits:
                    if want == F16:
                        n.input[k] = as_fp16_init(name)
                    continue
                have = dtype.get(name, F32)
                if have != want:
                    n.input[k] = cast(name, want)
            for o in n.output:
                if o in floats:
                    dtype[o] = want
        else:
            for o in n.output:
                if o in floats:
                    dtype[o] = F32
        new_nodes.append(n)

    # graph outputs stay float32
    for out in g.output:
        if out.name in floats and dtype.get(out.name) == F16:
            inner = f"{out.name}__fp16_out"
            for n in new_nodes:
                for k, o in enumerate(n.output):
                    if o == out.name:
                        n.output[k] = inner
                for k, x in enumerate(n.input):
                    if x == out.name:
                        n.input[k] = inner
            new_nodes.append(helper.make_node("Cast", [inner], [out.name], to=F32, name=f"cast_{out.name}_out"))

    used = {x for n in new_nodes for x in n.input}
    kept = [t for t in g.initializer if t.name in used]
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(kept + [t for t in new_inits if t.name in used])
    del g.value_info[:]  # stale float32 annotations
    onnx.checker.check_model(m)
    return m


def stats(model):
    """(fp16 ops, fp32 ops, casts) counted over a converted graph."""
    m = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in list(m.graph.value_info) + list(m.graph.output)}
    f16 = f32 = casts = 0
    for n in m.graph.node:
        if n.op_type == "Cast":
            casts += 1
        elif n.output and types.get(n.output[0]) == F16:
            f16 += 1
        elif n.output and types.get(n.output[0]) == F32:
            f32 += 1
    return {"fp16Ops": f16, "fp32Ops": f32, "casts": casts}


# The feature CNN stays fp32: on models/diad-synth-tiny its fp16 form was off by 1.65 % of the largest activation
# (block_3_expand_relu), against <= 0.1 % for the other graphs, and it is a small share of the work per frame.
FP16_GRAPHS = ("encoder.onnx", "denoiser.onnx", "decoder.onnx")


def convert_bundle_graphs(folder, files, graphs=FP16_GRAPHS):
    """Converts the bundle's encoder, denoiser and decoder in place (external data, if any, is folded in)."""
    import os

    for f in files:
        if f not in graphs:
            continue
        path = os.path.join(folder, f)
        m = convert(onnx.load(path))
        if m.ByteSize() > 2 * 1024**3 - 1:
            raise SystemExit(f"--precision fp16: {f} is still over 2 GB in fp16; export it with external data")
        onnx.save(m, path)
    for f in list(files):  # external weight files of the converted graphs are no longer referenced
        if not f.endswith(".onnx") and f.split(".onnx")[0] + ".onnx" in graphs and os.path.exists(os.path.join(folder, f)):
            os.remove(os.path.join(folder, f))
            files.remove(f)


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    if len(argv) != 2:
        raise SystemExit("usage: python3 -m tools.diad.fp16 in.onnx out.onnx")
    m = convert(onnx.load(argv[0]))
    onnx.save(m, argv[1])
    print(stats(m))


if __name__ == "__main__":
    main()
