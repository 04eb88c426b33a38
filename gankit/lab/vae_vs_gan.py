"""Experiment ``vae-vs-gan``: the last lecture's "VAEs vs GANs" slide, measured.

The slide: a VAE "trains faster and more reliably" but its "results are blurry"; a GAN has a "noisy and
difficult optimization" but "sharper results". Two arms share one generator network:

* ``gan``: the DCGAN preset of the dataset (``mnist-dcgan`` or ``fashion-dcgan``) as shipped;
* ``vae``: ``recipe=vae`` (:mod:`gankit.recipes.vae`) with the same G as its decoder, the preset's D body as its
  encoder, the same latent size, batch and EMA, and the usual VAE optimiser (Adam, lr 1e-3, betas 0.9 / 0.999).

Each arm trains for the same CPU seconds (``--seconds``, the process's own, both threads counted) with
``--seeds`` seeds. Scores on 2,000 samples of the EMA G against the test split, on gankit's classifier of the
dataset (trained once if missing): FID and precision/recall (Kynkäänniemi et al. 2019, k = 3), classes
covered and the KL of the class histogram to uniform, and the sharpness of the samples (the energy of the
finest Laplacian band, :mod:`gankit.metrics.sharpness`) beside the real images' value. "Trains faster" is
measured as the FID reached at half the budget; "more reliably" as the spread of the final FID over seeds.

Output: ``samples.png`` (VAE left, GAN right, the same z), ``interpolation.png`` (the same latent path through
both), ``sharpness.png`` (histograms against the real images), ``losses.png``, ``table.md`` with the slide's
claims beside the measured numbers and a verdict per claim, and ``results.json``.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import torch

from ..config import load_config
from ..errors import ConfigError
from ..io import write_text

PRESETS = {"mnist5k": "mnist-dcgan", "fashion-mnist": "fashion-dcgan"}
ARMS = ("vae", "gan")
N_SAMPLES = 2000
#: the slide's lines, quoted
SLIDE = {
    "blurry": ("VAE: \"Results are blurry\" / GAN: \"Sharper results\"", "sharpness"),
    "faster": ("VAE: \"Trains faster ...\"", "fid_half"),
    "reliably": ("VAE: \"... and more reliably\" / GAN: \"Noisy and difficult optimization\"", "fid"),
}


def arm_config(arm: str, data: str, seed: int):
    """The config of one arm: the dataset's DCGAN preset, or a VAE with the same generator."""
    preset = PRESETS[data]
    common = [f"train.seed={seed}", "train.steps=1000000", "train.sample_every=1000000",
              "train.checkpoint_every=1000000", "train.log_every=25"]
    if arm == "gan":
        return load_config(preset, common)
    return load_config(preset, common + ["recipe=vae", "optim.g.lr=1e-3", "optim.g.betas=[0.9,0.999]",
                                         "d.minibatch_std=false", "d.pack=1"])


class _Scorer:
    """Classifier features of the real test images, and the scores of a batch of samples against them."""

    def __init__(self, data_cfg):
        from ..metrics.classifier import load_classifier, train_classifier
        from ..errors import GankitError
        from ..metrics.evaluate import real_features
        from ..metrics.extractors import build_backbone

        try:
            load_classifier(data_cfg.name)
        except GankitError:
            train_classifier(data_cfg.name, progress=False)
        self.backbone = build_backbone(f"classifier:{data_cfg.name}")
        self.real, _, _ = real_features(data_cfg, "test", self.backbone, N_SAMPLES)

    def fid(self, x: torch.Tensor) -> float:
        from ..metrics.frechet import feature_stats, frechet_distance

        feats, _ = self.backbone.extract(x)
        return float(frechet_distance(*feature_stats(self.real), *feature_stats(feats)))

    def scores(self, x: torch.Tensor) -> dict:
        from ..metrics.classifier import class_histogram
        from ..metrics.frechet import feature_stats, frechet_distance
        from ..metrics.manifold import precision_recall
        from ..metrics.sharpness import high_frequency_energy

        feats, probs = self.backbone.extract(x)
        k = min(len(self.real), len(feats))
        precision, recall = precision_recall(self.real[:k], feats[:k], k=3)
        hist = class_histogram(probs)
        return {"fid": float(frechet_distance(*feature_stats(self.real), *feature_stats(feats))),
                "precision": precision, "recall": recall, "classes_covered": hist["classes_present"],
                "class_kl": hist["kl_to_uniform"], "sharpness": float(high_frequency_energy(x).mean()) * 1e3}


