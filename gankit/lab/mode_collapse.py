"""Experiment ``mode-collapse``: the slides' figure of a GAN hopping between modes, and a table.

Each *arm* (an objective, optionally with remedies) is trained on the ring of 8 and the grid of 25
in the PacGAN setup (Lin et al. 2018, sec. 5; after VEEGAN, Srivastava et al. 2017): ring radius 1,
std 0.01; grid {-4, -2, 0, 2, 4}^2, std 0.05; 2,500 samples scored. A sample is high quality when it
lies within 3 std of its nearest mode, a mode is covered when it gets at least one such sample
(:mod:`gankit.metrics.modes`). Every arm uses the same networks, optimiser and number of steps (the
toy presets ``ring8-pacgan`` and ``grid25-pacgan``), so only the objective and the remedy differ.

Arms are written ``objective[+remedy...]``:

* ``pack<m>``: PacGAN packing, D judges m samples at once (``d.pack = m``);
* ``mbstd``: ProGAN's minibatch standard deviation feature in D (``d.minibatch_std = true``);
* ``critic<k>``: k D steps per G step (``train.n_critic = k``).

Output: ``snapshots_<toy>.png`` (rows: arms, columns: training steps, first seed), ``training_<toy>.gif``
(all snapshots in order), ``table.md`` and the numbers in ``results.json``, mean and std over seeds,
with the published rows quoted below the measured ones.
"""
from __future__ import annotations

import math
import re
import statistics
import time
from pathlib import Path

import torch

from ..config import load_config
from ..errors import ConfigError
from ..io import load_tensors, write_text
from ..registry import OBJECTIVES, closest

TOYS = {"ring": "ring8-pacgan", "grid": "grid25-pacgan"}
DEFAULT_ARMS = ("minimax", "ns", "ns+pack2", "ns+mbstd", "ns-r1+pack2", "wgan-gp")

#: Published numbers in the same setup: (modes, % high quality) for ring and grid. Quoted, not measured.
QUOTED = {
    "VEEGAN (Srivastava et al. 2017)": {"ring": (8.0, 52.9), "grid": (24.6, 40.0)},
    "PacGAN2 (Lin et al. 2018)": {"ring": (7.9, 95.6), "grid": (23.8, 91.3)},
    "GAN, as reported by PacGAN": {"ring": (6.3, 98.2), "grid": (17.3, 94.8)},
}

_REMEDIES = {
    r"pack(\d+)": lambda m: [f"d.pack={int(m)}"],
    r"mbstd": lambda: ["d.minibatch_std=true"],
    r"critic(\d+)": lambda k: [f"train.n_critic={int(k)}"],
}


def arm_overrides(arm: str, preset_objective: str) -> list[str]:
    """Config overrides for an arm such as ``ns+pack2``. The preset's own objective keeps its settings
    (e.g. its penalty weight); any other objective starts from its defaults."""
    name, *remedies = [p.strip() for p in arm.split("+")]
    OBJECTIVES.get(name)  # unknown names raise with the list of valid ones
    out = ["d.pack=1", "d.minibatch_std=false"]
    if OBJECTIVES.canonical(name) != OBJECTIVES.canonical(preset_objective):
        out += [f"objective.name={name}", "objective.penalty=null", "objective.penalty_weight=null"]
    for r in remedies:
        for pattern, make in _REMEDIES.items():
            m = re.fullmatch(pattern, r)
            if m:
                out += make(*m.groups())
                break
        else:
            raise ConfigError(f"unknown remedy '{r}' in arm '{arm}'; use pack<m> (e.g. pack2), mbstd or critic<k>")
    return out


def parse_arms(arms) -> list[str]:
    arms = [a.strip() for a in (arms.split(",") if isinstance(arms, str) else arms) if a.strip()]
    if not arms:
        raise ConfigError("--arms is empty; give objectives such as ns,ns+pack2,wgan-gp")
    return arms


