"""Experiments that make the slides' statements runnable: ``gankit lab NAME``."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import GankitError
from ..io import write_text
from . import optimal_d

EXPERIMENTS = {"optimal-d": optimal_d}


def run_experiment(name: str, out_dir: str | Path | None = None, **kw) -> dict:
    if name not in EXPERIMENTS:
        from ..registry import closest

        raise GankitError(f"unknown experiment '{name}'{closest(name, EXPERIMENTS)}; "
                          f"choose one of: {', '.join(sorted(EXPERIMENTS))}")
    out = Path(out_dir) if out_dir else Path("runs") / f"lab-{name}"
    out.mkdir(parents=True, exist_ok=True)
    summary = EXPERIMENTS[name].run(out, **kw)
    write_text(out / "results.json", json.dumps(summary, indent=2))
    return summary
