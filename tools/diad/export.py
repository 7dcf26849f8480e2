"""Exports a trained DiAD checkpoint (ours or an official one) to the model bundle of docs/bundle.md.

    python3 -m tools.diad.export --checkpoint run/model.pt --out bundles/diad-x [--tar]
        [--name diad-x --version 1.0.0] [--features resnet50 --features-weights r50.pth]
        [--calib-data <MVTec dir>] [--context empty_prompt.npy]
    python3 -m tools.diad.export --random tiny --out bundles/tiny-random --save-checkpoint r.pt  # untrained
"""

import argparse
import json
import os
import sys

import torch

from . import bundle as B
from . import checkpoint as C
from .config import get_config
from .data import list_categories, load_image, train_split
from .features import (
    DEFAULT_MOBILENET_LAYERS,
    DEFAULT_MOBILENET_WEIGHTS,
    FEATURE_NETWORKS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    RESNET_LAYERS,
    build_features,
)
from .inference import MAX_DRAWS, detect_many, latent_shape
from .model import DiAD, perturb_zero_inits
from .scoring import PAPER_SCORING, calibrate, check_scoring

def training_summary(ckpt):
    """The checkpoint's training record plus the steps each stage really ran (a time cap may stop it early).

    A run started with `train --init-from` ran only the DiAD stage: its totals add the earlier run's, and
    `continuedFrom` keeps that run's own record (its dataset, learning rates, ...) without the steps it ran."""
    training = dict(ckpt.get("training", {}))
    planned = training.get("steps")
    if isinstance(planned, dict):
        stopped = ckpt.get("stopped", {})
        training["stepsRun"] = {k: stopped.get(k, v) for k, v in planned.items()}
    if ckpt.get("seconds"):
        training["seconds"] = dict(ckpt["seconds"])
    earlier = training.pop("initFrom", None)
    if earlier:
        before = dict(earlier.get("training", {}))
        ran_before = before.pop("stepsRun", {})
        secs_before = before.pop("seconds", {})
        now = training.get("stepsRun", {})
        training["stepsRun"] = {k: ran_before.get(k, 0) + (now.get(k, 0) if k == "diad" else 0) for k in ("ae", "unet", "diad")}
        training["seconds"] = {k: round(secs_before.get(k, 0) + training.get("seconds", {}).get(k, 0), 1)
                               for k in ("ae", "unet", "diad")}  # fmt: skip
        training["stepsThisRun"] = {"diad": now.get("diad", 0)}
        # this run's plan and learning rates for the stages it skipped are meaningless
        training.pop("steps", None)
        training["lr"] = {"diad": training.get("lr", {}).get("diad")}
        training["continuedFrom"] = before
    return training


