"""Rebuilds a tools/diad checkpoint from an exported bundle's ONNX graphs.

For a bundle whose training checkpoint is gone: with the checkpoint back, the model can be re-exported with other
sampler or scoring settings, evaluated in PyTorch, given new golden vectors, or trained further.

    python3 -m tools.diad.unbundle --bundle models/diad-synth-tiny --out runs/recovered.pt

Most weights keep their names through torch.onnx.export. The exporter turns GroupNorm's affine parameters into
anonymous (C, 1, 1) Mul/Add constants and Linear weights into anonymous transposed MatMul constants; those are matched
to modules by the order they run in. Identical weights are stored once and aliased through Identity nodes. Parameters
no output depends on are dropped by the exporter and keep their initial values. The rebuilt model is then checked against the bundle's golden vectors (written by the original checkpoint), from
the encoder's output through every DDIM step to the reconstruction.
"""

import argparse
import json
import os
import re
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from . import bundle as B
from . import checkpoint as C
from .config import get_config
from .data import load_image
from .inference import latent_shape, reconstruct_images
from .model import DiAD

# Prefix of a parameter in each exported graph's wrapper module -> prefix in DiAD's state dict.
GRAPH_PREFIXES = {
    "encoder": {"ae.": "first_stage_model."},
    "decoder": {"ae.": "first_stage_model."},
    "denoiser": {"unet.": "model.diffusion_model.", "control_model.": "control_model."},
}


def initializer_arrays(g):
    """{name: array} of a graph's weights. The exporter keeps one copy of identical weights (all-zero SFF convs,
    untrained norms) and points the other names at it through Identity nodes; those names are included."""
    arrays = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for node in g.node:
        if node.op_type == "Identity" and node.input[0] in arrays:
            arrays[node.output[0]] = arrays[node.input[0]]
    return arrays


def named_weights(graph_path, prefixes):
    """{state-dict key: array} for the initializers that kept their parameter names."""
    arrays = initializer_arrays(onnx.load(graph_path).graph)
    out = {}
    for name, arr in arrays.items():
        for a, b in prefixes.items():
            if name.startswith(a):
                out[b + name[len(a) :]] = arr
    return out


def anonymous_weights(graph_path, wrapper, example, names, known):
    """The weights the exporter stored under anonymous `onnx::` names: GroupNorm's weight and bias as (C, 1, 1)
    Mul/Add constants, and Linear weights transposed as MatMul constants.

    The scopes in node names skip containers that are never called (the autoencoder's `down.i`), so they cannot
    always name the module; the order can: nodes are written in the order the trace ran them, which is the order
    these modules run in a forward pass. Each match is checked against the module's name and shape."""
    g = onnx.load(graph_path).graph
    arrays = initializer_arrays(g)
    consts = {}  # scope -> {op: array}, in graph order
    for node in g.node:
        anon = [x for x in node.input if x in arrays and x.startswith("onnx::")]
        if node.op_type in ("Mul", "Add", "MatMul") and len(anon) == 1 and "/" in node.name:
            scope = node.name.rsplit("/", 1)[0]
            consts.setdefault(scope, {})[node.op_type] = arrays[anon[0]]
    scopes = [s for s, v in consts.items() if "MatMul" in v or ("Mul" in v and "Add" in v)]
    order = []
    kinds = (torch.nn.GroupNorm, torch.nn.Linear)
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: order.append((n, mod)))
             for n, m in wrapper.named_modules() if isinstance(m, kinds) and names[id(m)] + ".weight" not in known]  # fmt: skip
    try:
        with torch.no_grad():
            wrapper(*example)
    finally:
        for h in hooks:
            h.remove()
    base = os.path.basename(graph_path)
    if len(scopes) != len(order):
        raise ValueError(f"{base}: {len(scopes)} anonymous weight constants for {len(order)} GroupNorm/Linear calls")
    out = {}
    for scope, (name, mod) in zip(scopes, order):
        leaf = re.sub(r"_\d+$", "", scope.rsplit("/", 1)[-1])  # the exporter numbers repeated scope names
        key = names[id(mod)]
        c = consts[scope]
        if isinstance(mod, torch.nn.Linear):
            ok = "MatMul" in c and c["MatMul"].shape == (mod.in_features, mod.out_features)
            if ok:
                out[key + ".weight"] = c["MatMul"].T
        else:
            ok = "Mul" in c and c["Mul"].size == mod.num_channels
            if ok:
                out[key + ".weight"] = c["Mul"].reshape(-1)
                out[key + ".bias"] = c["Add"].reshape(-1)
        if not ok or not name.endswith(leaf):
            raise ValueError(f"{base}: node scope {scope} does not match module {name}")
    return out


def graph_wrappers(model):
    """{graph: (module exported as that graph, example inputs)}, as export.export_graphs builds them."""
    size = model.cfg["image_size"]
    x = torch.zeros(1, 3, size, size)
    z = torch.zeros(latent_shape(model.cfg, 1))
    return {
        "encoder": (B.EncoderGraph(model.first_stage_model).eval(), (x,)),
        "denoiser": (model.denoiser().eval(), (z, torch.tensor([1]), x)),
        "decoder": (B.DecoderGraph(model.first_stage_model).eval(), (z,)),
    }


