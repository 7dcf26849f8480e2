"""Golden vectors for the TypeScript parity tests (docs/bundle.md, "Golden vectors").

    python3 -m tools.diad.golden --bundle <dir> --checkpoint <ckpt> --images a.png b.jpg [--seed 0]
        [--append --keys x map_raw map]    # add cases to an existing golden/, with only some intermediates

Each image is copied into golden/ as captured (any size, PNG or JPEG): the reference preprocessing (decode, Pillow's
bilinear resize, normalisation) is part of what the parity tests check. `--presize` stores it already resized to the
model input as PNG instead (the earlier layout).
"""

import argparse
import json
import os
import shutil

import numpy as np
import torch
from PIL import Image

from . import checkpoint as C
from .data import load_image
from .features import build_features
from .inference import detect

ORDER = ["x", "n1", "n2", "mean", "logvar", "z0", "zS"]


def _f32(path, arr):
    a = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
    a.tofile(path)
    return list(a.shape)


# Always written, whatever --keys says: the noise the pipeline injects, and the score.
REQUIRED = ("n1", "n2", "score")


def write_golden(model, features, manifest, images, out_dir, seed=0, presize=False, append=False, only=None):
    """Traces each image through the reference; `only` limits the intermediates written (n1, n2, score always)."""
    os.makedirs(out_dir, exist_ok=True)
    size = manifest["input"]["width"]
    start, steps = manifest["sampler"]["startStep"], manifest["sampler"]["steps"]
    sc = manifest["scoring"]
    scoring = {"sigma": sc["sigma"], "truncate": sc["truncate"], "kernel": sc["poolKernel"], "rounds": sc["poolRounds"]}
    cases = []
    index_path = os.path.join(out_dir, "index.json")
    if append and os.path.isfile(index_path):
        with open(index_path) as f:
            old = json.load(f)
        if (old["startStep"], old["steps"]) != (start, steps):
            raise SystemExit(f"--append: golden/ was written for startStep {old['startStep']}, {old['steps']} steps")
        cases = old["cases"]
    first = len(cases)
    for j, src in enumerate(images):
        i = first + j
        name = f"case{i}"
        if presize:
            image = f"{name}.png"
            with Image.open(src) as im:
                im.convert("RGB").resize((size, size), Image.BILINEAR).save(os.path.join(out_dir, image))
        else:
            image = name + os.path.splitext(src)[1].lower()
            shutil.copyfile(src, os.path.join(out_dir, image))
        with Image.open(os.path.join(out_dir, image)) as im:
            captured = list(im.size)
        x = load_image(os.path.join(out_dir, image), size)[None]
        trace = {}
        case_seed = seed + i
        detect(model, features, x, seed=case_seed, start_step=start, steps=steps, scoring=scoring, trace=trace)
        os.makedirs(os.path.join(out_dir, name), exist_ok=True)
        keys = ORDER + [f"{p}_{k}" for k in reversed(range(steps)) for p in ("eps", "z")]
        keys += ["recon"] + sorted(k for k in trace if k.startswith("feat_")) + ["map_raw", "map", "score"]
        if only:
            keys = [k for k in keys if k in only or k in REQUIRED]
        tensors = {}
        for k in keys:
            v = trace[k]
            v = v.numpy() if isinstance(v, torch.Tensor) else v
            rel = f"{name}/{k}.f32"
            tensors[k] = {"file": rel, "shape": _f32(os.path.join(out_dir, rel), v)}
        cases.append({"name": name, "image": image, "imageSize": captured,
                      "source": "/".join(os.path.normpath(src).split(os.sep)[-4:]), "seed": case_seed,
                      "score": float(trace["score"][0]), "tensors": tensors})  # fmt: skip
    index = {
        "format": "diad-golden",
        "formatVersion": 1,
        "model": manifest["model"]["name"],
        "startStep": start,
        "steps": steps,
        "draws": 1,
        "timesteps": [int(t) for t in _taus(start, steps)],
        "notes": "raw little-endian float32; eps_k/z_k indexed by k of tau_k (visited k = steps-1 .. 0); "
        "n1, n2 drawn from torch.Generator(seed) in that order; one draw (sampler.draws averages the raw maps "
        "of several such runs)",
        "cases": cases,
    }
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump(index, f, indent=2)
    return index


def _taus(start, steps):
    from .schedule import ddim_timesteps

    return ddim_timesteps(start, steps)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", required=True)
    p.add_argument("--checkpoint", required=True, help="the checkpoint the bundle was exported from")
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--features-weights")
    p.add_argument("--context")
    p.add_argument("--out", help="default: <bundle>/golden")
    p.add_argument("--presize", action="store_true", help="store each image resized to the model input (PNG)")
    p.add_argument("--append", action="store_true", help="add the cases to an existing golden/index.json")
    p.add_argument("--keys", nargs="+", help="write only these intermediates (n1, n2 and score always)")
    p.add_argument("--tar", action="store_true", help="(re)write <bundle>.tar including golden/")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    with open(os.path.join(args.bundle, "manifest.json")) as f:
        manifest = json.load(f)
    model, _ = C.load(args.checkpoint, args.context)
    feats = manifest["features"]
    features = build_features(feats["network"], args.features_weights,
                              feats["layers"] if feats["network"] == "mobilenet_v2" else None)  # fmt: skip
    index = write_golden(model, features, manifest, args.images, args.out or os.path.join(args.bundle, "golden"),
                         args.seed, args.presize, args.append, args.keys)  # fmt: skip
    for c in index["cases"]:
        print(f"{c['name']}: {c['source']} score {c['score']:.6f}")
    if args.tar:
        from .bundle import write_tar

        write_tar(args.bundle, args.bundle.rstrip("/") + ".tar")


if __name__ == "__main__":
    main()