def _samples(recipe, nets, n: int, seed: int, device="cpu") -> torch.Tensor:
    """n samples of G from latents drawn with ``seed`` (eval mode; the global RNG is left as it was)."""
    from ..train import checkpoint as ckpt

    rng = ckpt.rng_state()
    was = recipe.training
    recipe.eval()
    nets.eval()
    try:
        with torch.no_grad():
            z = recipe.latent(n, torch.Generator().manual_seed(seed), device)
            return torch.cat([recipe.generate(z[i : i + 500], nets).float().cpu() for i in range(0, n, 500)])
    finally:
        recipe.train(was)
        ckpt.set_rng_state(rng)


def train_arm(arm: str, data: str, seed: int, seconds: float, out: Path, scorer: _Scorer) -> dict:
    """Train one arm for ``seconds`` CPU seconds; score it at half the budget and at the end."""
    from ..run import Run
    from ..train.budget import CpuBudgetTrainer

    cfg = arm_config(arm, data, seed)
    run_dir = out / "runs" / arm / f"seed{seed}"
    half = {}

    def score_half(trainer):
        nets = trainer.ema if trainer.ema is not None else trainer.recipe.nets
        half.update(fid=scorer.fid(_samples(trainer.recipe, nets, N_SAMPLES, 1)), step=trainer.step)

    wall = time.perf_counter()
    CpuBudgetTrainer(cfg, run_dir, overwrite=True, progress=False, tensorboard=False, seconds=seconds,
                     at_half=score_half).fit()
    wall = time.perf_counter() - wall
    run = Run(run_dir)
    x = _samples(run.recipe(), run.networks(), N_SAMPLES, 2)
    return {"arm": arm, "seed": seed, "steps": run.step, "wall_s": wall, "fid_half": half.get("fid"),
            **scorer.scores(x), "run": str(run_dir)}


def _mean_std(values) -> tuple:
    values = [float(v) for v in values if v is not None]
    if not values:
        return (None, None)
    return (statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0)


def verdicts(rows: dict, real_sharpness: float) -> dict:
    """Whether the measurement supports each of the slide's claims, with the numbers behind it."""
    v, g = rows["vae"], rows["gan"]
    out = {}
    out["blurry"] = (v["sharpness"][0] < g["sharpness"][0] and v["sharpness"][0] < real_sharpness,
                     f"sharpness VAE {v['sharpness'][0]:.2f}, GAN {g['sharpness'][0]:.2f}, real {real_sharpness:.2f}")
    out["faster"] = (v["fid_half"][0] is not None and g["fid_half"][0] is not None
                     and v["fid_half"][0] < g["fid_half"][0],
                     f"FID at half the budget VAE {_fmt(v['fid_half'][0])}, GAN {_fmt(g['fid_half'][0])}")
    out["reliably"] = (v["fid"][1] < g["fid"][1],
                       f"FID spread over seeds (std) VAE {v['fid'][1]:.2f}, GAN {g['fid'][1]:.2f}")
    return out


