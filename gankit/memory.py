"""Refuse work that cannot fit in memory before allocating it, with the estimate in the message.

A setting such as ``train.batch_size=1000000000`` or ``g.width=1000000`` would otherwise be found by
the operating system's out-of-memory killer, minutes later or not at all. The estimates are upper
bounds of the right order, not exact figures:

- networks: their parameters counted exactly by building the recipe on PyTorch's ``meta`` device (no
  memory is allocated), times 5 while training (weights, gradients, two Adam moments, the EMA copy);
- activations: every module output of one example through G and D, measured on the ``meta`` device,
  times 3 while training (the output, its saved copy and its gradient), times the batch;
- fixed tensors: the data batch, the sample grid's latents and images.
"""
from __future__ import annotations

import math
import os
from typing import Optional

import torch

from .errors import ConfigError

TRAIN_PARAM_FACTOR = 5
TRAIN_ACTIVATION_FACTOR = 3


def available_bytes() -> int:
    """Memory this process can still take: MemAvailable from /proc/meminfo, else the physical total."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_fits(needed: float, what: str, fix: str) -> None:
    free = available_bytes()
    if needed > free:
        raise ConfigError(f"{what} needs about {gib(needed)} of memory but {gib(free)} is available; {fix}")


def _leaf_output_numel(module: torch.nn.Module, run) -> int:
    """Sum of the elements of every leaf module's output while ``run()`` executes."""
    total = 0

    def hook(_m, _inputs, out):
        nonlocal total
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                total += t.numel()

    handles = [m.register_forward_hook(hook) for m in module.modules() if not list(m.children())]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return total


def meta_recipe(cfg, info, objective):
    """The recipe built on the meta device (shapes only), or None where a family cannot be built there."""
    from .recipes import build_recipe

    try:
        with torch.device("meta"):
            return build_recipe(cfg, info, objective)
    except Exception:
        return None


def activation_numel_per_example(recipe) -> Optional[int]:
    """Elements of all module outputs for one example through G and then D (latent recipes only). A recipe
    whose critics are not one ``d`` (LAPGAN's D_k per level) counts G's outputs twice instead: its critics
    judge what its generators make, at no larger size."""
    if recipe.sampling().source != "latent":
        return None
    try:
        from .recipes.base import pack

        m = recipe.cfg.d.pack
        single_d = "d" in recipe.nets
        recipe.eval()  # one example: batch norm over a batch of 1 needs its running statistics (same output sizes)

        def run():  # one example through G, then D on one (packed) input of m examples
            x = recipe.generate(recipe.latent(1, None, torch.device("meta")))
            if single_d:
                recipe.nets["d"](pack(x.expand(m, *x.shape[1:]), m))
        numel = _leaf_output_numel(recipe.nets, run)
        return numel if single_d else 2 * numel
    except Exception:
        return None


def check_training_fits(cfg, info, objective) -> None:
    """Estimate the memory of training ``cfg`` and refuse it in one line when it cannot fit."""
    t = cfg.train
    example = math.prod(info.shape)
    recipe = meta_recipe(cfg, info, objective)
    params = sum(p.numel() for p in recipe.parameters()) if recipe is not None else 0
    check_fits(4 * TRAIN_PARAM_FACTOR * params, f"training these networks ({params:,} parameters)",
               "lower g.width / d.width, latent.dim or the network depth")
    per_example = activation_numel_per_example(recipe) if recipe is not None else None
    if per_example is None:  # no probe for this family: a generous multiple of the example's size
        per_example = 64 * example * max(1, cfg.g.width // 8)
    batch = t.batch_size
    needed = 4 * (TRAIN_PARAM_FACTOR * params + TRAIN_ACTIVATION_FACTOR * per_example * batch + 2 * example * batch)
    check_fits(needed, f"training with train.batch_size={batch}", "lower train.batch_size (or the networks' size)")
    grid = t.n_samples * (cfg.latent.dim + example + per_example)
    check_fits(4 * (grid + params), f"train.n_samples={t.n_samples} sample-grid images",
               "lower train.n_samples")


def check_sampling_fits(n: int, recipe, what: str, fix: str) -> None:
    """Refuse drawing ``n`` samples at once when G's outputs alone cannot fit."""
    example = math.prod(recipe.info.shape)
    latent = recipe.cfg.latent.dim
    check_fits(4.0 * n * (example * 2 + latent), what, fix)
