"""PyTorch reference timings for bench/gpu/run.sh: per-image time and peak memory of the DiAD reconstruction +
feature extraction, random weights, fp32 and fp16 (autocast), for one model configuration.

    /usr/bin/python3 bench/gpu/torch_ref.py --config tiny|paper [--device cuda|cpu] [--images 4] [--steps 10]

Prints one JSON line per precision. A precision or device that cannot run prints a line with "skipped" and the
reason (e.g. no CUDA device), so the caller's table always has a row.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=["tiny", "paper", "micro"], default="tiny")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--start-step", type=int, default=50)
    a = ap.parse_args()
    try:
        import torch
        from diad.config import CONFIGS
        from diad.features import ResNetFeatures
        from diad.model import DiAD
    except Exception as e:  # the table still gets its rows
        for p in ("fp32", "fp16"):
            print(json.dumps({"engine": "pytorch", "config": a.config, "precision": p, "skipped": f"cannot import torch/tools: {e}"}))
        return
    if a.device == "cuda" and not torch.cuda.is_available():
        for p in ("fp32", "fp16"):
            print(json.dumps({"engine": "pytorch", "config": a.config, "precision": p, "skipped": "torch.cuda.is_available() is False (no CUDA device or CPU-only torch)"}))
        return
    torch.set_num_threads(os.cpu_count() or 1)
    dev = torch.device(a.device)
    cfg = CONFIGS[a.config]
    torch.manual_seed(0)
    model = DiAD(cfg).eval().to(dev)
    feats = ResNetFeatures("resnet50").eval().to(dev)
    size = cfg["image_size"]
    lat = size // 8
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, size, size, generator=g).to(dev)
    n1 = torch.randn(1, cfg["latent_channels"], lat, lat, generator=g).to(dev)
    n2 = torch.randn(1, cfg["latent_channels"], lat, lat, generator=g).to(dev)
    start = min(a.start_step, cfg["schedule"]["steps"] - 1)
    ref = None
    for precision in ("fp32", "fp16"):
        if precision == "fp16" and dev.type != "cuda":
            print(json.dumps({"engine": "pytorch", "config": a.config, "precision": precision, "device": str(dev), "skipped": "fp16 autocast is measured on CUDA only"}))
            continue
        ctx = torch.autocast(device_type="cuda", dtype=torch.float16) if precision == "fp16" else torch.autocast(device_type="cpu", enabled=False)

        def once():
            with torch.no_grad(), ctx:
                r = model.reconstruct(x, n1, n2, start, a.steps)
                f = feats(r.float())
            return r.float(), f

        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        recon, _ = once()  # warm-up (cuDNN autotuning, allocator)
        times = []
        for _ in range(a.images):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            recon, _ = once()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        row = {
            "engine": "pytorch",
            "config": a.config,
            "precision": precision,
            "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "medianMs": round(times[len(times) // 2], 2),
            "images": a.images,
            "steps": a.steps,
        }
        if dev.type == "cuda":
            row["peakMemMiB"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        if ref is None:
            ref = recon
        else:
            row["maxAbsDiffVsFp32"] = float((recon - ref).abs().max())
        print(json.dumps(row))


if __name__ == "__main__":
    main()