def _fmt(x, digits=2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def format_table(rows: dict, real_sharpness: float, judged: dict, seeds: int, seconds: float) -> str:
    lines = [f"VAE vs GAN, the same generator, {seconds:g} CPU seconds per arm, {seeds} seed(s): mean ± std",
             "", "| measure | VAE | GAN | real |", "|---|---|---|---|"]
    names = {"fid": "FID (classifier features, lower is better)", "fid_half": "FID at half the budget",
             "precision": "precision", "recall": "recall", "classes_covered": "classes covered",
             "class_kl": "class histogram KL to uniform", "sharpness": "sharpness (high-band energy × 1e3)",
             "steps": "steps trained"}
    for key, label in names.items():
        real = _fmt(real_sharpness) if key == "sharpness" else ""
        cells = [f"{_fmt(rows[a][key][0])} ± {_fmt(rows[a][key][1])}" for a in ARMS]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {real} |")
    lines += ["", "| the slide says | measured | supported? |", "|---|---|---|"]
    for key, (quote, _) in SLIDE.items():
        ok, numbers = judged[key]
        lines.append(f"| {quote} | {numbers} | {'yes' if ok else 'no'} |")
    return "\n".join(lines)


def _figures(first: dict, out: Path, real: torch.Tensor) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..metrics.sharpness import high_frequency_energy
    from ..run import Run
    from ..viz.grid import make_grid, to_pil
    from ..io import atomic_path

    runs = {arm: Run(first[arm]["run"]) for arm in ARMS}
    grids = [make_grid(_samples(runs[a].recipe(), runs[a].networks(), 64, 3), 8) for a in ARMS]
    gap = np.full((grids[0].shape[0], 8) + grids[0].shape[2:], 255, np.uint8)
    sheet = np.concatenate([grids[0], gap, grids[1]], 1)
    with atomic_path(out / "samples.png") as tmp:
        to_pil(sheet, 2).save(tmp, format="PNG")

    gen = torch.Generator().manual_seed(4)
    za, zb = (runs["gan"].recipe().latent(6, gen) for _ in range(2))
    t = torch.linspace(0, 1, 10)
    path = torch.cat([(1 - s) * za + s * zb for s in t])  # 6 pairs x 10 steps, step-major
    rows = []
    for a in ARMS:
        with torch.no_grad():
            x = runs[a].recipe().generate(path, runs[a].networks()).float()
        rows.append(x.view(10, 6, *x.shape[1:]).transpose(0, 1).reshape(-1, *x.shape[1:]))
    both = torch.cat([torch.stack([rows[0][i * 10:(i + 1) * 10], rows[1][i * 10:(i + 1) * 10]])
                      for i in range(6)]).reshape(-1, *rows[0].shape[1:])
    with atomic_path(out / "interpolation.png") as tmp:
        to_pil(make_grid(both, 10), 2).save(tmp, format="PNG")

    fig, ax = plt.subplots(figsize=(7, 4))
    values = {"real": high_frequency_energy(real[:N_SAMPLES]).numpy() * 1e3}
    for a in ARMS:
        values[a.upper()] = high_frequency_energy(_samples(runs[a].recipe(), runs[a].networks(), N_SAMPLES, 2)).numpy() * 1e3
    top = max(np.percentile(v, 99) for v in values.values())
    for label, v in values.items():
        ax.hist(v, bins=60, range=(0, top), histtype="step", density=True, label=label, lw=1.5)
    ax.set_xlabel("sharpness: high-band energy per image (× 1e3)")
    ax.set_ylabel("density")
    ax.legend()
    _save(fig, out / "sharpness.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, a in zip(axes, ARMS):
        rows_m = runs[a].metrics()
        keys = ["vae_loss"] if a == "vae" else ["d_loss", "g_loss"]
        for key in keys:
            ax.plot([r["step"] for r in rows_m if key in r], [r[key] for r in rows_m if key in r], label=key, lw=1)
        ax.set_title(f"{a.upper()} (seed {first[a]['seed']})")
        ax.set_xlabel("step")
        ax.legend()
    _save(fig, out / "losses.png")


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def run(out_dir, data: str = "mnist5k", seeds: int = 3, seconds: float = 120.0, seed: int = 0, log=print) -> dict:
    out = Path(out_dir)
    if data not in PRESETS:
        from ..registry import closest

        raise ConfigError(f"--data {data!r} is not one of {', '.join(PRESETS)}{closest(data, PRESETS)}")
    if not seconds > 0 or seconds > 1e6:
        raise ConfigError(f"--seconds must be between 0 and 1e6 CPU seconds per arm, got {seconds}")
    for arm in ARMS:  # refuse a bad setup before any training starts
        arm_config(arm, data, seed)
    scorer = _Scorer(load_config(PRESETS[data]).data)
    results = {arm: [] for arm in ARMS}
    for s in range(seed, seed + seeds):
        for arm in ARMS:
            r = train_arm(arm, data, s, seconds, out, scorer)
            log(f"{arm} seed {s}: FID {r['fid']:.2f} (half budget {_fmt(r['fid_half'])}), sharpness "
                f"{r['sharpness']:.2f}, {r['classes_covered']} classes, {r['steps']} steps in {r['wall_s']:.0f} s")
            results[arm].append(r)
    rows = {arm: {k: _mean_std(r[k] for r in results[arm])
                  for k in ("fid", "fid_half", "precision", "recall", "classes_covered", "class_kl", "sharpness",
                            "steps")} for arm in ARMS}
    from ..metrics.evaluate import reference_images
    from ..metrics.sharpness import high_frequency_energy

    real = reference_images(load_config(PRESETS[data]).data, "test")
    real_sharpness = float(high_frequency_energy(real).mean()) * 1e3
    judged = verdicts(rows, real_sharpness)
    table = format_table(rows, real_sharpness, judged, seeds, seconds)
    write_text(out / "table.md", table + "\n")
    _figures({arm: results[arm][0] for arm in ARMS}, out, real)
    supported = [k for k, (ok, _) in judged.items() if ok]
    return {"experiment": "vae-vs-gan", "data": data, "seeds": seeds, "cpu_seconds_per_arm": seconds,
            "runs": results, "rows": rows, "real_sharpness": real_sharpness,
            "claims": {k: {"slide": SLIDE[k][0], "supported": ok, "measured": n} for k, (ok, n) in judged.items()},
            "table": table,
            "verdict": table + f"\nsupported by this measurement: {', '.join(supported) or 'none'}; not supported: "
                               f"{', '.join(k for k in judged if k not in supported) or 'none'}"}
