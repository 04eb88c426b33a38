"""The first command's quality against CPU time: the default preset (``mnist-dcgan-fc``) and the plain DCGAN it
replaced (``mnist-dcgan``), trained in one process, one after the other, scored at every ``--every`` steps by the quality line's
measure (gankit's shipped mnist5k classifier on 2,000 EMA samples: the share of confident samples, the rarest and
commonest class, the FID in its features).

    python benchmarks/first_run.py [--every 500] [--seed 0] [--configs default plain]

Each config trains in segments (``--resume`` is exact, so a segmented run is the run itself) and only the training
is timed (process CPU seconds and wall seconds); scoring is not. Writes ``benchmarks/results/first_run.json`` and a
table, with the gain as the default's confident share over the plain recipe's at the same CPU seconds. Not a
test: nothing is asserted. Run it alone: two torch processes at once on two cores distort every number.
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

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gankit import load_config, train  # noqa: E402
from gankit.metrics.quality import classifier_quality  # noqa: E402

#: the default of `gankit train`, and the plain DCGAN that was the default until 2026-12
CONFIGS = {"default": "mnist-dcgan-fc", "plain": "mnist-dcgan"}


def curve(name: str, preset: str, every: int, seed: int, workdir: Path) -> list:
    cfg = load_config(preset, [f"train.seed={seed}", "train.quality_n=0"])
    total, rows, cpu, wall = cfg.train.steps, [], 0.0, 0.0
    for stop in range(every, total + every, every):
        stop = min(stop, total)
        seg = load_config(preset, [f"train.seed={seed}", "train.quality_n=0",
                                          f"train.steps={stop}", f"train.checkpoint_every={every}"])
        c0, w0 = time.process_time(), time.perf_counter()
        run = train(seg, workdir / name, resume=stop > every, progress=False, tensorboard=False)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        q = classifier_quality(run, 2000, seed=0)
        rows.append({"config": name, "step": stop, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
                     **{k: round(q[k], 4) for k in ("confident", "rarest", "commonest", "fid_classifier")}})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "first_run.json"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            rows += curve(name, CONFIGS[name], args.every, args.seed, Path(tmp))
    summary = {}
    if {"default", "plain"} <= set(args.configs):
        d = [r for r in rows if r["config"] == "default"]
        p = [r for r in rows if r["config"] == "plain"]
        at = d[-1]["cpu_s"]
        plain_at = float(np.interp(at, [r["cpu_s"] for r in p], [r["confident"] for r in p]))
        summary = {"cpu_s": at, "default_confident": d[-1]["confident"], "plain_confident_at_same_cpu": plain_at,
                   "ratio": d[-1]["confident"] / plain_at if plain_at else None,
                   "note": "plain's score at the default's final CPU seconds, interpolated in CPU seconds "
                           "(held at its last value beyond its own end)"}
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                          "threads": torch.get_num_threads(), "load": os.getloadavg()},
              "seed": args.seed, "rows": rows, "summary": summary}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\n{'config':8} {'step':>5} {'cpu s':>7} {'wall s':>7} {'confident':>9} {'rarest':>7} {'commonest':>9} {'FID-clf':>8}")
    for r in rows:
        print(f"{r['config']:8} {r['step']:>5} {r['cpu_s']:>7} {r['wall_s']:>7} {r['confident']:>9.3f} "
              f"{r['rarest']:>7.3f} {r['commonest']:>9.3f} {r['fid_classifier']:>8.2f}")
    if summary:
        print(f"\nat {summary['cpu_s']} CPU s: default {summary['default_confident']:.3f} confident, plain "
              f"{summary['plain_confident_at_same_cpu']:.3f} (ratio {summary['ratio']:.2f})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
