"""Penalties on D's gradient that need D and its inputs, not only its outputs.

Each returns ``weight * penalty``; ``d`` is a callable that maps inputs to D's raw output.
Randomness comes from torch's global generator, so a seeded run repeats exactly.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from ..errors import ConfigError


def _input_grad(d: Callable, x: torch.Tensor) -> torch.Tensor:
    """d D(x) / d x, per example, flattened to (N, -1), with a graph so the penalty can be minimised."""
    x = x.detach().requires_grad_(True)
    out = d(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1)


def _per_example(shape, like: torch.Tensor) -> torch.Tensor:
    """One U[0, 1) coefficient per example, broadcast over the other dimensions."""
    return torch.rand((shape[0],) + (1,) * (len(shape) - 1), device=like.device, dtype=like.dtype)


class GradientPenalty:
    """WGAN-GP, Gulrajani et al. 2017, eq. 3: lambda * E[(||grad D(x_hat)||_2 - 1)^2],
    x_hat = t x + (1 - t) x_tilde with one t ~ U[0, 1] per example (not per pixel)."""

    default_weight = 10.0

    def __init__(self, weight: float):
        self.weight = weight

    def points(self, real, fake):
        t = _per_example(real.shape, real)
        return t * real.detach() + (1 - t) * fake.detach()

    def __call__(self, d, real, fake):
        grad = _input_grad(d, self.points(real, fake))
        return self.weight * ((grad.norm(2, dim=1) - 1) ** 2).mean()


class DraganPenalty(GradientPenalty):
    """DRAGAN, Kodali et al. 2017, eq. 1 / reference code: the same (||grad|| - 1)^2 penalty at points
    near the real data: x_p = x + 0.5 * std(x) * u, u ~ U[0, 1] per element, and x_hat between x and x_p
    with one coefficient per example."""

    def points(self, real, fake):
        real = real.detach()
        perturbed = real + 0.5 * real.std() * torch.rand_like(real)
        t = _per_example(real.shape, real)
        return t * real + (1 - t) * perturbed


class R1Penalty:
    """R1, Mescheder, Geiger & Nowozin 2018, eq. 9: (gamma / 2) * E_real[||grad D(x)||^2]."""

    default_weight = 10.0

    def __init__(self, weight: float):
        self.weight = weight

    def __call__(self, d, real, fake):
        grad = _input_grad(d, real)
        return 0.5 * self.weight * grad.pow(2).sum(1).mean()


PENALTIES = {"gp": GradientPenalty, "dragan": DraganPenalty, "r1": R1Penalty}


def build_penalty(name: Optional[str], weight: Optional[float]):
    if name in (None, "none"):
        return None
    if name not in PENALTIES:
        raise ConfigError(f"unknown penalty '{name}'; choose one of: none, {', '.join(PENALTIES)}")
    cls = PENALTIES[name]
    return cls(cls.default_weight if weight is None else weight)
