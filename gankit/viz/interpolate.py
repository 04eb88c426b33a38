"""Walks through latent space: linear and spherical interpolation (White 2016, "Sampling generative
networks": slerp keeps Gaussian latents at a typical norm)."""
from __future__ import annotations

import torch


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 - t) z0 + t z1 for each t; z0, z1: (N, D), t: (T,) -> (T, N, D)."""
    t = t.view(-1, 1, 1).to(z0)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1, w the angle between z0 and z1; -> (T, N, D).
    Falls back to lerp when the vectors are (anti)parallel."""
    t = t.view(-1, 1, 1).to(z0)
    cos = torch.nn.functional.cosine_similarity(z0, z1, dim=-1).clamp(-1, 1).unsqueeze(-1)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    safe = so.abs() > eps
    so_safe = torch.where(safe, so, torch.ones_like(so))
    s = torch.where(safe, torch.sin((1 - t) * omega) / so_safe, 1 - t)
    e = torch.where(safe, torch.sin(t * omega) / so_safe, t)
    return s * z0 + e * z1