def parse_toys(toys) -> list[str]:
    toys = [t.strip() for t in (toys.split(",") if isinstance(toys, str) else toys) if t.strip()]
    for t in toys:
        if t not in TOYS:
            raise ConfigError(f"unknown toy '{t}'{closest(t, TOYS)}; choose from: {', '.join(TOYS)}")
    return toys


def train_arm(toy: str, arm: str, seed: int, out: Path, steps: int | None) -> dict:
    """Train one arm on one toy with one seed; return its final mode statistics and snapshots."""
    from ..data import build_dataset
    from ..train import train

    preset = TOYS[toy]
    base = load_config(preset)
    overrides = arm_overrides(arm, base.objective.name) + [f"train.seed={seed}", f"name={toy}-{arm}-{seed}"]
    if steps is not None:
        overrides += [f"train.steps={steps}"]
    cfg = load_config(preset, overrides)
    cfg.train.sample_every = max(1, cfg.train.steps // 10)
    cfg.train.checkpoint_every = cfg.train.steps
    cfg.train.plot_samples = False  # the lab draws its own figures from the saved points
    run_dir = out / "runs" / toy / arm.replace("+", "_") / f"seed{seed}"
    t0 = time.perf_counter()
    train(cfg, run_dir, overwrite=True, progress=False, tensorboard=False)
    wall = time.perf_counter() - t0
    dataset = build_dataset(cfg.data)
    snaps = {}
    for f in sorted((run_dir / "samples").glob("*.safetensors")):
        step = cfg.train.steps if f.stem == "final" else int(f.stem.split("_")[1])
        snaps[step] = load_tensors(f)[0]["x"]
    stats = dataset.mode_stats(snaps[cfg.train.steps])
    return {"stats": stats, "wall_s": wall, "snapshots": snaps, "dataset": dataset, "steps": cfg.train.steps}


def _mean_std(values):
    """(mean, std) over seeds; (None, None) when a value is infinite (mode KL with no good sample)."""
    values = [float(v) for v in values]
    if not all(math.isfinite(v) for v in values):
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _cell(pair, digits):
    return "∞" if pair[0] is None else f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def summarise(toy: str, arm: str, results: list[dict]) -> dict:
    modes = _mean_std(r["stats"]["modes_covered"] for r in results)
    hq = _mean_std(100 * r["stats"]["high_quality"] for r in results)
    kl = _mean_std(r["stats"]["mode_kl"] for r in results)
    return {"toy": toy, "arm": arm, "seeds": len(results), "modes": modes, "high_quality_pct": hq, "mode_kl": kl,
            "n_modes": results[0]["stats"]["n_modes"], "wall_s": _mean_std(r["wall_s"] for r in results),
            "per_seed": [{k: (v if math.isfinite(v) else None) for k, v in r["stats"].items()} for r in results]}


def format_table(rows: list[dict], toys: list[str]) -> str:
    lines = ["| arm | " + " | ".join(f"{t}: modes | {t}: % HQ | {t}: mode KL" for t in toys) + " | s / run |",
             "|---|" + "---|---|---|" * len(toys) + "---|"]
    for arm in dict.fromkeys(r["arm"] for r in rows):
        cells, walls = [], []
        for t in toys:
            r = next(r for r in rows if r["arm"] == arm and r["toy"] == t)
            cells += [f"{_cell(r['modes'], 1)} / {r['n_modes']}", _cell(r["high_quality_pct"], 1),
                      _cell(r["mode_kl"], 3)]
            walls.append(r["wall_s"][0])
        lines.append(f"| {arm} | " + " | ".join(cells) + f" | {statistics.fmean(walls):.0f} |")
    for name, row in QUOTED.items():
        cells = []
        for t in toys:
            cells += [f"{row[t][0]} (quoted)", f"{row[t][1]} (quoted)", "–"]
        lines.append(f"| {name} | " + " | ".join(cells) + " | – |")
    return "\n".join(lines)


def _draw(ax, x, dataset, title):
    lim = dataset.extent()
    c = dataset.centers
    ax.scatter(c[:, 0], c[:, 1], s=30, facecolors="none", edgecolors="k", linewidths=0.6)
    ax.scatter(x[:, 0], x[:, 1], s=1, c="tab:green", alpha=0.5)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=7)


