"""Perceptual path length (Karras et al. 2019, "A Style-Based Generator Architecture for GANs", sec. 4.2, eq. 2-3).

    l_Z = E[ d(G(slerp(z1, z2; t)), G(slerp(z1, z2; t + eps))) / eps^2 ],  t ~ U(0, 1) ("full") or t = 0 ("end")
    l_W = E[ d(g(lerp(f(z1), f(z2); t)), g(lerp(f(z1), f(z2); t + eps))) / eps^2 ]

with eps = 1e-4. As in the authors' code, the distances above the 99th and below the 1st percentile are
rejected before the mean. A lower path length means a smoother latent space: equal steps change the image by
similar amounts. The recipe walks the path (:meth:`~gankit.recipes.base.Recipe.path_point`), so any latent run
has ``ppl_z``; a recipe with a mapping network (StyleGAN) also has ``ppl_w``.

The paper's d is LPIPS on VGG16 features, whose weights gankit cannot download. Here d is
:class:`~gankit.metrics.perceptual.PerceptualDistance` (unit-normalised EfficientNet-Lite0 features at four
depths, squared differences summed over channels and averaged over positions): the values are comparable
between gankit runs but not with the paper's.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..errors import GankitError

EPSILON = 1e-4


def path_lengths(step: Callable, draw: Callable, n: int, distance: Callable, sampling: str = "end",
                 epsilon: float = EPSILON, batch: int = 100, generator: torch.Generator | None = None) -> np.ndarray:
    """The n scaled distances d(step(a, b, t), step(a, b, t + eps)) / eps^2 of eq. 2-3.

    ``draw(k)`` gives k pairs of codes (a, b); ``step(a, b, t)`` the images at fractions ``t`` (k, 1) of their paths;
    ``distance(x, y)`` one distance per pair of images. The division is by the step t + eps - t as the codes'
    dtype holds it: in float32, t + eps rounds, and dividing by eps^2 itself would be off by up to 0.1 %."""
    if sampling not in ("full", "end"):
        raise GankitError(f"path length sampling must be full or end, got {sampling!r}")
    out = []
    for start in range(0, n, batch):
        k = min(batch, n - start)
        a, b = draw(k)
        t = torch.rand(k, 1, generator=generator) if sampling == "full" else torch.zeros(k, 1)
        t = t.to(device=a.device, dtype=a.dtype)
        t_next = t + epsilon
        step_size = (t_next - t).double().flatten()  # eps as the codes' precision holds it (float32 rounds t + eps)
        with torch.no_grad():
            d = distance(step(a, b, t), step(a, b, t_next))
        out.append((d.double().flatten() / step_size**2).cpu().numpy())
    return np.concatenate(out)


def robust_mean(values: np.ndarray, low: float = 1.0, high: float = 99.0) -> float:
    """The mean of the values between their ``low``-th and ``high``-th percentiles (the authors' outlier rejection)."""
    lo, hi = np.percentile(values, low, method="lower"), np.percentile(values, high, method="higher")
    kept = values[(values >= lo) & (values <= hi)]
    return float(kept.mean())


def perceptual_path_length(run, space: str = "z", n: int = 2000, sampling: str = "end", seed: int = 0,
                           epsilon: float = EPSILON, distance=None) -> float:
    """l_Z or l_W of a run's generator (its EMA copy when kept), over ``n`` pairs of codes drawn with ``seed``."""
    from .perceptual import PerceptualDistance

    run.require_latent("the perceptual path length")
    recipe, nets = run.recipe(), run.networks()
    if space not in recipe.latent_spaces:
        raise GankitError(f"run {run.path} (recipe '{run.config.recipe}') has no latent space {space!r}; "
                          f"ppl_{space} needs one of: ppl_{', ppl_'.join(recipe.latent_spaces)}")
    distance = distance if distance is not None else PerceptualDistance()
    gen = torch.Generator().manual_seed(seed)

    def draw(k):
        return recipe.latent(k, gen, "cpu"), recipe.latent(k, gen, "cpu")

    def step(a, b, t):
        return recipe.path_point(a, b, t, space, nets)

    return robust_mean(path_lengths(step, draw, n, distance, sampling, epsilon, generator=gen))
