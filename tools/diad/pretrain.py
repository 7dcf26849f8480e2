"""Pretrains the base model (autoencoder, then UNet) on a broad image corpus: our stand-in for Stable Diffusion.

    python3 -m tools.diad.pretrain --corpus .data/corpus --out runs/base [--config tiny --image-size 256] \
        [--ae-minutes 30 --unet-minutes 60] [--ae-steps N --unet-steps N] [--threads 1] [--save-minutes 4]

Resumable: rerun the same command (with larger budgets to train longer; a finished stage continues when its step or
minute budget is raised). Writes <out>/checkpoint.pt (full, with optimiser state) every --save-minutes and
<out>/base.pt (model only) after each stage, <out>/train.log (JSON lines) and <out>/history.csv (stage, step,
loss, seconds). `python3 -m tools.diad.train --init-base <out>/base.pt` starts a line's DiAD training from it.

  ae    KL autoencoder on random crops of the corpus tiles (L1 + frozen MobileNetV2 feature-cosine + 1e-6 KL, as
        train.py); then the latent scale is set to 1/std of the corpus latents and kept by every line model
  unet  the UNet alone, eps-prediction over all 1000 steps (as SD's pretraining), on the cached posteriors of the
        whole tiles (the encoder runs once per tile, not per step), random latent crops and flips
"""

import argparse
import csv
import json
import os
import sys
import time

import numpy as np
import torch

from . import checkpoint as C
from .config import get_config
from .data import IMAGE_EXT, list_categories
from .features import IMAGENET_MEAN, IMAGENET_STD, build_features
from .model import DiAD
from .train import lr_at, perceptual

STAGES = ("ae", "unet")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", help="MVTec-layout folder of tiles (tools.diad.corpus); required to train")
    p.add_argument("--out", required=True)
    p.add_argument("--config", default="tiny")
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--max-images", type=int, default=0, help="use at most this many tiles (0: all)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--ae-crop", type=int, default=96)
    p.add_argument("--unet-crop", type=int, default=0, help="latent crop for the UNet stage (0: whole latent)")
    p.add_argument("--ae-steps", type=int, default=100000)
    p.add_argument("--unet-steps", type=int, default=100000)
    p.add_argument("--ae-minutes", type=float, default=30)
    p.add_argument("--unet-minutes", type=float, default=60)
    p.add_argument("--lr-ae", type=float, default=1e-3)
    p.add_argument("--lr-unet", type=float, default=5e-4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-minutes", type=float, default=4)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--init-base", metavar="CKPT",
                   help="start a new run folder from a base (base.pt or the committed base.pt8): its autoencoder, UNet, "
                        "latent scale and step counts are kept and the UNet stage goes on (the autoencoder is final)")
    p.add_argument("--compact-to", metavar="DIR",
                   help="no training: write the latest <out>/checkpoint.pt as DIR/base.pt8 (int8, what is committed "
                        "under models/) with DIR/history.csv and DIR/training.json; safe while a run is going on")
    return p.parse_args(argv)


def plot_history(csv_path, png_path, width=640, height=240):
    """One panel per stage: loss against step (PIL only, no plotting library here)."""
    from PIL import Image, ImageDraw

    rows = list(csv.DictReader(open(csv_path)))
    stages = [s for s in STAGES if any(r["stage"] == s for r in rows)]
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    pw = width // max(1, len(stages))
    for i, st in enumerate(stages):
        pts = [(int(r["step"]), float(r["loss"])) for r in rows if r["stage"] == st]
        x0, y0, x1, y1 = i * pw + 45, 20, (i + 1) * pw - 10, height - 25
        d.rectangle([x0, y0, x1, y1], outline="black")
        lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
        smax = max(p[0] for p in pts)
        xy = [(x0 + (x1 - x0) * s / smax, y1 - (y1 - y0) * (v - lo) / max(1e-9, hi - lo)) for s, v in pts]
        if len(xy) > 1:
            d.line(xy, fill="blue", width=1)
        d.text((x0, 4), f"{st}: loss vs step (0..{smax})", fill="black")
        d.text((x0 - 42, y0), f"{hi:.3g}", fill="black")
        d.text((x0 - 42, y1 - 10), f"{lo:.3g}", fill="black")
    img.save(png_path, optimize=True)


def compact(out, to):
    os.makedirs(to, exist_ok=True)
    ckpt = torch.load(os.path.join(out, "checkpoint.pt"), map_location="cpu")
    if ckpt["steps"]["unet"] == 0:
        print(json.dumps({"warning": "the UNet stage has not started: the base holds an untrained UNet"}))
    base = base_checkpoint(ckpt)
    C.save_compact(os.path.join(to, "base.pt8"), base)
    import shutil

    shutil.copy(os.path.join(out, "history.csv"), os.path.join(to, "history.csv"))
    rec = {"steps": ckpt["steps"], "seconds": ckpt["seconds"], "hours": round(sum(ckpt["seconds"].values()) / 3600, 2),
           "latentScale": ckpt["config"]["scale_factor"], "imageSize": ckpt["config"]["image_size"],
           "training": {k: v for k, v in ckpt["training"].items() if k not in ("sources", "corpus")}}  # fmt: skip
    plot_history(os.path.join(to, "history.csv"), os.path.join(to, "loss.png"))
    with open(os.path.join(to, "training.json"), "w") as f:
        json.dump(rec, f, indent=1)
    print(json.dumps({"compact": os.path.join(to, "base.pt8"), "bytes": os.path.getsize(os.path.join(to, "base.pt8")),
                      **rec}))  # fmt: skip


