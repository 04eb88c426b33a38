"""Sliced Wasserstein distance between two image sets, over a Laplacian pyramid of local patches (Karras et al.
2018, ProGAN, sec. 5 and appendix D; after Rabin et al. 2011). It needs no pretrained network.

Per pyramid level (the image itself at 16 px; for larger images the band-pass levels at every size >= 16 px,
finest first, and the Gaussian level at the smallest, as the authors' ``metrics/sliced_wasserstein.py``):

1. descriptors: ``patches`` random 7 x 7 neighbourhoods per image (every valid position equally likely), all
   channels; image i of each set is cut at the same positions (common random numbers: the authors draw them
   independently per set; sharing them removes that part of the sampling noise from the comparison, and makes
   a set against itself score exactly 0); the descriptors of each set are normalised per channel by that set's own mean and std over every
   patch and pixel (the authors' ``finalize_descriptors``), then flattened (7 * 7 * C numbers);
2. for ``repeats`` draws of ``directions`` random unit directions, the descriptors of both sets are projected,
   sorted, and the mean absolute difference of the sorted projections taken (the 1-D Wasserstein-1 distance per
   direction, averaged); the level's SWD is the mean over the draws, times 10^3.

The score reported is the mean over the levels (``swd``), with each level as ``swd_<size>``. The sets must be the
same size (the sorted projections are compared one to one): the larger is subsampled. Images smaller than
16 px have one level, the image itself. Lower is better; a set against itself scores 0.
"""
from __future__ import annotations

import torch

from ..data.base import quantise
from ..data.pyramid import laplacian_pyramid
from ..errors import GankitError

PATCH = 7
MIN_LEVEL_SIZE = 16


def level_sizes(size: int) -> list[int]:
    """The pyramid levels scored for images of ``size`` px: every size >= 16 reached by halving, finest first."""
    sizes = [size]
    while sizes[-1] % 2 == 0 and sizes[-1] // 2 >= MIN_LEVEL_SIZE:
        sizes.append(sizes[-1] // 2)
    return sizes


def pyramid_levels(x: torch.Tensor) -> list[torch.Tensor]:
    """[finest band, ..., the Gaussian image at the smallest scored size] (:func:`level_sizes`)."""
    halvings = len(level_sizes(x.shape[-1])) - 1
    coarse, residuals = laplacian_pyramid(x, halvings)
    return residuals[::-1] + [coarse]


def patch_positions(n: int, per_image: int, h: int, w: int, generator: torch.Generator) -> tuple:
    """(top, left) corners of ``per_image`` random 7 x 7 neighbourhoods in each of n images of h x w px."""
    if h < PATCH or w < PATCH:
        raise GankitError(f"the sliced Wasserstein distance takes 7x7 patches, but the images are {h}x{w} px; "
                          "score images of at least 7x7")
    return (torch.randint(h - PATCH + 1, (n, per_image), generator=generator),
            torch.randint(w - PATCH + 1, (n, per_image), generator=generator))


def patch_descriptors(x: torch.Tensor, per_image: int, generator: torch.Generator, positions=None) -> torch.Tensor:
    """(N * per_image, C, 7, 7) random neighbourhoods of (N, C, H, W) images, ``per_image`` from each (at
    ``positions`` = (top, left) when given)."""
    n, c, h, w = x.shape
    top, left = positions if positions is not None else patch_positions(n, per_image, h, w, generator)
    rows = (top[..., None] + torch.arange(PATCH))[..., :, None]  # (n, p, 7, 1)
    cols = (left[..., None] + torch.arange(PATCH))[..., None, :]  # (n, p, 1, 7)
    img = torch.arange(n)[:, None, None, None]
    patches = x.permute(0, 2, 3, 1)[img, rows, cols]  # (n, p, 7, 7, C)
    return patches.reshape(n * per_image, PATCH, PATCH, c).permute(0, 3, 1, 2)


def normalise(desc: torch.Tensor) -> torch.Tensor:
    """Descriptors minus their per-channel mean, over their per-channel std, flattened (``finalize_descriptors``)."""
    mean = desc.mean((0, 2, 3), keepdim=True)
    std = desc.std((0, 2, 3), keepdim=True, unbiased=False)
    return ((desc - mean) / std.clamp_min(1e-12)).flatten(1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, repeats: int, directions: int,
                       generator: torch.Generator, chunk: int = 16) -> float:
    """Mean over ``repeats`` x ``directions`` random unit directions of the 1-D W1 distance between the projected
    rows of ``a`` and ``b`` (equal counts), computed a ``chunk`` of directions at a time to bound memory."""
    if a.shape != b.shape:
        raise ValueError(f"the two descriptor sets differ in shape: {tuple(a.shape)} and {tuple(b.shape)}")
    per_repeat = []
    for _ in range(repeats):
        dirs = torch.randn(a.shape[1], directions, generator=generator, dtype=torch.float64).to(a.dtype)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        total = 0.0
        for start in range(0, directions, chunk):
            d = dirs[:, start:start + chunk]
            pa, _ = torch.sort(a @ d, dim=0)
            pb, _ = torch.sort(b @ d, dim=0)
            total += float((pa - pb).abs().double().sum())
        per_repeat.append(total / (len(a) * directions))
    return sum(per_repeat) / len(per_repeat)


def to_pixel_scale(x: torch.Tensor) -> torch.Tensor:
    """Images (in [-1, 1], or already 8-bit) as the 8-bit values a saved image holds, as floats (both sets are
    quantised alike)."""
    return (x if x.dtype == torch.uint8 else quantise(x)).float()


def swd(real: torch.Tensor, fake: torch.Tensor, patches: int = 128, repeats: int = 4, directions: int = 128,
        seed: int = 0) -> dict:
    """{"swd_<size>": per level, ..., "swd": their mean}, each x 10^3 (see the module's docstring). ``real`` and
    ``fake`` are (N, C, H, W) images in [-1, 1] of the same shape per image."""
    if real.shape[1:] != fake.shape[1:]:
        raise GankitError(f"the sliced Wasserstein distance compares images of one shape, got {tuple(real.shape[1:])} "
                          f"and {tuple(fake.shape[1:])}")
    n = min(len(real), len(fake))
    if n < 2:
        raise GankitError(f"the sliced Wasserstein distance needs at least 2 images per set, got {n}")
    gen = torch.Generator().manual_seed(seed)
    if len(real) > n:
        real = real[torch.randperm(len(real), generator=gen)[:n]]
    if len(fake) > n:
        fake = fake[torch.randperm(len(fake), generator=gen)[:n]]
    levels_real = pyramid_levels(to_pixel_scale(real))
    levels_fake = pyramid_levels(to_pixel_scale(fake))
    scores = {}
    for lr, lf in zip(levels_real, levels_fake):
        at = patch_positions(n, patches, lr.shape[-2], lr.shape[-1], gen)  # the same places in both sets
        a = normalise(patch_descriptors(lr, patches, gen, at))
        b = normalise(patch_descriptors(lf, patches, gen, at))
        scores[f"swd_{lr.shape[-1]}"] = 1e3 * sliced_wasserstein(a, b, repeats, directions, gen)
    scores["swd"] = sum(scores.values()) / len(scores)
    return scores