def plot_snapshots(toy: str, first_seed: dict[str, dict], path: Path) -> None:
    """Rows: arms; columns: 10 %, 20 %, 50 % and 100 % of training (the slides' 10k/20k/50k/100k)."""
    from ..viz.plots import _save, plt

    arms = list(first_seed)
    fig, axes = plt.subplots(len(arms), 4, figsize=(8, 2.1 * len(arms)), squeeze=False)
    for row, arm in zip(axes, arms):
        r = first_seed[arm]
        steps = sorted(r["snapshots"])
        picks = [steps[min(len(steps) - 1, max(0, round(f * len(steps)) - 1))] for f in (0.1, 0.2, 0.5, 1.0)]
        for ax, step in zip(row, picks):
            _draw(ax, r["snapshots"][step], r["dataset"], f"{arm} · step {step}")
    _save(fig, path)


def save_animation(toy: str, first_seed: dict[str, dict], path: Path) -> None:
    """One frame per snapshot step, all arms side by side."""
    import numpy as np

    from ..viz.grid import save_gif
    from ..viz.plots import plt

    arms = list(first_seed)
    steps = sorted(first_seed[arms[0]]["snapshots"])
    frames = []
    for step in steps:
        fig, axes = plt.subplots(1, len(arms), figsize=(2.2 * len(arms), 2.4), squeeze=False)
        for ax, arm in zip(axes[0], arms):
            r = first_seed[arm]
            _draw(ax, r["snapshots"].get(step, torch.zeros(0, 2)), r["dataset"], f"{arm} · step {step}")
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
        plt.close(fig)
    save_gif(frames, path, duration_ms=400)


def run(out_dir, arms=DEFAULT_ARMS, seeds: int = 3, steps: int | None = None, toys=tuple(TOYS), seed: int = 0,
        log=print) -> dict:
    out = Path(out_dir)
    arms, toys = parse_arms(arms), parse_toys(toys)
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    for arm in arms:  # refuse a bad arm before any training starts
        arm_overrides(arm, "ns")
    rows = []
    for toy in toys:
        first_seed = {}
        for arm in arms:
            results = []
            for s in range(seed, seed + seeds):
                r = train_arm(toy, arm, s, out, steps)
                st = r["stats"]
                log(f"{toy} {arm} seed {s}: {st['modes_covered']}/{st['n_modes']} modes, "
                    f"{100 * st['high_quality']:.1f}% high quality ({r['wall_s']:.0f} s)")
                results.append(r)
            first_seed[arm] = results[0]
            rows.append(summarise(toy, arm, results))
        plot_snapshots(toy, first_seed, out / f"snapshots_{toy}.png")
        save_animation(toy, first_seed, out / f"training_{toy}.gif")
    table = format_table(rows, toys)
    write_text(out / "table.md", table + "\n")
    best = {t: max((r for r in rows if r["toy"] == t), key=lambda r: (r["modes"][0], r["high_quality_pct"][0]))
            for t in toys}
    return {
        "experiment": "mode-collapse", "arms": arms, "toys": toys, "seeds": seeds,
        "steps": {t: load_config(TOYS[t]).train.steps if steps is None else steps for t in toys},
        "rows": rows, "quoted": QUOTED, "table": table,
        "verdict": table + "\nbest: " + "; ".join(
            f"{t} {b['arm']} {b['modes'][0]:.1f}/{b['n_modes']} modes, {b['high_quality_pct'][0]:.1f}% high quality"
            for t, b in best.items()),
    }
