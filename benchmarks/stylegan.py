"""StyleGAN's cost on this machine: training images per second (the preset's step: style mixing, lazy R1, EMA),
sampling images per second, and the seconds per projected image of ``gankit project``.

    python benchmarks/stylegan.py [--preset mnist-stylegan] [--train-steps 40] [--samples 2000] [--project 8]

Training: the preset trains ``--train-steps`` steps after 20 warm-up steps (long enough to include R1 steps, which
run every ``stylegan.r1_every`` D steps), in process, from a fresh start; the weights are untrained, which does not
change the cost. Sampling: ``run.sample`` of ``--samples`` images in batches of 500 with the EMA generator.
Projection: ``--project`` of the run's own samples, saved as PNGs, through ``project_images`` with its default
300 steps. Writes ``benchmarks/results/stylegan.json`` and a table. Not a test: nothing is asserted. Run it alone.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gankit import load_config, load_run  # noqa: E402
from gankit.train import Trainer  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mnist-stylegan")
    ap.add_argument("--train-steps", type=int, default=40)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--project", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "stylegan.json"))
    args = ap.parse_args()
    warmup, load = 20, os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        steps = warmup + args.train_steps
        cfg = load_config(args.preset, [f"train.steps={steps}", f"train.checkpoint_every={steps}",
                                        f"train.sample_every={steps}", "train.quality_n=0"])
        trainer = Trainer(cfg, Path(tmp) / "run", progress=False, tensorboard=False)
        for _ in range(warmup):
            trainer.train_step()
        t0 = time.perf_counter()
        for _ in range(args.train_steps):
            trainer.train_step()
        train_s = time.perf_counter() - t0
        trainer.save_checkpoint()
        trainer.close()
        run = load_run(Path(tmp) / "run")
        run.sample(8)  # warm up
        t0 = time.perf_counter()
        for i in range(0, args.samples, 500):
            run.sample(min(500, args.samples - i), seed=i)
        sample_s = time.perf_counter() - t0

        from PIL import Image

        from gankit.data.base import quantise
        from gankit.project import project_images

        targets = Path(tmp) / "targets"
        targets.mkdir()
        for i, image in enumerate(quantise(run.sample(args.project, seed=12345))):
            pixels = image.permute(1, 2, 0).numpy()
            Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(targets / f"{i}.png")
        t0 = time.perf_counter()
        project_images(run, targets, Path(tmp) / "projected")
        project_s = time.perf_counter() - t0
    rows = {
        "train_images_per_s": round(cfg.train.batch_size * args.train_steps / train_s, 1),
        "train_ms_per_step": round(1000 * train_s / args.train_steps, 1),
        "sample_images_per_s": round(args.samples / sample_s, 1),
        "project_s_per_image": round(project_s / args.project, 2),
    }
    result = {"preset": args.preset, "batch_size": cfg.train.batch_size, "train_steps_timed": args.train_steps,
              "samples": args.samples, "projected": args.project, "threads": torch.get_num_threads(),
              "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
              "load_before": round(load, 2), **rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"| {args.preset} | value |  ({os.cpu_count()} cores, load {load:.2f} before)")
    print("|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
