"""Experiments that make the slides' statements runnable: ``gankit lab NAME``."""
from __future__ import annotations

import inspect
import json
from pathlib import Path

from ..errors import GankitError
from ..io import write_text
from . import mode_collapse, optimal_d, vae_vs_gan, vanishing_gradients

EXPERIMENTS = {"optimal-d": optimal_d, "vanishing-gradients": vanishing_gradients,
               "mode-collapse": mode_collapse, "vae-vs-gan": vae_vs_gan}


def run_experiment(name: str, out_dir: str | Path | None = None, **kw) -> dict:
    if name not in EXPERIMENTS:
        from ..registry import closest

        raise GankitError(f"unknown experiment '{name}'{closest(name, EXPERIMENTS)}; "
                          f"choose one of: {', '.join(sorted(EXPERIMENTS))}")
    for key in ("steps", "seeds"):
        if key in kw and kw[key] < 1:
            raise GankitError(f"--{key} must be at least 1, got {kw[key]}")
    out = Path(out_dir) if out_dir else Path("runs") / f"lab-{name}"
    out.mkdir(parents=True, exist_ok=True)
    module = EXPERIMENTS[name]
    accepted = inspect.signature(module.run).parameters
    extra = sorted(k for k in kw if k not in accepted)
    if extra:
        raise GankitError(f"experiment '{name}' takes no {', '.join('--' + k for k in extra)}; "
                          f"it takes {', '.join('--' + k for k in accepted if k not in ('out_dir', 'log'))}")
    summary = module.run(out, **kw)
    write_text(out / "results.json", json.dumps(summary, indent=2))
    return summary
