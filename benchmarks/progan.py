"""Progressive GAN cost on this machine: training images per second at every phase of a preset's growth (each
stable resolution and each fade), the cost of one doubling of resolution, and, with ``--full``, the wall time of
whole preset runs.

    python benchmarks/progan.py [--presets mnist-progan mnist-progan-32] [--steps 10] [--full]

For each phase the trainer is placed at a step inside it (the schedule is a function of the step) and times
``--steps`` training steps after 2 warm-up steps, with the preset's own batch, loss (WGAN-GP: a double backward)
and networks. Writes ``benchmarks/results/progan.json`` and prints a table. Not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gankit import load_config, train  # noqa: E402
from gankit.train import Trainer  # noqa: E402


def phases(recipe, horizon: int = 100_000) -> list:
    """[(label, a step in the middle of the phase)] for every stable phase and fade of the growth, and the final
    stable phase."""
    out, start, kind = [], 0, None
    for s in range(horizon):
        lod = recipe.lod_at(s)
        now = "fade" if lod != math.floor(lod) else "stable"
        if kind is not None and (now != kind or s == horizon - 1):
            mid = (start + s) // 2
            recipe.set_step(mid)
            out.append((f"{4 * 2**recipe.level}px {kind}", mid))
            start = s
        kind = now
        if lod == 0 and kind == "stable" and start != s:
            recipe.set_step(s)
            out.append((f"{4 * 2**recipe.level}px stable (final)", s + 10))
            break
    return out


def time_phases(preset: str, steps: int) -> list:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(preset, ["train.sample_every=1000000", "train.checkpoint_every=1000000"])
        t = Trainer(cfg, Path(tmp) / "run", progress=False, tensorboard=False)
        try:
            for label, step in phases(t.recipe):
                t.step = step
                for _ in range(2):
                    t.train_step()
                t0 = time.perf_counter()
                for _ in range(steps):
                    t.train_step()
                seconds = (time.perf_counter() - t0) / steps
                batch = t.recipe.batch_size(t.recipe.level)
                rows.append({"preset": preset, "phase": label, "ms_per_step": 1e3 * seconds, "img_per_s": batch / seconds,
                             "batch": batch})
        finally:
            t.close()
    stable = [r for r in rows if "stable" in r["phase"]]
    for a, b in zip(stable, stable[1:]):
        b["cost_vs_previous_resolution"] = b["ms_per_step"] / a["ms_per_step"]
    return rows


def full_run(preset: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run = train(load_config(preset), Path(tmp) / "run", progress=False, tensorboard=False)
        return {"preset": preset, "steps": run.step, "wall_s": time.perf_counter() - t0}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["mnist-progan", "mnist-progan-32"])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--full", action="store_true", help="also train every preset in full and record its wall time")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "progan.json"))
    args = p.parse_args(argv)
    rows = [r for preset in args.presets for r in time_phases(preset, args.steps)]
    runs = [full_run(preset) for preset in args.presets] if args.full else []
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "torch": torch.__version__, "load": os.getloadavg()},
              "phases": rows, "full_runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print("| preset | phase | batch | ms/step | img/s | x previous size |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        ratio = r.get("cost_vs_previous_resolution")
        print(f"| {r['preset']} | {r['phase']} | {r['batch']} | {r['ms_per_step']:.1f} | {r['img_per_s']:.0f} | "
              f"{'' if ratio is None else f'{ratio:.1f}x'} |")
    for r in runs:
        print(f"{r['preset']}: {r['steps']} steps in {r['wall_s']:.0f} s wall")
    print(f"load average {os.getloadavg()}; wrote {args.out}")


if __name__ == "__main__":
    main()
