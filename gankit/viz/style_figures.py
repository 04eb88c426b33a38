"""Two figures of a run whose samples have structure beyond one latent z:

- **style mixing** (StyleGAN, Karras et al. 2019, fig. 3): sources A along the first row and B down the first
  column; each cell takes the styles of one group of layers (coarse, middle or fine) from its row's B and the rest
  from its column's A, every cell with the same fixed noise. Served by recipes that declare ``style_groups``.
- **stochastic variation** (StyleGAN fig. 4): one z with many draws of every other noise part of the code (the
  per-layer noise images of StyleGAN, the residual noise planes of LAPGAN), and the per-pixel standard deviation
  over the draws, which shows where the noise acts.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError


def style_mix_grid(run, group: str, n_a: int = 5, n_b: int = 3, seed: int = 0, ema: bool = True) -> torch.Tensor:
    """(n_b + 1) rows x (n_a + 1) columns of images (the corner blank): the paper's figure 3 for ``group``."""
    recipe = run.recipe()
    groups = recipe.style_groups()
    if not groups:
        from ..registry import RECIPES

        mixing = " or ".join(name for name, cls in RECIPES.items() if getattr(cls, "mixes_styles", False))
        raise ConfigError(f"run {run.path} (recipe '{run.config.recipe}') has no per-layer styles to mix; style-mix "
                          f"needs a {mixing} run")
    if group not in groups:
        raise ConfigError(f"--layers {group!r} is not a style group of this run; choose one of: {', '.join(groups)}")
    for name, n in (("--n-a", n_a), ("--n-b", n_b)):
        if not 1 <= n <= 64:
            raise ConfigError(f"{name} must be in 1..64, got {n}")
    codes = run.latent(n_a + n_b, seed)
    a, b = codes[:n_a], codes[n_a:]
    nets = run.networks(ema)
    with torch.no_grad():
        top = recipe.generate(a, nets, noise="const")
        side = recipe.generate(b, nets, noise="const")
        cells = [recipe.mix_styles(a, b[i:i + 1].expand(n_a, -1), groups[group], nets) for i in range(n_b)]
    blank = torch.ones_like(top[:1])
    rows = [torch.cat([blank, top])] + [torch.cat([side[i:i + 1], cells[i]]) for i in range(n_b)]
    return torch.cat(rows).float().cpu()


def noise_variation(run, n: int = 8, seed: int = 0, ema: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(n samples with one z and fresh draws of every other noise part, the per-pixel std over 64 such draws
    scaled to [-1, 1] for display)."""
    sampling = run.sampling
    others = [p for p in sampling.parts if p.kind == "noise" and p.name != "z"]
    if not others:
        raise ConfigError(f"run {run.path} (recipe '{run.config.recipe}') has no noise but z: every sample is a "
                          "function of z alone; the noise figure needs a run with noise inputs (stylegan, lapgan)")
    if not 1 <= n <= 256:
        raise ConfigError(f"--n must be in 1..256, got {n}")
    draws = max(n, 64)
    drawn = run.latent(2 * draws, seed)
    codes, fresh = drawn[:1].repeat(draws, 1), drawn[draws:]  # one code...
    for part in others:  # ...with every noise part but z drawn anew
        codes[:, part.columns] = fresh[:, part.columns]
    x = run.generate(codes, ema=ema)
    std = x.std(0, keepdim=True)
    return x[:n], std / std.amax().clamp_min(1e-8) * 2 - 1