def unused_parameters(model, wrappers):
    """State-dict keys of parameters that no output of the exported graphs depends on."""
    names = {id(p): n for n, p in model.named_parameters()}
    used = set()
    for wrapper, example in wrappers.values():
        params = [p for p in wrapper.parameters()]
        for p in params:
            p.requires_grad_(True)
        out = wrapper(*example)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        grads = torch.autograd.grad(sum(o.sum() for o in outs), params, allow_unused=True)
        used.update(id(p) for p, g in zip(params, grads) if g is not None)
    return {n for i, n in names.items() if i not in used}


def rebuild(bundle_dir):
    """Returns (model, checkpoint dict) rebuilt from the bundle; raises ValueError when weights are missing."""
    with open(os.path.join(bundle_dir, "manifest.json")) as f:
        manifest = json.load(f)
    config_name = manifest.get("source", {}).get("config")
    try:
        cfg = get_config(config_name)
    except Exception as e:
        raise ValueError(f"--bundle: manifest source.config {config_name!r} is not a tools/diad config: {e}") from e
    # Training measures the latent scale on the data and stores it in the config; the manifest carries it.
    cfg["scale_factor"] = float(manifest["latent"]["scale"])
    model = DiAD(cfg)
    want = model.state_dict()
    names = {id(m): n for n, m in model.named_modules()}
    wrappers = graph_wrappers(model)
    got = {}
    for graph, prefixes in GRAPH_PREFIXES.items():
        path = os.path.join(bundle_dir, manifest["graphs"][graph]["file"])
        got.update(named_weights(path, prefixes))
        wrapper, example = wrappers[graph]
        got.update(anonymous_weights(path, wrapper, example, names, got))
    unused = unused_parameters(model, wrappers)
    state = {}
    missing, wrong = [], []
    for key, ref in want.items():
        if key == "context" or (key not in got and key in unused):
            # context: the config's seeded constant, rebuilt by DiAD(cfg). Unused: parameters no graph output
            # depends on (the SG outputs DiAD leaves unconnected), which the exporter drops; they keep their init.
            state[key] = ref
            continue
        if key not in got:
            missing.append(key)
            continue
        arr = got[key]
        if tuple(arr.shape) != tuple(ref.shape):
            if arr.size == ref.numel():
                arr = arr.reshape(tuple(ref.shape))
            else:
                wrong.append(f"{key} {tuple(arr.shape)} vs {tuple(ref.shape)}")
                continue
        state[key] = torch.from_numpy(np.array(arr, dtype=np.float32))
    if missing or wrong:
        raise ValueError(
            f"--bundle {bundle_dir}: cannot rebuild the model: {len(missing)} weights missing ({missing[:4]}), "
            f"{len(wrong)} of the wrong shape ({wrong[:4]})"
        )
    model.load_state_dict(state, strict=True)
    ckpt = C.new_checkpoint(cfg, {"network": manifest["features"]["network"], "layers": manifest["features"]["layers"]})
    ckpt.update(
        model=model.state_dict(),
        stage="done",
        training={**manifest["source"].get("training", {}), "rebuiltFrom": f"{manifest['model']['name']} {manifest['model']['version']}"},
        calibration=manifest.get("calibration"),
    )
    return model.eval(), ckpt


def check_against_golden(model, bundle_dir):
    """Max |difference| per traced tensor between the rebuilt model and the bundle's golden vectors, which the
    original checkpoint wrote; {} when the bundle has none."""
    index_path = os.path.join(bundle_dir, "golden", "index.json")
    if not os.path.isfile(index_path):
        return {}
    with open(index_path) as f:
        index = json.load(f)
    with open(os.path.join(bundle_dir, "manifest.json")) as f:
        manifest = json.load(f)
    size = manifest["input"]["width"]
    worst = {}
    for case in index["cases"]:
        x = load_image(os.path.join(bundle_dir, "golden", case["image"]), size)[None]
        trace = {}
        with torch.no_grad():
            # The features graph is not rebuilt, so compare up to the reconstruction.
            reconstruct_images(model, x, case["seed"], index["startStep"], index["steps"], trace=trace)
        for key in ["mean", "logvar", "z0", "zS", "recon"] + [k for k in case["tensors"] if k.startswith(("eps_", "z_"))]:
            if key not in trace or key not in case["tensors"]:
                continue
            t = case["tensors"][key]
            ref = np.fromfile(os.path.join(bundle_dir, "golden", t["file"]), dtype="<f4").reshape(t["shape"])
            mine = trace[key].numpy() if isinstance(trace[key], torch.Tensor) else np.asarray(trace[key])
            worst[key] = max(worst.get(key, 0.0), float(np.abs(mine.reshape(ref.shape) - ref).max()))
    return worst


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", required=True, help="bundle directory (manifest.json and ONNX graphs)")
    p.add_argument("--out", required=True, help="checkpoint file to write")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest |diff| allowed against golden/ (default 1e-4)")
    args = p.parse_args(argv)
    if not os.path.isfile(os.path.join(args.bundle, "manifest.json")):
        raise SystemExit(f"--bundle: no manifest.json in {args.bundle}")
    try:
        model, ckpt = rebuild(args.bundle)
    except ValueError as e:
        raise SystemExit(str(e)) from e
    diffs = check_against_golden(model, args.bundle)
    if diffs:
        print("rebuilt model vs golden vectors, max |diff|: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()),
              file=sys.stderr)  # fmt: skip
        bad = {k: v for k, v in diffs.items() if not v <= args.tolerance}
        if bad:
            raise SystemExit(f"--bundle: the rebuilt model does not reproduce the golden vectors: {bad}")
    else:
        print("no golden vectors in the bundle: the rebuilt model is unchecked", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    C.save(args.out, ckpt)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
