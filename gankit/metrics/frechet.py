"""Fréchet distance between Gaussians fitted to features (FID: Heusel et al. 2017, eq. 6):

    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}).

Tr((S_1 S_2)^{1/2}) is computed without a general matrix square root. With a factor S_1 = B B^T,
S_1 S_2 is similar to B^T S_2 B, which is symmetric positive semi-definite, so the trace is the sum of
the square roots of its eigenvalues (eigenvalues only: no eigenvectors of the product are needed).
B is the Cholesky factor when S_1 is positive definite (fast), and S_1^{1/2} from an eigendecomposition
when it is singular (fewer samples than dimensions). All in float64; tiny negative eigenvalues from
rounding are clipped to 0.
"""
from __future__ import annotations

import numpy as np

from ..errors import GankitError


class FeatureError(GankitError, ValueError):
    """Features or statistics that cannot be compared (NaN, wrong dimension, another backbone)."""


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased, ddof = 1) of an (N, D) feature array, in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise FeatureError(f"need an (N, D) feature array with N >= 2, got shape {f.shape}")
    if not np.isfinite(f).all():
        raise FeatureError("features contain NaN or Inf; check the images and the backbone")
    return f.mean(0), np.cov(f, rowvar=False)


def _sym_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr((S_1 S_2)^{1/2}) for symmetric PSD S_1, S_2."""
    try:
        b = np.linalg.cholesky((s1 + s1.T) / 2)
    except np.linalg.LinAlgError:
        b = _sym_sqrt(s1)
    m = b.T @ s2 @ b
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(w, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise FeatureError(f"statistics of different dimensions: mean {mu1.shape} / cov {s1.shape} vs "
                           f"mean {mu2.shape} / cov {s2.shape}")
    for name, x in (("mu1", mu1), ("sigma1", s1), ("mu2", mu2), ("sigma2", s2)):
        if not np.isfinite(x).all():
            raise FeatureError(f"{name} contains NaN or Inf")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt_product(s1, s2)
    return float(max(value, 0.0))


def frechet_distance_sqrtm(mu1, sigma1, mu2, sigma2) -> float:
    """The reference route of pytorch-fid / the TTUR code: scipy.linalg.sqrtm of S_1 S_2 (slow; for checks)."""
    from scipy import linalg

    covmean = linalg.sqrtm(np.asarray(sigma1) @ np.asarray(sigma2))
    covmean = (covmean[0] if isinstance(covmean, tuple) else covmean).real
    diff = np.asarray(mu1) - np.asarray(mu2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(real, fake) -> float:
    return frechet_distance(*feature_stats(real), *feature_stats(fake))
