"""Walks through latent space: linear and spherical interpolation (White 2016, "Sampling generative
networks": slerp keeps Gaussian latents at a typical norm)."""
from __future__ import annotations

import torch

from ..recipes.paths import lerp_rows, slerp_rows


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 - t) z0 + t z1 for each t; z0, z1: (N, D), t: (T,) -> (T, N, D)."""
    return lerp_rows(z0, z1, t.view(-1, 1, 1))


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (:func:`~gankit.recipes.paths.slerp_rows`) for each t; -> (T, N, D)."""
    return slerp_rows(z0, z1, t.view(-1, 1, 1))


def endpoints(run, pairs: int, seed: int, classes: tuple[int, int] | None = None, texts: tuple | None = None):
    """Start and end inputs of each interpolation: two random latents, or (``classes=(a, b)``) the same z
    with label a at the start and label b at the end, or (``texts=(A, B)``, text runs) the same z with caption A's
    embedding at the start and caption B's at the end (GAN-INT's interpolation, Reed et al. 2016, fig. 8)."""
    if texts is not None:  # one seed draws the same noise whatever the caption
        return run.latent(pairs, seed, texts=[texts[0]]), run.latent(pairs, seed, texts=[texts[1]])
    if classes is None:
        z = run.latent(2 * pairs, seed)
        return z[:pairs], z[pairs:]
    z0 = run.latent(pairs, seed, labels=classes[0])
    z1 = z0.clone()
    cols = run.sampling.class_part.columns  # only the class block moves; z and any other code stay
    z1[:, cols] = run.latent(pairs, seed, labels=classes[1])[:, cols]
    return z0, z1


def interpolate_run(run, out_dir, pairs: int = 8, steps: int = 10, seed: int = 0, ema: bool = True,
                    classes: tuple[int, int] | None = None, texts: tuple | None = None) -> dict:
    """Write ``interpolation.png`` (rows: pairs; top block linear, bottom block slerp; columns: t from 0 to 1)
    and ``interpolation.gif`` (every pair at once, moving along its slerp path) into ``out_dir``.
    ``classes=(a, b)`` (conditional runs): each row keeps its z and moves the label from a to b."""
    from pathlib import Path

    from ..errors import ConfigError
    from .grid import make_grid, save_gif, save_grid

    run.require_latent("interpolate")
    if run.info.kind != "image":
        raise ConfigError(f"interpolate draws images; run {run.path} generates {run.info.kind}")
    if pairs < 1 or steps < 2:
        raise ConfigError("interpolate needs --pairs >= 1 and --steps >= 2")
    out = Path(out_dir)
    z0, z1 = endpoints(run, pairs, seed, classes, texts)
    t = torch.linspace(0, 1, steps)
    paths = {"linear": lerp(z0, z1, t), "slerp": slerp(z0, z1, t)}  # (T, N, D)
    images = {k: run.generate(v.transpose(0, 1).reshape(pairs * steps, -1), ema) for k, v in paths.items()}
    both = torch.cat([images["linear"], images["slerp"]])
    save_grid(both, out / "interpolation.png", nrow=steps)
    frames_t = torch.linspace(0, 1, 24)
    frames_z = slerp(z0, z1, frames_t)
    frames = [make_grid(run.generate(frames_z[i], ema), nrow=min(pairs, 8)) for i in range(len(frames_t))]
    save_gif(frames, out / "interpolation.gif")
    return {"png": out / "interpolation.png", "gif": out / "interpolation.gif"}