def load_tiles(root, size, max_images=0):
    """uint8 N x 3 x size x size (a 256² tile is 192 KB)."""
    from PIL import Image

    paths = []
    for cat in list_categories(root):
        d = os.path.join(root, cat, "train", "good")
        paths += sorted(os.path.join(d, f) for f in os.listdir(d) if f.lower().endswith(IMAGE_EXT))
    if max_images:
        rng = np.random.default_rng(0)
        paths = [paths[i] for i in sorted(rng.choice(len(paths), min(max_images, len(paths)), replace=False))]
    out = torch.empty(len(paths), 3, size, size, dtype=torch.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            im = im.convert("RGB")
            if im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            out[i] = torch.from_numpy(np.asarray(im).transpose(2, 0, 1).copy())
    return out


_MEAN = torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)


def normalise(u8):
    return (u8.float() / 255.0 - _MEAN) / _STD


def crop_batch(data, n, size, gen):
    """n random crops of `size` (whole items when size is 0 or too large), random horizontal flips."""
    idx = torch.randint(0, data.shape[0], (n,), generator=gen)
    full = data.shape[-1]
    size = size if size and size < full else full
    out = []
    for i in idx.tolist():
        y, x = (int(v) for v in torch.randint(0, full - size + 1, (2,), generator=gen))
        item = data[i, :, y : y + size, x : x + size]
        if float(torch.rand(1, generator=gen)) < 0.5:
            item = item.flip(-1)
        out.append(item)
    return torch.stack(out)


@torch.no_grad()
def encode_all(model, tiles, batch=16):
    means, logvars = [], []
    for i in range(0, tiles.shape[0], batch):
        m, lv = model.first_stage_model.encode(normalise(tiles[i : i + batch]))
        means.append(m)
        logvars.append(lv)
    return torch.cat(means), torch.cat(logvars)