def build_manifest(name, version, cfg, ckpt, features, feat_shapes, files, calibration, sampler, scoring=None, draws=1,
                   features_info=None):
    sc = scoring or PAPER_SCORING
    size, lat = cfg["image_size"], cfg["image_size"] // 8
    c = cfg["latent_channels"]
    s = cfg["schedule"]
    img = ["batch", 3, size, size]
    zshape = ["batch", c, lat, lat]
    return {
        "format": "diad-bundle",
        "formatVersion": 1,
        "model": {"name": name, "version": version, "created": B.now_iso(),
                  "description": f"DiAD ({cfg.get('source', cfg['name'])} config) exported by tools/diad"},
        "source": {"config": cfg.get("source", cfg["name"]), "framework": f"torch {torch.__version__.split('a')[0]}",
                   "training": training_summary(ckpt), "stage": ckpt.get("stage")},
        "input": {"width": size, "height": size, "channels": 3, "channelOrder": "RGB",
                  "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "resize": "bilinear"},
        "latent": {"channels": c, "height": lat, "width": lat, "scale": float(cfg["scale_factor"])},
        "schedule": {"type": s["type"], "betaStart": s["beta_start"], "betaEnd": s["beta_end"],
                     "trainSteps": s["steps"]},
        "sampler": {"type": "ddim", "eta": 0, "startStep": sampler[0], "steps": sampler[1],
                    "draws": draws},
        "graphs": {
            "encoder": {"file": "encoder.onnx", "opset": B.OPSET, "inputs": [B._spec("image", img)],
                        "outputs": [B._spec("mean", zshape), B._spec("logvar", zshape)]},
            "denoiser": {"file": "denoiser.onnx", "opset": B.OPSET,
                         "inputs": [B._spec("z_t", zshape), B._spec("t", ["batch"], "int64"), B._spec("hint", img)],
                         "outputs": [B._spec("eps", zshape)]},
            "decoder": {"file": "decoder.onnx", "opset": B.OPSET, "inputs": [B._spec("z", zshape)],
                        "outputs": [B._spec("image", img)]},
            "features": {"file": "features.onnx", "opset": B.OPSET, "inputs": [B._spec("image", img)],
                         "outputs": [B._spec(f"f{i}", ["batch", *sh]) for i, sh in enumerate(feat_shapes)]},
        },
        "features": features_info or {"network": features.network, "layers": features.layer_names,
                                      "weightsSource": features.weights_source or "unspecified"},
        "scoring": {"mapWidth": size, "mapHeight": size, "upsample": "bilinear-align-corners",
                    "sigma": sc["sigma"], "truncate": sc["truncate"],
                    "poolKernel": sc["kernel"], "poolRounds": sc["rounds"]},
        "calibration": calibration,
        "files": files,
    }  # fmt: skip


def export_graphs(model, features, out_dir, external="auto"):
    cfg = model.cfg
    size = cfg["image_size"]
    x = torch.randn(2, 3, size, size)
    z = torch.randn(latent_shape(cfg, 2))
    t = torch.tensor([901, 1], dtype=torch.long)
    files = []
    files += B.export_graph(B.EncoderGraph(model.first_stage_model).eval(), (x,), os.path.join(out_dir, "encoder.onnx"),
                            ["image"], ["mean", "logvar"], external)  # fmt: skip
    files += B.export_graph(model.denoiser().eval(), (z, t, x), os.path.join(out_dir, "denoiser.onnx"),
                            ["z_t", "t", "hint"], ["eps"], external)  # fmt: skip
    files += B.export_graph(B.DecoderGraph(model.first_stage_model).eval(), (z,), os.path.join(out_dir, "decoder.onnx"),
                            ["z"], ["image"], external)  # fmt: skip
    names = [f"f{i}" for i in range(len(features.layer_names))]
    files += B.export_graph(features.eval(), (x,), os.path.join(out_dir, "features.onnx"), ["image"], names, external)
    with torch.no_grad():
        shapes = [tuple(f.shape[1:]) for f in features(x[:1])]
    return files, shapes


def calibration_paths(args, ckpt):
    """The calibration image paths (checked to exist), or None when none were asked for."""
    if args.calib_data:
        try:
            cats = args.categories or list_categories(args.calib_data)
            _, held = train_split(args.calib_data, cats, seed=ckpt.get("training", {}).get("seed", 0))
            if not held:
                _, held = train_split(args.calib_data, cats, holdout_fraction=0.2)
        except FileNotFoundError as e:
            raise SystemExit(f"--calib-data: {e}") from e
        return [p for _, p in held[: args.calib_max]]
    if args.calib_images:
        missing = [p for p in args.calib_images if not os.path.isfile(p)]
        if missing:
            raise SystemExit(f"--calib-images: no file {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        return list(args.calib_images)
    return None


def load_calibration_images(paths, size):
    images = []
    for p in paths:
        try:
            images.append(load_image(p, size))
        except ValueError as e:
            raise SystemExit(f"calibration: {e}") from e
    return images


# What the official DiAD code scores with (test.py: timm.create_model("resnet50", features_only=True), features 1-3).
OFFICIAL_FEATURES = ("resnet50", list(RESNET_LAYERS))


def resolve_features(args, ckpt):
    """(network, layers) for this export; refuses an official checkpoint scored with another network."""
    fcfg = ckpt.get("features", {})
    official = ckpt.get("stage") == "official"
    default = OFFICIAL_FEATURES[0] if official else fcfg.get("network", "mobilenet_v2")
    network = args.features or default
    if network not in FEATURE_NETWORKS:
        raise SystemExit(f"--features: expected one of {', '.join(FEATURE_NETWORKS)}, got {network!r}")
    if network == "mobilenet_v2":
        layers = args.feature_layers or fcfg.get("layers") or list(DEFAULT_MOBILENET_LAYERS)
    else:
        layers = args.feature_layers or list(RESNET_LAYERS)
        if list(layers) != list(RESNET_LAYERS):
            raise SystemExit(f"--feature-layers: {network} features are {' '.join(RESNET_LAYERS)}, got {' '.join(layers)}")
    if official and (network, list(layers)) != OFFICIAL_FEATURES and not args.allow_feature_mismatch:
        raise SystemExit(
            f"--features {network} {' '.join(layers)}: an official DiAD checkpoint was trained and evaluated with "
            f"{OFFICIAL_FEATURES[0]} {' '.join(OFFICIAL_FEATURES[1])} (its test.py); pass --features resnet50 "
            "--features-weights <ResNet50 state_dict>, or --allow-feature-mismatch to score it with another network"
        )  # fmt: skip
    if network != "mobilenet_v2" and not args.features_weights:
        raise SystemExit(f"--features {network}: needs --features-weights <ImageNet {network} state_dict (.pth)>")
    if args.features_weights and not os.path.isfile(args.features_weights):
        raise SystemExit(f"--features-weights: no file {args.features_weights}")
    return network, list(layers)


def features_record(features, weights_path, origin):
    """The manifest's features section: network, layers, and where the weights came from with their sha256."""
    path = weights_path or DEFAULT_MOBILENET_WEIGHTS
    rec = {"network": features.network, "layers": features.layer_names,
           "weightsSource": origin or features.weights_source or "unspecified",
           "weights": {"origin": origin or features.weights_source or "unspecified",
                       "file": os.path.basename(path), "sha256": B.sha256_file(path)}}  # fmt: skip
    return rec


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="tools/diad checkpoint or official DiAD .ckpt")
    src.add_argument("--random", metavar="CONFIG", help="export an untrained model of this config (tests)")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--tar", action="store_true", help="also write <out>.tar")
    p.add_argument("--name", help="model name (default: the output folder name)")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--features", help="mobilenet_v2 (default for our checkpoints), resnet50 (default and required for "
                   "official checkpoints), wide_resnet50_2")
    p.add_argument("--features-weights", help="ImageNet state_dict for resnet features (torchvision or timm key names); "
                   "converted nsfwjs .pt for mobilenet_v2")
    p.add_argument("--features-origin", help="where the feature weights came from, recorded in the manifest "
                   "(e.g. 'timm resnet50.a1_in1k')")
    p.add_argument("--feature-layers", nargs="+", help="mobilenet_v2 layer names (resnet: layer1 layer2 layer3)")
    p.add_argument("--allow-feature-mismatch", action="store_true",
                   help="score an official checkpoint with a network other than its ResNet50 layers 1-3")
    p.add_argument("--official-config", default="paper",
                   help="widths and depths of an official checkpoint (paper; tests use micro)")
    p.add_argument("--context", help="official checkpoints without CLIP weights: empty-prompt context .npy")
    p.add_argument("--calib-data", help="MVTec-layout dir; its held-out train/good images calibrate thresholds")
    p.add_argument("--calib-images", nargs="+", help="normal images to calibrate thresholds on")
    p.add_argument("--calib-max", type=int, default=60)
    p.add_argument("--categories", nargs="+")
    p.add_argument("--start-step", type=int, default=999)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--draws", type=int, default=1,
                   help="reconstructions averaged per frame (default 1 as the paper; more draws, steadier scores)")
    p.add_argument("--sigma", type=float, default=PAPER_SCORING["sigma"], help="anomaly-map blur (paper: 5 at 256 px)")
    p.add_argument("--pool-kernel", type=int, default=PAPER_SCORING["kernel"], help="image-score pooling kernel (paper: 8)")
    p.add_argument("--pool-rounds", type=int, default=PAPER_SCORING["rounds"], help="image-score pooling rounds (paper: 8)")
    p.add_argument("--external-data", choices=["auto", "always", "never"], default="auto")
    p.add_argument("--precision", choices=["fp32", "fp16"], default="fp32",
                   help="fp16: float16 weights and activations for GPU providers, sensitive ops kept fp32, float32 "
                        "inputs/outputs (tools/diad/fp16.py; parity limits in tools/README.md)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-checkpoint", help="with --random: also save the random model as a checkpoint")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        check_scoring(args.sigma, args.pool_kernel, args.pool_rounds)
    except ValueError as e:
        raise SystemExit(str(e)) from e
    if not 1 <= args.draws <= MAX_DRAWS:
        raise SystemExit(f"--draws: expected an integer in [1, {MAX_DRAWS}], got {args.draws}")
    scoring = {"sigma": args.sigma, "truncate": PAPER_SCORING["truncate"], "kernel": args.pool_kernel,
               "rounds": args.pool_rounds}

    # Every input is checked before anything is written: a refusal leaves no half-written bundle behind.
    if args.checkpoint and not os.path.isfile(args.checkpoint):
        raise SystemExit(f"--checkpoint: no file {args.checkpoint}")
    if args.context and not os.path.isfile(args.context):
        raise SystemExit(f"--context: no file {args.context}")
    if args.save_checkpoint and not args.random:
        raise SystemExit("--save-checkpoint: only with --random")
    if args.checkpoint:
        try:
            model, ckpt = C.load(args.checkpoint, args.context, args.official_config)
        except ValueError as e:
            raise SystemExit(str(e)) from e
    else:
        torch.manual_seed(args.seed)
        cfg = get_config(args.random)
        model = DiAD(cfg).eval()
        perturb_zero_inits(model, args.seed)
        ckpt = C.new_checkpoint(cfg)
        ckpt.update(stage="random", training={"note": "untrained random weights, for parity tests only"})
        ckpt["model"] = model.state_dict()
    cfg = model.cfg
    T = cfg["schedule"]["steps"]
    if not 0 <= args.start_step < T:
        raise SystemExit(f"--start-step: expected an integer in [0, {T - 1}], got {args.start_step}")
    if not 1 <= args.steps <= args.start_step + 1:
        raise SystemExit(f"--steps: expected an integer in [1, --start-step + 1 = {args.start_step + 1}], got {args.steps}")
    if ckpt.get("stage") == "official" and args.start_step == T - 1 and T % args.steps:
        print(f"note: the official DiAD sampler takes more than {args.steps} steps when they do not divide {T}; "
              "this bundle takes exactly that many (docs/bundle.md)", file=sys.stderr)  # fmt: skip
    network, layers = resolve_features(args, ckpt)
    paths = calibration_paths(args, ckpt)
    if paths is None and ckpt.get("calibration") is None:
        raise SystemExit("no calibration: pass --calib-data <dir> or --calib-images <files> (the checkpoint has none)")
    if paths is not None and not paths:
        raise SystemExit(f"--calib-data {args.calib_data}: no held-out normal images to calibrate on")
    try:
        features = build_features(network, args.features_weights, layers)
    except (ValueError, RuntimeError, OSError) as e:
        raise SystemExit(f"--features {network}: {e}") from e
    images = load_calibration_images(paths, cfg["image_size"]) if paths else None

    if args.save_checkpoint:
        C.save(args.save_checkpoint, ckpt)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    name = args.name or os.path.basename(out.rstrip("/"))
    files, feat_shapes = export_graphs(model, features, out, args.external_data if args.external_data != "never" else "off")
    if args.precision == "fp16":
        from .fp16 import convert_bundle_graphs

        convert_bundle_graphs(out, files)

    calibration = ckpt.get("calibration")
    if images:
        print(f"calibrating on {len(images)} normal images ...", file=sys.stderr)
        scores, maps = detect_many(model, features, images, seed=args.seed, start_step=args.start_step,
                                   steps=args.steps, scoring=scoring, draws=args.draws)  # fmt: skip
        calibration = calibrate(scores, maps)

    file_info = {f: {"sha256": B.sha256_file(os.path.join(out, f)), "bytes": os.path.getsize(os.path.join(out, f))}
                 for f in files}  # fmt: skip
    manifest = build_manifest(name, args.version, cfg, ckpt, features, feat_shapes, file_info, calibration,
                              (args.start_step, args.steps), scoring, args.draws,
                              features_record(features, args.features_weights, args.features_origin))  # fmt: skip
    if args.precision == "fp16":
        for g in ("encoder", "denoiser", "decoder"):  # the feature CNN stays fp32 (tools/diad/fp16.py)
            manifest["graphs"][g]["precision"] = "fp16"
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"wrote bundle {out}: {', '.join(files)}", file=sys.stderr)
    if args.tar:
        tar_path = out.rstrip("/") + ".tar"
        B.write_tar(out, tar_path)
        print(f"wrote {tar_path}", file=sys.stderr)
    return manifest


if __name__ == "__main__":
    main()
