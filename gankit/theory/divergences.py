"""Exact divergences and distances between distributions (natural log throughout).

Discrete distributions are 1-D tensors of probabilities on a shared support. Everything is written
in float64 torch, so it is exact to rounding and differentiable with autograd.
"""
from __future__ import annotations

import math

import torch

from ..errors import GankitError


class DistributionError(GankitError, ValueError):
    """An input that is not a probability distribution, or two distributions on different supports."""


def _weights(p, name="p") -> torch.Tensor:
    p = torch.as_tensor(p, dtype=torch.float64)
    if p.dim() != 1 or len(p) == 0:
        raise DistributionError(f"{name} must be a non-empty 1-D array of probabilities, got shape {tuple(p.shape)}")
    bad = torch.nonzero(p < 0).flatten()
    if len(bad):
        i = int(bad[0])
        raise DistributionError(f"{name} has negative entries, e.g. {name}[{i}] = {float(p[i])}")
    return p


def _prob(p, name="p") -> torch.Tensor:
    p = _weights(p, name)
    total = float(p.detach().sum())
    if abs(total - 1.0) > 1e-9:
        raise DistributionError(f"{name} sums to {total!r}, not 1; pass normalize({name}) for a histogram")
    return p


def _pair(p, q) -> tuple[torch.Tensor, torch.Tensor]:
    p, q = _prob(p, "p"), _prob(q, "q")
    if p.shape != q.shape:
        raise DistributionError(f"p and q are on different supports ({len(p)} vs {len(q)} points); "
                                "evaluate both on the same points")
    return p, q


def normalize(p) -> torch.Tensor:
    """A histogram (any non-negative weights) as probabilities summing to 1."""
    p = _weights(p)
    return p / p.sum()


def kl(p, q) -> torch.Tensor:
    """KL(p || q) = sum_x p(x) log(p(x) / q(x)), with 0 log 0 = 0 and +inf where p > 0 = q."""
    p, q = _pair(p, q)
    support = p > 0
    if bool((q[support] == 0).any()):
        return torch.tensor(math.inf, dtype=torch.float64)
    ps, qs = p[support], q[support]
    return (ps * (torch.log(ps) - torch.log(qs))).sum()


def js(p, q) -> torch.Tensor:
    """Jensen-Shannon divergence JSD(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2.

    Bounded by log 2, reached for disjoint supports. (Some slides drop the 1/2; with it,
    C(G) = -log 4 + 2 JSD as in Goodfellow et al. 2014, Theorem 1.)
    """
    p, q = _pair(p, q)
    m = 0.5 * (p + q)
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def total_variation(p, q) -> torch.Tensor:
    """TV(p, q) = sup_A |p(A) - q(A)| = 1/2 sum_x |p(x) - q(x)|."""
    p, q = _pair(p, q)
    return 0.5 * (p - q).abs().sum()


def w1_histograms(p, q, positions) -> torch.Tensor:
    """W1 between two distributions on the same sorted 1-D points: the integral of |F_p - F_q|."""
    p, q = _pair(p, q)
    x = torch.as_tensor(positions, dtype=torch.float64)
    if x.shape != p.shape:
        raise DistributionError(f"positions has {len(x)} points but p and q have {len(p)}")
    if (torch.diff(x) < 0).any():
        raise DistributionError("positions must be sorted in increasing order")
    gap = torch.cumsum(p - q, 0)[:-1]
    return (gap.abs() * torch.diff(x)).sum()


def w1_densities(p, q, grid) -> torch.Tensor:
    """W1 between two 1-D densities evaluated on a uniform grid (Riemann sums of the CDFs)."""
    x = torch.as_tensor(grid, dtype=torch.float64)
    dx = x[1] - x[0]
    p, q = _weights(p, "p") * dx, _weights(q, "q") * dx
    for name, m in (("p", p), ("q", q)):
        if abs(float(m.sum()) - 1) > 1e-3:
            raise DistributionError(f"density {name} integrates to {float(m.sum()):.6f} on this grid, not 1; "
                                    "widen or refine the grid")
    return w1_histograms(p / p.sum(), q / q.sum(), x)


def w1_samples(u, v, u_weights=None, v_weights=None) -> torch.Tensor:
    """Exact W1 between two 1-D empirical distributions (any sizes, optional weights):
    the integral of |F_u - F_v| over the merged sorted sample points."""
    u = torch.as_tensor(u, dtype=torch.float64).flatten()
    v = torch.as_tensor(v, dtype=torch.float64).flatten()
    uw = torch.ones_like(u) if u_weights is None else torch.as_tensor(u_weights, dtype=torch.float64)
    vw = torch.ones_like(v) if v_weights is None else torch.as_tensor(v_weights, dtype=torch.float64)
    u_sorted, ui = torch.sort(u)
    v_sorted, vi = torch.sort(v)
    u_cum = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(uw[ui], 0)]) / uw.sum()
    v_cum = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(vw[vi], 0)]) / vw.sum()
    points, _ = torch.sort(torch.cat([u, v]))
    left = points[:-1]
    fu = u_cum[torch.searchsorted(u_sorted, left, right=True)]
    fv = v_cum[torch.searchsorted(v_sorted, left, right=True)]
    return ((fu - fv).abs() * torch.diff(points)).sum()
