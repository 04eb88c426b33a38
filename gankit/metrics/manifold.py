"""k-nearest-neighbour estimates of sample quality and diversity in feature space.

- Precision and recall, Kynkäänniemi et al. 2019 (k = 3): each set's manifold is the union of
  balls around its points with radius the distance to the k-th nearest neighbour; precision is the
  fraction of fake points inside the real manifold, recall the fraction of real points inside the fake one.
- Density and coverage, Naeem et al. 2020, eq. 3-4 (k = 5): density = 1/(kM) sum_j sum_i
  1[Y_j in B(X_i, NND_k(X_i))]; coverage = 1/N sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))].

Ties on a ball's boundary: precision and recall count them as inside (``<=``, as Kynkäänniemi et al.'s code
does); density and coverage count them as outside (``<``, as Naeem et al.'s official code, ``prdc``, does), so a
tie-free set scored against itself has density exactly 1.
"""
from __future__ import annotations

import numpy as np
import torch

from .frechet import FeatureError


def _dist(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    return torch.cdist(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64))


def kth_neighbour_radii(x: np.ndarray, k: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest other point."""
    if len(x) <= k:
        raise FeatureError(f"k = {k} nearest neighbours need more than {k} samples, got {len(x)}")
    d = _dist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # +1: the point itself is at distance 0


def precision_recall(real, fake, k: int = 3) -> tuple[float, float]:
    real, fake = np.asarray(real), np.asarray(fake)
    r_real, r_fake = kth_neighbour_radii(real, k), kth_neighbour_radii(fake, k)
    d = _dist(real, fake)  # (N_real, N_fake)
    precision = (d <= r_real[:, None]).any(0).double().mean()
    recall = (d <= r_fake[None, :]).any(1).double().mean()
    return float(precision), float(recall)


def density_coverage(real, fake, k: int = 5) -> tuple[float, float]:
    real, fake = np.asarray(real), np.asarray(fake)
    radii = kth_neighbour_radii(real, k)
    inside = _dist(real, fake) < radii[:, None]  # (N_real, N_fake); strict, as in the official prdc code
    density = inside.double().sum() / (k * len(fake))
    coverage = inside.any(1).double().mean()
    return float(density), float(coverage)
