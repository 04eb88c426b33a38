"""The study report (Lucic et al. 2018, sec. 5): per objective the min / median / max FID over its
trials, a box plot of FID per objective, the "FID as a function of budget" curve, and each objective's
best setting as a runnable YAML. The paper's best-FID rows are quoted next to ours, marked as quoted.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState

from ..io import write_text
from .storage import default_storage, read_settings, storage_for

#: Lucic et al. 2018, table 2 (best FID per model, wide range; Inception features, 10k samples):
#: (MNIST, Fashion-MNIST). Quoted for orientation only: gankit's default FID uses the dataset's own
#: classifier, so the numbers are on another scale.
QUOTED_BEST_FID = {
    "minimax": (9.8, 29.6), "ns": (6.8, 26.5), "lsgan": (7.8, 30.7), "wgan": (6.7, 21.5),
    "wgan-gp": (20.3, 24.5), "dragan": (7.6, 27.7), "began": (13.1, 22.9),
}
QUOTED_COLUMN = {"mnist5k": 0, "fashion-mnist": 1}


def expected_min(values, budget: int) -> list[float]:
    """Lucic et al.'s budget curve: for k = 1..budget, the expected minimum of k values drawn with
    replacement from the trials' values (the bootstrap estimate), computed exactly rather than by
    resampling: with v_(1) <= ... <= v_(n), P(min = v_(i)) = ((n - i + 1) / n)^k - ((n - i) / n)^k."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = len(v)
    if n == 0:
        return []
    i = np.arange(1, n + 1)
    curve = []
    for k in range(1, budget + 1):
        p = ((n - i + 1) / n) ** k - ((n - i) / n) ** k
        curve.append(float(p @ v))
    return curve


def collect(out: Path, storage_url: str | None = None) -> dict:
    """{objective: [finished trials in number order, at most ``budget``]} from the storage."""
    settings = read_settings(out)
    storage = storage_for(storage_url or default_storage(out))
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    trials = {}
    for objective in settings.objectives:
        if objective not in names:
            trials[objective] = []
            continue
        study = optuna.load_study(study_name=objective, storage=storage)
        done = sorted((t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE),
                      key=lambda t: t.number)
        trials[objective] = done[: settings.budget]
    return {"settings": settings, "trials": trials}


def _fmt(x: float) -> str:
    return "diverged" if not math.isfinite(x) else f"{x:.2f}"


def write_report(out: str | Path, storage_url: str | None = None) -> dict:
    """Write ``report.json``, ``table.md``, ``fid_boxplot.png``, ``fid_vs_budget.png`` and ``best/<objective>.yaml``
    into the study dir; print the table; return the report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    data = collect(out, storage_url)
    settings, trials = data["settings"], data["trials"]
    rows, curves, values = {}, {}, {}
    for objective, ts in trials.items():
        v = [float(t.value) for t in ts]
        values[objective] = v
        finite = [x for x in v if math.isfinite(x)]
        best = min(ts, key=lambda t: t.value) if ts else None
        rows[objective] = {
            "trials": len(v), "diverged": len(v) - len(finite),
            "min": float(np.min(v)) if v else None, "median": float(np.median(v)) if v else None,
            "max": float(np.max(v)) if v else None,
            "best_trial": best.number if best else None,
            "best_overrides": best.user_attrs.get("overrides") if best else None,
        }
        # A diverged trial has no FID; in the budget curve it counts as the worst finite FID of its objective.
        worst = max(finite, default=None)
        curves[objective] = expected_min([x if math.isfinite(x) else worst for x in v], settings.budget) \
            if worst is not None else []
        if best is not None:
            cfg_path = Path(best.user_attrs["run_dir"]) / f"seed_{settings.seed}" / "config.yaml"
            if cfg_path.exists():
                write_text(out / "best" / f"{objective}.yaml",
                           f"# best of {len(v)} trials of study {out.name}: trial {best.number}, "
                           f"mean FID {_fmt(best.value)} over {settings.seeds} seed(s)\n" + cfg_path.read_text())

    metric = f"FID ({settings.fid_backbone})"
    lines = [f"# Study {out.name}: {settings.dataset}, {settings.steps} steps per trial, {settings.space} range, "
             f"budget {settings.budget}, {settings.seeds} seed(s) per trial", "",
             f"| objective | trials | diverged | min {metric} | median | max |", "|---|---|---|---|---|---|"]
    for objective, r in rows.items():
        if r["trials"]:
            lines.append(f"| {objective} | {r['trials']} | {r['diverged']} | {_fmt(r['min'])} | "
                         f"{_fmt(r['median'])} | {_fmt(r['max'])} |")
        else:
            lines.append(f"| {objective} | 0 | – | – | – | – |")
    col = QUOTED_COLUMN.get(settings.dataset)
    if col is not None:
        from ..registry import OBJECTIVES

        quoted = [(o, QUOTED_BEST_FID[OBJECTIVES.canonical(o)][col]) for o in settings.objectives
                  if OBJECTIVES.canonical(o) in QUOTED_BEST_FID]
        if quoted:
            lines += ["", "Lucic et al. 2018, table 2, best FID (quoted; Inception FID on the full dataset, so on "
                      "another scale than the FID above):", "", "| objective | best FID (quoted) |", "|---|---|"]
            lines += [f"| {o} | {v} (quoted) |" for o, v in quoted]
    table = "\n".join(lines) + "\n"
    write_text(out / "table.md", table)

    finite = {o: [x for x in v if math.isfinite(x)] for o, v in values.items()}
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(finite), 3.6))
    names = list(finite)
    ax.boxplot([finite[o] or [np.nan] for o in names], showfliers=True)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=30)
    ax.set_ylabel(metric)
    ax.set_title(f"{settings.dataset}: FID of {settings.budget} random settings per objective")
    fig.tight_layout()
    fig.savefig(out / "fid_boxplot.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for o, c in curves.items():
        if c:
            ax.plot(range(1, len(c) + 1), c, marker="o", ms=3, label=o)
    ax.set_xlabel("budget (random settings tried)")
    ax.set_ylabel(f"expected min {metric}")
    ax.set_title("FID as a function of budget (bootstrap)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "fid_vs_budget.png", dpi=110)
    plt.close(fig)

    report = {"settings": settings.to_json(), "objectives": rows, "budget_curve": curves,
              "trial_values": values, "quoted": "Lucic et al. 2018 table 2 (Inception FID)"}
    write_text(out / "report.json", json.dumps(report, indent=2))
    print(table, end="")
    return report