def base_checkpoint(ckpt):
    """The model-only checkpoint a line starts from (no optimiser, no SG network weights)."""
    keep = ("first_stage_model.", "model.diffusion_model.", "context")
    base = {k: v for k, v in ckpt.items() if k not in ("optim", "rng", "latents")}
    base["model"] = {k: v for k, v in ckpt["model"].items() if k.startswith(keep)}
    base["stage"] = "base"
    return base


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.compact_to:
        return compact(args.out, args.compact_to)
    if not args.corpus:
        raise SystemExit("--corpus: required to train")
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "train.log"), "a")

    def emit(rec):
        line = json.dumps(rec)
        print(line, file=log, flush=True)
        print(line, flush=True)

    ck_path = os.path.join(args.out, "checkpoint.pt")
    if os.path.exists(ck_path):
        ckpt = torch.load(ck_path, map_location="cpu")
        cfg = ckpt["config"]
        model = DiAD(cfg)
        model.load_state_dict(ckpt["model"], strict=True)
        emit({"resume": ck_path, "stage": ckpt["stage"], "steps": ckpt["steps"]})
    elif args.init_base:
        base = C.load_base(args.init_base)
        cfg = base["config"]
        model = DiAD(cfg, context=base["context"])
        C.load_parts(model, base["state_dict"], C.BASE_PREFIXES)
        raw = torch.load(args.init_base, map_location="cpu")
        ckpt = C.new_checkpoint(cfg)
        ckpt.update(stage="unet", steps=dict(raw["steps"]), seconds=dict(raw["seconds"]), base=True,
                    history=raw.get("history", {}), model=model.state_dict())  # fmt: skip
        ckpt["steps"]["ae"] = max(1, ckpt["steps"]["ae"])
        emit({"init_base": args.init_base, "steps": ckpt["steps"]})
    else:
        cfg = get_config(args.config, image_size=args.image_size)
        model = DiAD(cfg)
        ckpt = C.new_checkpoint(cfg)
        ckpt.update(stage="ae", steps={"ae": 0, "unet": 0}, seconds={"ae": 0.0, "unet": 0.0}, base=True)
    model.scale_factor = cfg["scale_factor"]
    t0 = time.time()
    tiles = load_tiles(args.corpus, cfg["image_size"], args.max_images)
    corpus_rec = os.path.join(args.corpus, "corpus.json")
    ckpt["training"] = {"corpus": os.path.abspath(args.corpus), "tiles": int(tiles.shape[0]), "batch": args.batch,
                        "aeCrop": args.ae_crop, "unetCrop": args.unet_crop, "lr": {"ae": args.lr_ae, "unet": args.lr_unet},
                        "sources": json.load(open(corpus_rec))["sources"] if os.path.exists(corpus_rec) else None}  # fmt: skip
    emit({"tiles": int(tiles.shape[0]), "load_s": round(time.time() - t0, 1), "threads": args.threads})
    features = build_features(ckpt["features"]["network"], None, ckpt["features"]["layers"])
    hist_path = os.path.join(args.out, "history.csv")
    new_hist = not os.path.exists(hist_path)
    hist = open(hist_path, "a", newline="")
    hw = csv.writer(hist)
    if new_hist:
        hw.writerow(["stage", "step", "loss", "seconds"])

    def save():
        ckpt["model"] = model.state_dict()
        C.save(ck_path, ckpt)
        hist.flush()

    for si, stage in enumerate(STAGES):
        if STAGES.index(ckpt["stage"]) > si and ckpt["steps"][stage] > 0:
            # a later stage has started: an earlier one does not run again (its latents would change)
            continue
        limit_steps = args.ae_steps if stage == "ae" else args.unet_steps
        limit_s = 60 * (args.ae_minutes if stage == "ae" else args.unet_minutes)
        gen = torch.Generator().manual_seed(args.seed * 1000 + si)
        if stage == "ae":
            params = list(model.first_stage_model.parameters())
            lr = args.lr_ae
        else:
            params = list(model.unet.parameters())
            lr = args.lr_unet
        model.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4 if stage == "ae" else 0.0)
        if ckpt["stage"] == stage and ckpt.get("optim") is not None:
            opt.load_state_dict(ckpt["optim"])
            gen.set_state(ckpt["rng"])
        if ckpt["stage"] != stage:
            ckpt.update(stage=stage, optim=None, rng=None)
        if stage == "unet":
            if "latents" not in ckpt:
                t1 = time.time()
                model.eval()
                mean, logvar = encode_all(model, tiles)
                z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen)
                scale = 1.0 / float(z.std())
                cfg["scale_factor"] = ckpt["config"]["scale_factor"] = scale
                ckpt["latents"] = {"mean": mean.half(), "logvar": logvar.half()}
                emit({"stage": "ae", "latent_scale": scale, "encode_s": round(time.time() - t1, 1)})
                save()
            model.scale_factor = cfg["scale_factor"]
            post = torch.cat([ckpt["latents"]["mean"].float(), ckpt["latents"]["logvar"].float()], 1)
        model.train()
        step = start = ckpt["steps"][stage]
        window = []
        t_last_save = time.time()
        t_run = time.time()
        spent0 = ckpt["seconds"][stage]
        while step < limit_steps:
            spent = spent0 + (time.time() - t_run)
            if spent >= limit_s:
                break
            frac = max(step / limit_steps, spent / limit_s)
            for g in opt.param_groups:
                g["lr"] = lr_at(lr, step, frac, warmup=50)
            if stage == "ae":
                x = normalise(crop_batch(tiles, args.batch, args.ae_crop, gen))
                noise = torch.randn(x.shape[0], 4, x.shape[2] // 8, x.shape[3] // 8, generator=gen)
                recon, mean, logvar = model.first_stage_model(x, noise)
                kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
                loss = (recon - x).abs().mean() + perceptual(features, x, recon) + 1e-6 * kl
            else:
                pl = crop_batch(post, args.batch, args.unet_crop, gen)
                mean, logvar = pl[:, :4], pl[:, 4:]
                z0 = model.scale_factor * (mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen))
                loss = model.diffusion_loss(z0, None, use_control=False, generator=gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            window.append(float(loss))
            ckpt["steps"][stage] = step
            ckpt["seconds"][stage] = round(spent0 + (time.time() - t_run), 1)
            if step % args.log_every == 0:
                rec = {"stage": stage, "step": step, "loss": round(float(np.mean(window)), 5),
                       "s_per_step": round((time.time() - t_run) / max(1, step - start), 3),
                       "seconds": ckpt["seconds"][stage], "lr": round(opt.param_groups[0]["lr"], 7)}  # fmt: skip
                window = []
                hw.writerow([stage, step, rec["loss"], rec["seconds"]])
                ckpt["history"].setdefault(stage, []).append([step, rec["loss"]])
                emit(rec)
            if time.time() - t_last_save >= 60 * args.save_minutes:
                ckpt.update(optim=opt.state_dict(), rng=gen.get_state())
                save()
                t_last_save = time.time()
        ckpt.update(optim=opt.state_dict(), rng=gen.get_state())
        save()
        C.save(os.path.join(args.out, "base.pt"), base_checkpoint(ckpt))
        emit({"stage": stage, "done_steps": step, "seconds": ckpt["seconds"][stage]})
    emit({"done": os.path.join(args.out, "base.pt"), "steps": ckpt["steps"], "seconds": ckpt["seconds"]})


if __name__ == "__main__":
    main()
