"""Parzen-window log-likelihood: the protocol of Goodfellow et al. 2014 (sec. 5, table 1), used by LAPGAN
(Denton et al. 2015, table 1) to compare generators.

A Gaussian kernel density is fitted to N generated samples mu_i (pixels scaled to [0, 1], as in those papers):

    log p(x) = logsumexp_i( -||x - mu_i||^2 / (2 sigma^2) ) - log N - (d / 2) log(2 pi sigma^2),

the bandwidth sigma is the one of a grid (``numpy.logspace(-1, 0, 10)``, as in Goodfellow's code) that
maximises the mean log-likelihood of a validation set, and the score is the mean log-likelihood of a test set,
in nats, with its standard error over the test examples. Computed in blocks of examples x samples, so 10,000
x 10,000 images of 784 pixels never hold more than one block of distances in memory.

It is a crude estimate: in high dimensions it is far from the true log-likelihood, it rewards a model that
copies training images and can rank models differently from their sample quality (Theis, van den Oord &
Bethge 2016, sec. 3.2). gankit offers it for the comparison with those papers' tables, not as a quality score.
"""
from __future__ import annotations

import math

import numpy as np
import torch

#: Goodfellow et al.'s bandwidth grid (their parzen_ll.py: logspace from -1 to 0, 10 values)
DEFAULT_SIGMAS = tuple(np.logspace(-1, 0, 10))


def _as_rows(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).double().flatten(1)


def log_likelihoods(samples, x, sigmas, block: int = 1024) -> np.ndarray:
    """(len(sigmas), len(x)): log p(x_j) under the Gaussian Parzen window on ``samples`` for each sigma."""
    mu, x = _as_rows(samples), _as_rows(x)
    if mu.shape[1] != x.shape[1]:
        raise ValueError(f"samples have {mu.shape[1]} dimensions but the examples have {x.shape[1]}")
    sig = torch.as_tensor(np.asarray(sigmas, dtype=np.float64))
    n, d = mu.shape
    mu_sq = (mu * mu).sum(1)
    out = torch.empty(len(sig), len(x), dtype=torch.float64)
    for start in range(0, len(x), block):
        xb = x[start : start + block]
        x_sq = (xb * xb).sum(1)
        acc = torch.full((len(sig), len(xb)), -math.inf, dtype=torch.float64)
        for s in range(0, n, block):
            m = mu[s : s + block]
            d2 = (x_sq[:, None] + mu_sq[None, s : s + block] - 2 * xb @ m.T).clamp_(min=0)  # (b, m)
            acc = torch.logaddexp(acc, torch.logsumexp(-d2[None] / (2 * sig[:, None, None] ** 2), dim=2))
        out[:, start : start + block] = acc
    out -= math.log(n) + 0.5 * d * torch.log(2 * math.pi * sig**2)[:, None]
    return out.numpy()


def parzen_score(samples, validation, test, sigmas=DEFAULT_SIGMAS) -> dict:
    """{"parzen_ll": mean log p over ``test``, "parzen_ll_se": its standard error, "parzen_sigma": the sigma
    of ``sigmas`` that is best on ``validation``}. Inputs are (N, ...) arrays or tensors in the same scale."""
    sigmas = tuple(float(s) for s in sigmas)
    if not sigmas or min(sigmas) <= 0:
        raise ValueError("the Parzen bandwidths must be positive")
    best = sigmas[int(np.argmax(log_likelihoods(samples, validation, sigmas).mean(1)))]
    ll = log_likelihoods(samples, test, (best,))[0]
    se = float(ll.std(ddof=1) / math.sqrt(len(ll))) if len(ll) > 1 else float("nan")
    return {"parzen_ll": float(ll.mean()), "parzen_ll_se": se, "parzen_sigma": best}


def split_reference(images: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(validation, test): a reference split cut in two halves by a fixed permutation, so that sigma is chosen
    on images the score never sees, and neither half was trained on."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    half = len(images) // 2
    return images[order[:half]], images[order[half:]]


def unit_pixels(x: torch.Tensor) -> torch.Tensor:
    """Images to the [0, 1] pixel scale of the Parzen protocol: uint8 / 255, or floats in [-1, 1] mapped."""
    if x.dtype == torch.uint8:
        return x.double() / 255.0
    return (x.double().clamp(-1, 1) + 1) / 2
