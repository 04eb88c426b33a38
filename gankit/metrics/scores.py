"""Inception Score and Kernel Inception Distance."""
from __future__ import annotations

import numpy as np

from .frechet import FeatureError


def inception_score(probs, splits: int = 10, eps: float = 1e-12) -> tuple[float, float]:
    """IS = exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016, sec. 4), over ``splits`` chunks cut where the
    original code (openai/improved-gan) cuts them, at floor(i N / splits); returns (mean, std) across chunks."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or not np.isfinite(p).all():
        raise FeatureError(f"probs must be a finite (N, classes) array, got shape {p.shape}")
    if len(p) < splits:
        raise FeatureError(f"inception score with {splits} splits needs at least {splits} samples, got {len(p)}")
    scores = []
    bounds = [i * len(p) // splits for i in range(splits + 1)]
    for chunk in (p[a:b] for a, b in zip(bounds[:-1], bounds[1:])):
        py = chunk.mean(0, keepdims=True)
        kl = (chunk * (np.log(chunk + eps) - np.log(py + eps))).sum(1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0) -> float:
    """Unbiased MMD^2 with the kernel k(a, b) = (a.b / d + coef)^degree (Bińkowski et al. 2018, eq. 4, KID)."""
    d = x.shape[1]
    kxx = (x @ x.T / d + coef) ** degree
    kyy = (y @ y.T / d + coef) ** degree
    kxy = (x @ y.T / d + coef) ** degree
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kernel_inception_distance(real, fake, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID: the mean and std of the unbiased polynomial MMD^2 over ``subsets`` random subsets of
    ``subset_size`` from each set (the reference protocol: 100 subsets of 1000). The estimate is unbiased
    for independent sets; a set scored against itself has overlapping subsets, whose exact self-pairs
    pull it slightly below 0."""
    x, y = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if x.shape[1] != y.shape[1]:
        raise FeatureError(f"features of different dimensions: {x.shape[1]} vs {y.shape[1]}")
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise FeatureError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    vals = [polynomial_mmd2_unbiased(x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)])
            for _ in range(subsets)]
    return float(np.mean(vals)), float(np.std(vals))
