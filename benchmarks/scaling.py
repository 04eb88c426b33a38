"""Images per second of multi-process training on torchrun, at N = 1, 2, ... processes, and the efficiency
images/s(N) / (N x images/s(1)).

    python benchmarks/scaling.py [--nproc 1 2] [--config mnist-dcgan] [--steps 300] [--device cpu] [KEY=VALUE ...]

Each N launches ``torchrun --standalone --nproc-per-node N -m gankit train`` on the same global batch
(``train.batch_size``, split over the ranks) and reads the training time from the run's metrics.jsonl (the
``time`` column: from the first step to the last logged one, so start-up and the final samples are left out).
On CUDA, ``--device cuda`` gives each rank its own GPU (NCCL); on the CPU the ranks share the cores (gloo), so on
a 2-core machine expect little. Writes ``benchmarks/results/scaling.json`` and a table. Not a test: nothing is
asserted. Run it alone.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(nproc: int, config: str, steps: int, device: str, overrides: list, workdir: Path) -> dict:
    run = workdir / f"n{nproc}"
    log_every = max(1, steps // 10)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "gankit",
           "train", "--config", config, "--run-dir", str(run), "--no-progress", f"train.steps={steps}",
           f"train.device={device}", f"train.log_every={log_every}", f"train.checkpoint_every={steps}",
           f"train.sample_every={steps}", "train.quality_n=0", "train.eval_every=none", *overrides]
    env = dict(os.environ)
    if device == "cpu":  # the cores shared evenly: what torchrun sets for N > 1, set for N = 1 as well
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"N = {nproc} failed:\n{done.stderr[-3000:]}")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    first, last = rows[0], rows[-1]
    batch = _config_batch(run)
    seconds = last["time"] - first["time"]
    images = batch * (last["step"] - first["step"])
    return {"nproc": nproc, "global_batch": batch, "steps_timed": last["step"] - first["step"],
            "seconds": round(seconds, 3), "images_per_s": round(images / seconds, 1),
            "threads_per_rank": env.get("OMP_NUM_THREADS", "torchrun default")}


def _config_batch(run: Path) -> int:
    import yaml

    return int(yaml.safe_load((run / "config.yaml").read_text())["train"]["batch_size"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--config", default="mnist-dcgan")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scaling.json"))
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(n, args.config, args.steps, args.device, args.overrides, Path(tmp)) for n in args.nproc]
    single = next((r for r in rows if r["nproc"] == 1), None)
    for r in rows:
        r["efficiency"] = round(r["images_per_s"] / (r["nproc"] * single["images_per_s"]), 3) if single else None
    result = {"config": args.config, "device": args.device, "overrides": args.overrides, "cpu_count": os.cpu_count(),
              "machine": platform.processor() or platform.machine(), "load_before": os.getloadavg()[0], "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"| N | global batch | images/s | efficiency |  ({args.config}, {args.device}, {os.cpu_count()} cores)")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['nproc']} | {r['global_batch']} | {r['images_per_s']} | {r['efficiency']} |")


if __name__ == "__main__":
    main()
