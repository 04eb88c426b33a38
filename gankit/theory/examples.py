"""Example 1 of the WGAN paper (Arjovsky, Chintala & Bottou 2017): parallel lines.

Z ~ U[0, 1]; P_0 is the distribution of (0, Z) and P_theta of (theta, Z): two vertical segments a
distance |theta| apart. For theta != 0 the supports are disjoint, so

    W1 = |theta|,  JS = log 2,  KL = +inf,  TV = 1;   and at theta = 0 all are 0.

Only W1 is continuous in theta and gives a useful gradient (sign(theta)); JS and TV are constant
away from 0, so a generator trained through them gets zero gradient: the reason WGAN uses W1.
All values are torch functions of a theta tensor, so ``torch.autograd.grad`` shows those gradients.
"""
from __future__ import annotations

import math

import torch


def parallel_lines(theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Exact distances between P_0 and P_theta as differentiable functions of ``theta``.

    Each is written as the exact formula applied to theta (not a constant), so autograd returns the
    true derivative: sign(theta) for W1, 0 for JS and TV where theta != 0.
    """
    theta = torch.as_tensor(theta, dtype=torch.float64)
    apart = theta != 0
    # JS and TV depend only on whether the supports overlap, not on how far apart they are: they
    # are piecewise constant in theta. "+ 0 * theta" keeps them on theta's graph with that exact
    # derivative, 0.
    on_graph = 0 * theta

    def piecewise(value_if_apart: float) -> torch.Tensor:
        return torch.where(apart, torch.full_like(theta, value_if_apart), torch.zeros_like(theta)) + on_graph

    return {"w1": theta.abs(), "js": piecewise(math.log(2)), "kl": piecewise(math.inf), "tv": piecewise(1.0)}


def sample_parallel_lines(theta: float, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points of P_theta: (theta, z), z ~ U[0, 1]."""
    z = torch.rand(n, generator=generator, dtype=torch.float64)
    return torch.stack([torch.full_like(z, float(theta)), z], 1)
