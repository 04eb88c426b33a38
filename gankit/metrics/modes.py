"""Mode coverage on 2-D mixtures (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018).

Each sample is assigned to its nearest mode centre. It is *high quality* if it lies within
3 standard deviations of that centre. A mode is *covered* if at least ``min_count`` high-quality
samples fall on it. ``mode_kl`` is KL(histogram of high-quality samples over modes || uniform),
0 when every mode gets an equal share.
"""
from __future__ import annotations

import math

import torch


def mode_stats(samples: torch.Tensor, centers: torch.Tensor, std: float, min_count: int = 1) -> dict:
    x = samples.detach().double().cpu()
    c = centers.double().cpu()
    dist = torch.cdist(x, c)
    nearest_d, nearest = dist.min(1)
    hq = nearest_d <= 3 * std
    counts = torch.bincount(nearest[hq], minlength=len(c)).double()
    covered = int((counts >= min_count).sum())
    total = counts.sum()
    if total > 0:
        p = counts / total
        nz = p > 0
        kl = float((p[nz] * torch.log(p[nz] * len(c))).sum())
    else:
        kl = math.inf
    return {
        "modes_covered": covered,
        "n_modes": len(c),
        "high_quality": float(hq.double().mean()),
        "mode_kl": kl,
    }
