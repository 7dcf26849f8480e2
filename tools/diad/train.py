"""Trains DiAD on an MVTec-layout folder: one unified model over all categories, as the paper.

    python3 -m tools.diad.train --data <dir> --config tiny --out run/ [--categories a b] [--seed 0]

Stages (each resumable from <out>/checkpoint.pt; rerun the same command to resume):
  ae    autoencoder fine-tune (here: from scratch; L1 + feature-cosine perceptual + 1e-6 KL), then the
        latent scale is set to 1/std of the latents (LDM's scale_by_std) because no SD VAE exists here
  unet  the UNet alone, eps-prediction, all parameters: a stand-in for the Stable Diffusion pretraining
        the paper starts from (skipped with --unet-steps 0 when the UNet is pretrained)
  diad  the paper's training: SG network (initialised from the UNet encoder, ControlNet-style), SFF and
        the UNet decoder blocks + output trained; UNet encoder/middle, autoencoder, context frozen
At the end the held-out normal images (10% of train/good) calibrate the thresholds; <out>/model.pt is the
checkpoint to export.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from . import checkpoint as C
from .config import get_config
from .data import ImageCache, list_categories, load_image, train_split
from .features import build_features
from .inference import detect_many
from .model import DiAD
from .scoring import calibrate, layer_distance

STAGES = ("ae", "unet", "diad")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="MVTec-layout directory")
    p.add_argument("--config", default="tiny", help="tiny, micro or paper")
    p.add_argument("--out", required=True)
    p.add_argument("--categories", nargs="+")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--ae-steps", type=int, default=600)
    p.add_argument("--unet-steps", type=int, default=800)
    p.add_argument("--diad-steps", type=int, default=1200)
    p.add_argument("--lr-ae", type=float, default=1e-3)
    p.add_argument("--lr-unet", type=float, default=5e-4)
    p.add_argument("--lr", type=float, default=2e-4, help="diad stage (paper: 1e-5 on a pretrained SD)")
    p.add_argument("--holdout", type=float, default=0.1)
    p.add_argument("--calib-max", type=int, default=60)
    p.add_argument("--image-size", type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ae-crop", type=int, default=0, help="train the autoencoder on random crops of this size")
    p.add_argument("--max-minutes", type=float, default=0,
                   help="wall-clock cap for the three stages (split 25/30/45%%); a stage ends at its step count or "
                        "its share of the time, and its learning-rate schedule follows whichever is further")
    p.add_argument("--stage-minutes", nargs=3, type=float, metavar=("AE", "UNET", "DIAD"),
                   help="wall-clock cap per stage in minutes (overrides the --max-minutes split)")
    p.add_argument("--t-max", type=int, default=0,
                   help="train the diffusion stages on timesteps below this only (default: all; the paper samples "
                        "all 1000). Inference starting at step S never queries t > S, so a small model can spend "
                        "its capacity where the sampler runs")
    p.add_argument("--init-from", metavar="CKPT",
                   help="start from a finished checkpoint (e.g. one tools.diad.unbundle rebuilt): its autoencoder and "
                        "UNet are kept, and the DiAD stage continues from its SG network for --diad-steps more steps "
                        "with a fresh optimiser and learning-rate schedule")
    p.add_argument("--init-base", metavar="CKPT",
                   help="start a line's training from a pretrained base, as the paper starts from Stable Diffusion: "
                        "the autoencoder, UNet and latent scale of a tools.diad.pretrain base (base.pt or the compact "
                        "base.pt16 committed under models/), or of a Stable Diffusion 1.5 checkpoint in its published "
                        "key layout (first_stage_model.*, model.diffusion_model.*; --config paper). The stages then "
                        "fine-tune from it: --ae-steps / --unet-steps 0 skip them (the paper: AE fine-tuned, UNet kept)")
    p.add_argument("--sff-init-std", type=float, default=0.0,
                   help="initialise the SFF convs from N(0, std^2) when the DiAD stage starts with them all zero. The "
                        "paper's code zero-initialises both the SFF convs and the SG zero convs that feed them, so "
                        "neither gets a gradient and the block never learns; default 0 keeps that behaviour")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="cuda: one GPU per process (under torchrun, the process's LOCAL_RANK)")
    p.add_argument("--amp", action="store_true",
                   help="mixed precision: autocast to fp16 on cuda (with a gradient scaler), bf16 on cpu; weights and "
                        "optimiser stay fp32")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--save-every", type=int, default=200)
    return p.parse_args(argv)


class Progress:
    def __init__(self, plan, log):
        self.plan = plan  # stage -> steps
        self.log = log
        self.t_stage = time.time()
        self.window = []

    def step(self, stage, step, loss, start_step):
        self.window.append(loss)
        total = self.plan[stage]
        if step % self.log_every == 0 or step == total:
            elapsed = time.time() - self.t_stage
            rate = elapsed / max(1, step - start_step)
            later = sum(self.plan[s] for s in STAGES[STAGES.index(stage) + 1 :])
            eta = rate * (total - step) + rate * later
            rec = {"stage": stage, "step": step, "of": total, "loss": float(np.mean(self.window)),
                   "s_per_step": round(rate, 3), "eta_min": round(eta / 60, 1), "time": round(time.time(), 1)}  # fmt: skip
            self.window = []
            print(json.dumps(rec), file=self.log, flush=True)
            return rec
        return None


def perceptual(features, x, r):
    return sum(layer_distance(a, b).mean() for a, b in zip(features(x), features(r)))


def optimizer_for(stage, model, args):
    if stage == "ae":
        params = list(model.first_stage_model.parameters())
        lr = args.lr_ae
    elif stage == "unet":
        params = list(model.unet.parameters())
        lr = args.lr_unet
    else:
        params = list(model.control_model.parameters())
        params += list(model.unet.output_blocks.parameters()) + list(model.unet.out.parameters())
        lr = args.lr
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0 if stage != "ae" else 1e-4)


def lr_at(base, step, frac, warmup=30):
    """Linear warm-up over `warmup` steps, then cosine decay to 10% over the stage's progress `frac`."""
    if step < warmup:
        return base * (step + 1) / warmup
    frac = min(1.0, max(0.0, frac))
    return base * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * frac)))


