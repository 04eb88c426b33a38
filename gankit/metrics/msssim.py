"""MS-SSIM diversity of generated images (Odena et al. 2017 used it for class-conditional diversity; ProGAN's
Table 1 reports it, Karras et al. 2018): the multi-scale structural similarity (Wang, Simoncelli & Bovik 2003)
of random pairs of generated images, averaged. Lower means more diverse; identical pairs score 1.

Per pair, on 8-bit pixel values (L = 255) as in the authors' ``metrics/ms_ssim.py``:

- at each of 5 scales, a Gaussian window of 11 px and sigma 1.5, shrunk to the image when it is smaller
  (size min(11, H, W), sigma scaled alike), gives local means, variances and the covariance ('valid' positions);
  c = mean over positions and channels of (2 s_xy + C2) / (s_x^2 + s_y^2 + C2) and
  ssim = mean of (2 m_x m_y + C1) / (m_x^2 + m_y^2 + C1) * (2 s_xy + C2) / (s_x^2 + s_y^2 + C2),
  C1 = (0.01 L)^2, C2 = (0.03 L)^2;
- between scales both images are averaged over 2 x 2 blocks and subsampled (an odd last row or column repeated);
- MS-SSIM = prod_{j<5} c_j^{w_j} * ssim_5^{w_5}, w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333).

A negative c or ssim (anti-correlated structure, possible for unrelated digits) is taken as 0 before the power,
as ``tf.image.ssim_multiscale`` does; the authors' numpy code would give NaN there.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import GankitError
from .swd import to_pixel_scale

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
FILTER_SIZE, FILTER_SIGMA, K1, K2, MAX_VALUE = 11, 1.5, 0.01, 0.03, 255.0


def gaussian_window(size: int, sigma: float) -> torch.Tensor:
    """The normalised size x size Gaussian (centred between pixels for an even size)."""
    offset = 0.5 if size % 2 == 0 else 0.0
    coords = torch.arange(size, dtype=torch.float64) - size // 2 + offset
    g = torch.exp(-(coords[:, None] ** 2 + coords[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


def _ssim_and_contrast(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(ssim, contrast-structure c) per pair at one scale, for (N, C, H, W) float64 images."""
    size = min(FILTER_SIZE, a.shape[-2], a.shape[-1])
    sigma = size * FILTER_SIGMA / FILTER_SIZE
    c = a.shape[1]
    window = gaussian_window(size, sigma).to(a).expand(c, 1, size, size)

    def filt(x):
        return F.conv2d(x, window, groups=c)

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    c1, c2 = (K1 * MAX_VALUE) ** 2, (K2 * MAX_VALUE) ** 2
    contrast = (2 * cov + c2) / (var_a + var_b + c2)
    ssim = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1) * contrast
    return ssim.mean((1, 2, 3)), contrast.mean((1, 2, 3))


def _halve(x: torch.Tensor) -> torch.Tensor:
    """2 x 2 block means, subsampled; an odd last row or column is repeated first."""
    x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2), mode="replicate")
    return F.avg_pool2d(x, 2)


def ms_ssim_pairs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of each pair (a[i], b[i]) of (N, C, H, W) images in [-1, 1] (quantised to 8 bits), shape (N,)."""
    if a.shape != b.shape:
        raise GankitError(f"MS-SSIM compares images of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    x, y = to_pixel_scale(a).double(), to_pixel_scale(b).double()
    score = torch.ones(len(x), dtype=torch.float64)
    for j, weight in enumerate(WEIGHTS):
        ssim, contrast = _ssim_and_contrast(x, y)
        last = j == len(WEIGHTS) - 1
        score = score * (ssim if last else contrast).clamp_min(0) ** weight
        if not last:
            x, y = _halve(x), _halve(y)
    return score


def ms_ssim_diversity(images: torch.Tensor, pairs: int = 10000, seed: int = 0, batch: int = 1000) -> float:
    """Mean MS-SSIM over ``pairs`` random pairs of distinct images of the set (lower: more diverse)."""
    n = len(images)
    if n < 2:
        raise GankitError(f"MS-SSIM diversity needs at least 2 images, got {n}")
    gen = torch.Generator().manual_seed(seed)
    first = torch.randint(n, (pairs,), generator=gen)
    second = (first + torch.randint(1, n, (pairs,), generator=gen)) % n  # never the same image
    total = 0.0
    for start in range(0, pairs, batch):
        i, j = first[start:start + batch], second[start:start + batch]
        total += float(ms_ssim_pairs(images[i], images[j]).sum())  # [-1, 1] floats or 8-bit images alike
    score = total / pairs
    if not math.isfinite(score):
        raise GankitError("MS-SSIM came out non-finite; the images hold NaN or infinite values")
    return score
