"""DCGAN training-step throughput: gankit's trainer against a plain fp32 PyTorch loop, in one run.

    python benchmarks/train_step.py [--sizes 28 32] [--batch 64] [--steps 20] [--repeats 5] [--variants ...]

For each image size it builds the DCGAN networks of the ``mnist-dcgan`` preset, then times, in
interleaved repeats (so that both see the same machine state):

- ``plain``: a straightforward fp32 loop written here, in the manner of the PyTorch DCGAN example
  (BCE-with-logits; D on real, D on G(z).detach(); G step on D(G(z)) with the same G(z)), and
- ``gankit``: ``Trainer.train_step`` with the preset's defaults, plus any requested variants
  (``nchw``: without the default channels_last layout; ``bf16``: bf16 autocast for the networks).

It counts each step's FLOPs with ``torch.utils.flop_counter`` and measures the fp32 and bf16 matmul
peaks (largest of 1024^2, 2048^2, 4096^2), so the achieved GFLOP/s can be read against them.
Writes ``benchmarks/results/train_step.json`` and prints a table. Not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gankit import load_config  # noqa: E402
from gankit.nets import build_discriminator, build_generator  # noqa: E402
from gankit.train import Trainer  # noqa: E402


def matmul_peak(dtype: torch.dtype, sizes=(1024, 2048, 4096), seconds: float = 1.0, max_single: float = 3.0) -> dict:
    """GFLOP/s of square matmuls; a size whose single product would take over ``max_single`` seconds
    (estimated from the previous size, n^3 scaling) is skipped and recorded as such."""
    out, skipped, last = {}, [], None
    for n in sizes:
        if last is not None and last[1] * (n / last[0]) ** 3 > max_single:
            skipped.append(n)
            continue
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        t0 = time.perf_counter()
        a @ b
        single = time.perf_counter() - t0
        last = (n, single)
        if single > max_single:
            out[n] = 2 * n**3 / single / 1e9
            continue
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds or reps < 2:
            a @ b
            reps += 1
        out[n] = 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9
        last = (n, (time.perf_counter() - t0) / reps)
    return {"per_size_gflops": out, "skipped_sizes": skipped, "peak_gflops": max(out.values())}


class PlainLoop:
    """The reference: the simplest correct fp32 DCGAN step, no gankit machinery."""

    def __init__(self, cfg, shape, data: torch.Tensor, seed: int = 0):
        torch.manual_seed(seed)
        self.g = build_generator(cfg.g, cfg.latent.dim, shape)
        self.d = build_discriminator(cfg.d, shape)
        og, od = cfg.optim["g"], cfg.optim["d"]
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=og.lr, betas=og.betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=od.lr, betas=od.betas)
        self.data, self.batch, self.zdim = data, cfg.train.batch_size, cfg.latent.dim
        self.i = 0

    def step(self):
        n = self.batch
        if self.i + n > len(self.data):
            self.i = 0
        real = self.data[self.i : self.i + n].float() / 127.5 - 1
        self.i += n
        ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)
        self.opt_d.zero_grad()
        fake = self.g(torch.randn(n, self.zdim))
        loss_d = F.binary_cross_entropy_with_logits(self.d(real), ones) + \
            F.binary_cross_entropy_with_logits(self.d(fake.detach()), zeros)
        loss_d.backward()
        self.opt_d.step()
        self.opt_g.zero_grad()
        loss_g = F.binary_cross_entropy_with_logits(self.d(fake), ones)
        loss_g.backward()
        self.opt_g.step()


def count_flops(step) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


def time_steps(step, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


VARIANTS = {
    "gankit": [],  # the defaults: channels_last on
    "gankit-nchw": ["train.channels_last=false"],
    "gankit+bf16": ["train.amp=bf16"],
}


def bench_size(size: int, args, workdir: Path) -> dict:
    base = ["data.name=mnist5k", "data.split=all", f"data.image_size={size}", f"train.batch_size={args.batch}",
            f"g.width={args.width}", f"d.width={args.width}"]
    cfg = load_config("mnist-dcgan", base)
    trainers = {}
    for name in args.variants:
        t = Trainer(load_config("mnist-dcgan", base + VARIANTS[name]), workdir / f"{size}-{name}", overwrite=True,
                    progress=False, tensorboard=False)
        trainers[name] = t
    data = trainers[args.variants[0]].dataset.x
    plain = PlainLoop(cfg, (1, size, size), data)
    runners = {"plain": plain.step, **{k: t.train_step for k, t in trainers.items()}}
    flops = {k: count_flops(fn) for k, fn in runners.items()}
    for fn in runners.values():  # warm-up
        for _ in range(3):
            fn()
    times = {k: [] for k in runners}
    for _ in range(args.repeats):
        for k, fn in runners.items():
            times[k].append(time_steps(fn, args.steps))
    rows = {}
    for k in runners:
        sec = statistics.median(times[k])
        rows[k] = {"sec_per_step": sec, "images_per_s": args.batch / sec, "gflop_per_step": flops[k] / 1e9,
                   "achieved_gflops": flops[k] / sec / 1e9, "all_sec_per_step": times[k]}
    for k in rows:
        rows[k]["speedup_vs_plain"] = rows["plain"]["sec_per_step"] / rows[k]["sec_per_step"]
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[28, 32])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--variants", nargs="+", default=["gankit", "gankit-nchw", "gankit+bf16"],
                   choices=list(VARIANTS))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_step.json"))
    args = p.parse_args(argv)

    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    with tempfile.TemporaryDirectory() as tmp:
        results = {size: bench_size(size, args, Path(tmp)) for size in args.sizes}
    report = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch": torch.__version__, "threads": torch.get_num_threads()},
        "settings": vars(args),
        "matmul_peak_gflops": peaks,
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))

    fp32, bf16 = peaks["fp32"]["peak_gflops"], peaks["bf16"]["peak_gflops"]
    print(f"matmul peak: fp32 {fp32:.1f} GFLOP/s, bf16 {bf16:.1f} GFLOP/s ({torch.get_num_threads()} threads)")
    print(f"{'size':>4} {'variant':<22} {'img/s':>8} {'ms/step':>8} {'GFLOP/step':>10} {'GFLOP/s':>8} "
          f"{'% fp32 peak':>11} {'vs plain':>8}")
    for size, rows in results.items():
        for k, r in rows.items():
            print(f"{size:>4} {k:<22} {r['images_per_s']:>8.0f} {1000 * r['sec_per_step']:>8.1f} "
                  f"{r['gflop_per_step']:>10.2f} {r['achieved_gflops']:>8.1f} {100 * r['achieved_gflops'] / fp32:>10.0f}% "
                  f"{r['speedup_vs_plain']:>7.2f}x")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