class Dist:
    """torchrun data parallel: every process draws its own batches; gradients are averaged over processes after
    each backward (one flat all-reduce, DDP's semantics), so the replicas stay identical. Rank 0 logs and saves."""

    def __init__(self, device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = torch.device(f"cuda:{self.local}" if device == "cuda" else "cpu")
        if device == "cuda":
            if not torch.cuda.is_available():
                raise SystemExit("--device cuda: torch sees no CUDA device (torch.cuda.is_available() is False)")
            torch.cuda.set_device(self.device)
        if self.world > 1:
            import torch.distributed as dist

            dist.init_process_group("nccl" if device == "cuda" else "gloo")
            self.dist = dist

    @property
    def main(self):
        return self.rank == 0

    def broadcast_params(self, module):
        if self.world > 1:
            for t in list(module.parameters()) + list(module.buffers()):
                self.dist.broadcast(t.data, 0)

    def average_grads(self, params):
        if self.world == 1:
            return
        params = [p for p in params if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        self.dist.all_reduce(flat)
        flat /= self.world
        i = 0
        for p, g in zip(params, grads):
            p.grad = flat[i : i + g.numel()].view_as(g)
            i += g.numel()

    def any(self, flag):
        """True on every process if it is true on one (so all stop at the same step)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        self.dist.all_reduce(t, op=self.dist.ReduceOp.MAX)
        return bool(t.item())

    def checksum(self, module):
        """Sum of all parameters on each process (rank 0 gets the list): equal values = identical replicas."""
        with torch.no_grad():
            c = torch.stack([p.double().sum() for p in module.parameters()]).sum().reshape(1).to(self.device)
        if self.world == 1:
            return [float(c)]
        out = [torch.zeros_like(c) for _ in range(self.world)]
        self.dist.all_gather(out, c)
        return [float(x) for x in out]

    def close(self):
        if self.world > 1:
            self.dist.destroy_process_group()


def autocast(args, dist):
    if not args.amp:
        import contextlib

        return contextlib.nullcontext()
    if dist.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cpu", dtype=torch.bfloat16)


BUDGET_SHARE = {"ae": 0.25, "unet": 0.30, "diad": 0.45}


def random_crop(x, size, generator):
    if not size or size >= x.shape[-1]:
        return x
    i, j = (int(v) for v in torch.randint(0, x.shape[-1] - size + 1, (2,), generator=generator))
    return x[:, :, i : i + size, j : j + size]


@torch.no_grad()
def set_latent_scale(model, cache, ckpt, generator, dist=None):
    zs = []
    dev = next(model.parameters()).device
    for i in range(0, len(cache), 16):
        mean, logvar = model.first_stage_model.encode(cache.tensors[i : i + 16].to(dev))
        zs.append((mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=generator).to(dev)).cpu())
    std = torch.cat(zs).std().reshape(1).to(dev)
    if dist is not None and dist.world > 1:  # the same scale on every replica (rank 0's)
        dist.dist.broadcast(std, 0)
    std = float(std)
    model.scale_factor = 1.0 / std
    model.cfg["scale_factor"] = ckpt["config"]["scale_factor"] = 1.0 / std
    return 1.0 / std


@torch.no_grad()
def init_sg_from_unet(model):
    """ControlNet/DiAD build_model.py: control_model.<k> <- model.diffusion_model.<k> where the names exist."""
    src = model.unet.state_dict()
    dst = model.control_model.state_dict()
    copied = {k: src[k].clone() for k in dst if k in src and src[k].shape == dst[k].shape}
    model.control_model.load_state_dict(copied, strict=False)
    return len(copied)


@torch.no_grad()
def init_sff(model, std, generator):
    """Draws the SFF convs (down11 .. down33) from N(0, std^2) if they are all zero; returns how many it drew."""
    convs = [getattr(model.control_model, f"down{a}{b}")[0] for a in (1, 2, 3) for b in (1, 2, 3)]
    if any(c.weight.any() for c in convs):
        return 0
    for c in convs:
        c.weight.copy_(std * torch.randn(c.weight.shape, generator=generator))
    return len(convs)


def continue_from(path):
    """(model, checkpoint) for --init-from: a finished model whose DiAD stage runs again for --diad-steps steps."""
    model, src = C.load(path)
    if src.get("stage") != "done":
        raise SystemExit(f"--init-from {path}: expected a finished checkpoint (stage 'done'), got stage {src.get('stage')!r}")
    ckpt = C.new_checkpoint(src["config"], src["features"])
    ckpt.update(model=model.state_dict(), stage="diad", step=0, completed=["ae", "unet"], sgInitialised=True,
                initFrom={"checkpoint": os.path.abspath(path), "training": src.get("training", {})})  # fmt: skip
    return model, ckpt


def from_base(path, config_name="tiny", image_size=None):
    """(model, checkpoint) for --init-base: the autoencoder and UNet of a base (ours or SD 1.5), nothing else."""
    base = C.load_base(path, config_name)
    cfg = base["config"]
    if image_size:
        cfg["image_size"] = image_size
    model = DiAD(cfg, context=base.get("context"))
    n = C.load_parts(model, base["state_dict"], C.BASE_PREFIXES)
    ckpt = C.new_checkpoint(cfg)
    ckpt["initBase"] = {"checkpoint": os.path.abspath(path), "kind": base["kind"], "tensors": n,
                        "training": base.get("training", {})}  # fmt: skip
    return model, ckpt


def run_stage(stage, model, features, cache, ckpt, args, out, progress, log, dist=None):
    dist = dist or Dist("cpu")
    dev = dist.device
    total = progress.plan[stage]
    start = ckpt["step"] if ckpt["stage"] == stage else 0
    if start >= total or stage in ckpt.get("completed", []):
        return
    gen = torch.Generator().manual_seed(args.seed * 1000 + STAGES.index(stage) + 7919 * dist.rank + start)
    opt = optimizer_for(stage, model, args)
    scaler = torch.cuda.amp.GradScaler(enabled=args.amp and dev.type == "cuda")
    if ckpt["stage"] == stage and ckpt.get("optim") is not None:
        opt.load_state_dict(ckpt["optim"])
        if dist.rank == 0:
            gen.set_state(ckpt["rng"])
    elif stage == "diad" and not ckpt.get("sgInitialised"):
        n = init_sg_from_unet(model)
        ckpt["sgInitialised"] = True
        print(json.dumps({"stage": stage, "sg_init_from_unet_tensors": n}), file=log, flush=True)
    if stage == "diad" and args.sff_init_std > 0 and start == 0:
        n = init_sff(model, args.sff_init_std, torch.Generator().manual_seed(args.seed * 1000 + 99))
        print(json.dumps({"stage": stage, "sff_init_std": args.sff_init_std, "sff_convs_initialised": n}), file=log,
                         flush=True)  # fmt: skip
    dist.broadcast_params(model)
    model.train()
    progress.t_stage = time.time()
    history = ckpt["history"].setdefault(stage, [])
    minutes = args.stage_minutes[STAGES.index(stage)] if args.stage_minutes else args.max_minutes * BUDGET_SHARE[stage]
    budget = minutes * 60 - ckpt.get("seconds", {}).get(stage, 0)
    t_start = time.time()
    for step in range(start + 1, total + 1):
        elapsed_frac = (time.time() - t_start) / budget if minutes else 0.0
        frac = max((step - 1) / total, elapsed_frac)
        if dist.any(elapsed_frac >= 1.0):
            print(json.dumps({"stage": stage, "stopped_at_time_budget": step - 1, "of": total}), file=log, flush=True)
            total = step - 1
            ckpt.setdefault("stopped", {})[stage] = total
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(opt.defaults["lr"], step - 1, frac)
        x = cache.batch(args.batch, gen)
        if stage == "ae":
            x = random_crop(x, args.ae_crop, gen)
            noise = torch.randn(x.shape[0], 4, x.shape[2] // 8, x.shape[3] // 8, generator=gen).to(dev)
            x = x.to(dev)
            with autocast(args, dist):
                recon, mean, logvar = model.first_stage_model(x, noise)
                recon, mean, logvar = recon.float(), mean.float(), logvar.float()
                kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
                loss = (recon - x).abs().mean() + perceptual(features, x, recon) + 1e-6 * kl
        else:
            n1 = torch.randn(x.shape[0], 4, x.shape[2] // 8, x.shape[3] // 8, generator=gen).to(dev)
            x = x.to(dev)
            with autocast(args, dist):
                with torch.no_grad():
                    z0, _, _ = model.encode_latent(x, n1)
                loss = model.diffusion_loss(z0.float(), x, use_control=(stage == "diad"), generator=gen,
                                            frozen_encoder=(stage == "diad"), t_max=args.t_max)  # fmt: skip
        trained = [p for g in opt.param_groups for p in g["params"]]
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss.float()).backward()
        dist.average_grads(trained)
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        scaler.step(opt)
        scaler.update()
        rec = progress.step(stage, step, float(loss), start)
        if rec:
            history.append([step, rec["loss"]])
        if (step % args.save_every == 0 or step == total) and dist.main:
            ckpt.update(stage=stage, step=step, model=cpu_state(model), optim=opt.state_dict(), rng=gen.get_state())
            C.save(os.path.join(out, "checkpoint.pt"), ckpt)
    if stage == "ae" and not ckpt.get("initBase"):  # a base's UNet was trained at the base's latent scale
        s = set_latent_scale(model, cache, ckpt, gen, dist)
        print(json.dumps({"stage": "ae", "latent_scale": s}), file=log, flush=True)
    ckpt.setdefault("completed", []).append(stage)
    ckpt.update(stage=stage, step=total, model=cpu_state(model), optim=None, rng=None)
    if dist.main:
        C.save(os.path.join(out, "checkpoint.pt"), ckpt)


def cpu_state(model):
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dist = Dist(args.device)
    out = args.out
    os.makedirs(out, exist_ok=True)
    log = sys.stdout if dist.main else open(os.devnull, "w")
    cats = args.categories or list_categories(args.data)
    train_items, held = train_split(args.data, cats, args.holdout, args.seed)
    ck_path = os.path.join(out, "checkpoint.pt")
    if os.path.exists(ck_path):
        model, ckpt = C.load(ck_path)
        cfg = ckpt["config"]
        print(json.dumps({"resume": ck_path, "stage": ckpt["stage"], "step": ckpt["step"]}), file=log, flush=True)
    elif args.init_base:
        model, ckpt = from_base(args.init_base, args.config, args.image_size)
        cfg = ckpt["config"]
        print(json.dumps({"init_base": args.init_base, "kind": ckpt["initBase"]["kind"],
                          "tensors": ckpt["initBase"]["tensors"]}), file=log, flush=True)  # fmt: skip
    elif args.init_from:
        model, ckpt = continue_from(args.init_from)
        cfg = ckpt["config"]
        print(json.dumps({"init_from": args.init_from, "continue": "diad"}), file=log, flush=True)
    else:
        cfg = get_config(args.config, image_size=args.image_size)
        model = DiAD(cfg)
        ckpt = C.new_checkpoint(cfg)
    model.cfg = cfg
    model.scale_factor = cfg["scale_factor"]
    ckpt["training"] = {"dataset": os.path.abspath(args.data), "categories": cats, "images": len(train_items),
                        "heldOutNormals": len(held), "seed": args.seed, "batch": args.batch,
                        "steps": {"ae": args.ae_steps, "unet": args.unet_steps, "diad": args.diad_steps},
                        "lr": {"ae": args.lr_ae, "unet": args.lr_unet, "diad": args.lr},
                        "tMax": args.t_max or None, "sffInitStd": args.sff_init_std or None}  # fmt: skip
    if ckpt.get("initFrom"):
        ckpt["training"]["initFrom"] = ckpt["initFrom"]
    if ckpt.get("initBase"):
        ckpt["training"]["initBase"] = ckpt["initBase"]
    if dist.world > 1 or args.device != "cpu" or args.amp:
        ckpt["training"]["parallel"] = {"processes": dist.world, "device": args.device, "amp": args.amp}
        print(json.dumps({"processes": dist.world, "device": str(dist.device), "amp": args.amp}), file=log, flush=True)
    features = build_features(ckpt["features"]["network"], None, ckpt["features"]["layers"]).to(dist.device)
    model.to(dist.device)
    t0 = time.time()
    cache = ImageCache(train_items, cfg["image_size"])
    print(json.dumps({"images": len(cache), "held_out": len(held), "categories": cats,
                      "load_s": round(time.time() - t0, 1)}), file=log, flush=True)  # fmt: skip
    plan = {"ae": args.ae_steps, "unet": args.unet_steps, "diad": args.diad_steps}
    progress = Progress(plan, log)
    progress.log_every = args.log_every
    done = STAGES.index(ckpt["stage"]) if ckpt["stage"] in STAGES else -1
    for i, stage in enumerate(STAGES):
        if i < done:
            continue
        t_stage = time.time()
        run_stage(stage, model, features, cache, ckpt, args, out, progress, log, dist)
        ckpt.setdefault("seconds", {})[stage] = ckpt.get("seconds", {}).get(stage, 0) + round(time.time() - t_stage, 1)
    if dist.world > 1:
        sums = dist.checksum(model)
        print(json.dumps({"replica_checksums": sums, "replicas_identical": len(set(sums)) == 1}), file=log, flush=True)
    dist.close()
    if not dist.main:
        return
    model.cpu()
    features.cpu()
    model.eval()
    if held:
        images = [load_image(p, cfg["image_size"]) for _, p in held[: args.calib_max]]
        scores, maps = detect_many(model, features, images, seed=args.seed)
        ckpt["calibration"] = calibrate(scores, maps)
        print(json.dumps({"calibration": ckpt["calibration"]["normalScores"]}), file=log, flush=True)
    ckpt.update(stage="done", optim=None, rng=None, model=model.state_dict())
    C.save(ck_path, ckpt)
    C.save(os.path.join(out, "model.pt"), ckpt)
    print(json.dumps({"done": os.path.join(out, "model.pt"), "seconds": ckpt.get("seconds")}), file=log, flush=True)


if __name__ == "__main__":
    main()
