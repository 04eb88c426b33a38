"""Paths between latent codes: linear and spherical interpolation, with the fraction ``t`` given per row.

Shared by ``gankit interpolate`` (a grid of t for every pair) and the perceptual path length
(:mod:`gankit.metrics.ppl`, one t per pair)."""
from __future__ import annotations

import torch


def lerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 - t) a + t b, ``t`` broadcast against ``a`` (e.g. (N, 1) for one t per row)."""
    return a + t * (b - a)


def slerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """sin((1 - t) w) / sin(w) a + sin(t w) / sin(w) b along the last axis, w the angle between a and b (Shoemake
    1985; White 2016, "Sampling generative networks", for Gaussian latents); ``t`` broadcast against the rows.
    Falls back to lerp when the vectors are (anti)parallel."""
    t = t.to(a)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1, 1).unsqueeze(-1)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    safe = so.abs() > eps
    so_safe = torch.where(safe, so, torch.ones_like(so))
    s = torch.where(safe, torch.sin((1 - t) * omega) / so_safe, 1 - t)
    e = torch.where(safe, torch.sin(t * omega) / so_safe, t)
    return s * a + e * b
