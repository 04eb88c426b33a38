"""Sharpness of images: the energy of the finest band of a Laplacian pyramid.

For an image x, h = x - up(down(x)) is what the one-octave blur removes (the finest Laplacian level, with
gankit's 5-tap Gaussian pair, :mod:`gankit.data.pyramid`); its mean square over the pixels is the image's
high-frequency energy. Blurring an image lowers it, so a set of blurry samples (the slides' "VAE results are
blurry") scores below sharp ones, and the real images' value is the reference. It is the pyramid form of the
familiar variance-of-the-Laplacian focus measure (Pech-Pacheco et al. 2000).
"""
from __future__ import annotations

import torch

from ..data.pyramid import check_size, pyr_down, pyr_up


def high_frequency_energy(x: torch.Tensor) -> torch.Tensor:
    """Per image: mean over pixels and channels of (x - up(down(x)))^2, for (N, C, H, W) images in [-1, 1]."""
    if x.dim() != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {tuple(x.shape)}")
    check_size(x.shape[-1], 1, "the image size")
    check_size(x.shape[-2], 1, "the image height")
    x = x.double()
    return (x - pyr_up(pyr_down(x))).pow(2).flatten(1).mean(1)
