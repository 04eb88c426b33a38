"""Metric speed: the Fréchet distance from 2048-d statistics, eigen route against scipy.linalg.sqrtm.

    python benchmarks/metrics.py [--dims 512 2048] [--repeats 3]

Writes ``benchmarks/results/metrics.json`` and prints a table. Not a test: nothing is asserted.
(Feature-extraction throughput per backbone joins this script when the backbones land.)
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dims", type=int, nargs="+", default=[512, 2048])
    p.add_argument("--repeats", type=int, default=3)
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
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"frechet_distance": rows, "settings": vars(args)}, indent=2))
    print(f"{'dim':>5} {'eigen s':>9} {'sqrtm s':>9} {'speedup':>8} {'rel. diff':>10}")
    for d, r in rows.items():
        print(f"{d:>5} {r['eigen_s']:>9.3f} {r['sqrtm_s']:>9.3f} {r['speedup']:>7.1f}x {r['relative_difference']:>10.1e}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
