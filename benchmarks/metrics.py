"""Metric speed: the Fréchet distance from 2048-d statistics, eigen route against scipy.linalg.sqrtm.

    python benchmarks/metrics.py [--dims 512 2048] [--repeats 3]

It also times feature extraction (images/s) per backbone at 64, 128 and 299 px inputs (``--backbones``;
the Inception network runs with random weights when no weights file is present: the speed is the same).
Writes ``benchmarks/results/metrics.json`` and prints a table. Not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gankit.metrics import frechet_distance, frechet_distance_sqrtm  # noqa: E402


def timed(fn, repeats):
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def extraction_speed(args) -> list[dict]:
    """Images/s of backbone.extract for square inputs of each size (the backbone resizes to its own input)."""
    import torch

    from gankit.errors import GankitError
    from gankit.metrics.extractors import build_backbone

    rows = []
    for name in args.backbones:
        for size in args.sizes:
            # EfficientNet runs at the given resolution; Inception always at 299 (the FID protocol).
            try:
                bb = build_backbone(name, input_size=size) if name == "effnet-lite0" else build_backbone(name)
            except GankitError:
                if name != "inception":
                    raise
                from gankit.metrics.inception import InceptionBackbone

                bb = InceptionBackbone(load=False)
            x = torch.rand(args.images, 3, size, size) * 2 - 1
            bb.extract(x[:8])
            t0 = time.perf_counter()
            bb.extract(x, batch_size=32)
            speed = args.images / (time.perf_counter() - t0)
            gflop = flops_per_image(bb, x[:1]) / 1e9
            rows.append({"backbone": name, "input_px": size, "network_px": bb.input_size, "images_per_s": speed,
                         "gflop_per_image": gflop, "gflops": gflop * speed,
                         "percent_of_fp32_peak": 100 * gflop * speed / args.peak if args.peak else None})
    return rows


def flops_per_image(bb, x) -> float:
    """FLOPs of one image through the backbone (preparation excluded), counted by torch's flop counter."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        bb(bb.prepare(x).contiguous(memory_format=torch.channels_last))
    return float(counter.get_total_flops())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dims", type=int, nargs="+", default=[512, 2048])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--backbones", nargs="*", default=["effnet-lite0", "inception"])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 299])
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "metrics.json"))
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = {}
    for d in args.dims:
        # statistics of 2d samples: realistic, full-rank covariances
        a, b = rng.normal(size=(2 * d, d)), rng.normal(size=(2 * d, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
        m1, m2, s1, s2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        t_eig, v_eig = timed(lambda: frechet_distance(m1, s1, m2, s2), args.repeats)
        t_sqrtm, v_sqrtm = timed(lambda: frechet_distance_sqrtm(m1, s1, m2, s2), args.repeats)
        rows[d] = {"eigen_s": t_eig, "sqrtm_s": t_sqrtm, "speedup": t_sqrtm / t_eig, "fd_eigen": v_eig,
                   "fd_sqrtm": v_sqrtm, "relative_difference": abs(v_eig - v_sqrtm) / abs(v_sqrtm)}
    from train_step import matmul_peak  # the same fp32 matmul peak as the training benchmark

    args.peak = matmul_peak(__import__("torch").float32)["peak_gflops"]
    extraction = extraction_speed(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"frechet_distance": rows, "extraction": extraction, "settings": vars(args)}, indent=2))
    print(f"{'dim':>5} {'eigen s':>9} {'sqrtm s':>9} {'speedup':>8} {'rel. diff':>10}")
    for d, r in rows.items():
        print(f"{d:>5} {r['eigen_s']:>9.3f} {r['sqrtm_s']:>9.3f} {r['speedup']:>7.1f}x {r['relative_difference']:>10.1e}")
    print(f"fp32 matmul peak {args.peak:.0f} GFLOP/s")
    print(f"{'backbone':<14} {'input px':>8} {'net px':>7} {'img/s':>8} {'GFLOP/img':>10} {'% peak':>7}")
    for r in extraction:
        print(f"{r['backbone']:<14} {r['input_px']:>8} {r['network_px']:>7} {r['images_per_s']:>8.1f} "
              f"{r['gflop_per_image']:>10.2f} {r['percent_of_fp32_peak']:>6.0f}%")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
