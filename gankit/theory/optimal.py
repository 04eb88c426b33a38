"""The GAN game in closed form for known densities (Goodfellow et al. 2014, sec. 4).

For densities given as arrays on a shared support (probabilities, or density values times a
cell size on a grid):
- the optimal discriminator D*(x) = p_data(x) / (p_data(x) + p_g(x))  (Proposition 1),
- the value V(D, G) = E_data[log D(x)] + E_g[log(1 - D(x))]  (eq. 1),
- C(G) = max_D V(D, G) = V(D*, G) = -log 4 + 2 JSD(p_data || p_g)  (Theorem 1).
"""
from __future__ import annotations

import math

import torch

from .divergences import _pair, js


def optimal_discriminator(p_data, p_g) -> torch.Tensor:
    """D*(x) = p_data / (p_data + p_g); where both vanish D* is undefined and set to 1/2."""
    p, q = _pair(p_data, p_g)
    total = p + q
    return torch.where(total > 0, p / torch.where(total > 0, total, torch.ones_like(total)), torch.full_like(p, 0.5))


def value(d, p_data, p_g) -> torch.Tensor:
    """V(D, G) = sum_x p_data(x) log D(x) + p_g(x) log(1 - D(x)), with 0 log 0 = 0."""
    (p, q), d = _pair(p_data, p_g), torch.as_tensor(d, dtype=torch.float64)
    real = torch.where(p > 0, p * torch.log(torch.where(p > 0, d, torch.ones_like(d))), torch.zeros_like(p))
    fake = torch.where(q > 0, q * torch.log1p(-torch.where(q > 0, d, torch.zeros_like(d))), torch.zeros_like(q))
    return real.sum() + fake.sum()


def virtual_training_criterion(p_data, p_g) -> torch.Tensor:
    """C(G) = V(D*, G), computed from D* directly (compare with :func:`c_of_g_via_jsd`)."""
    return value(optimal_discriminator(p_data, p_g), p_data, p_g)


def c_of_g_via_jsd(p_data, p_g) -> torch.Tensor:
    """-log 4 + 2 JSD(p_data || p_g): Theorem 1's closed form of C(G)."""
    return -math.log(4.0) + 2 * js(p_data, p_g)
