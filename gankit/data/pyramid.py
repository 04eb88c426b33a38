"""Gaussian and Laplacian image pyramids (Burt & Adelson 1983), as LAPGAN uses them (Denton et al. 2015,
sec. 3.1) and as ProGAN's sliced Wasserstein distance builds them.

One fixed pair of operators is used everywhere:

- ``pyr_down(x)``: blur with the 5-tap binomial kernel [1, 4, 6, 4, 1] / 16 in each direction (a discrete
  Gaussian), then keep every other pixel: (H, W) -> (H / 2, W / 2);
- ``pyr_up(x)``: insert a zero after every pixel in each direction, then blur with 4 times that kernel:
  (H, W) -> (2H, 2W). The 4 restores the mean brightness: a constant image stays constant.

Borders are mirrored without repeating the edge pixel (``reflect``; scipy's ``mode='mirror'``), as in the
ProGAN authors' pyramid. A Laplacian pyramid of levels L of an image I_L is the coarse image
I_0 = down^L(I_L) and the band-pass residuals h_k = I_k - up(I_{k-1}) for k = 1..L, with
I_{k-1} = down(I_k); it rebuilds I_L exactly: I_k = up(I_{k-1}) + h_k.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError

BINOMIAL_5 = (1.0, 4.0, 6.0, 4.0, 1.0)


def _kernel(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor(BINOMIAL_5, dtype=x.dtype, device=x.device) / 16.0
    return torch.outer(k, k)


def blur(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """The separable 5x5 binomial blur of (N, C, H, W) images, times ``gain``, borders mirrored."""
    c = x.shape[1]
    k = (_kernel(x) * gain).expand(c, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=c)


def check_size(size: int, levels: int, what: str = "the image size") -> int:
    """The coarsest size of a pyramid of ``levels`` halvings of ``size``; refused in one line when a level
    would be odd or smaller than 4 pixels (the 5-tap mirror needs at least 3)."""
    coarsest = size
    for _ in range(levels):
        if coarsest % 2 or coarsest // 2 < 4:
            raise ConfigError(f"{what} {size} cannot be halved {levels} times down to at least 4 px "
                              f"(each level must be even); use {levels} levels with a size divisible by "
                              f"{2 ** levels} and >= {4 * 2 ** levels}, or fewer levels")
        coarsest //= 2
    return coarsest


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """Blur, then keep every other row and column: (N, C, H, W) -> (N, C, H/2, W/2)."""
    return blur(x)[..., ::2, ::2]


def pyr_up(x: torch.Tensor) -> torch.Tensor:
    """Zero-insert to twice the size, then blur with gain 4: (N, C, H, W) -> (N, C, 2H, 2W)."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[..., ::2, ::2] = x
    return blur(up, gain=4.0)


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[I_0 (coarsest), ..., I_L = x]: ``levels`` successive ``pyr_down`` of x, coarse to fine."""
    out = [x]
    for _ in range(levels):
        out.append(pyr_down(out[-1]))
    return out[::-1]


def laplacian_pyramid(x: torch.Tensor, levels: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(I_0, [h_1, ..., h_L]): the coarse image and the residuals h_k = I_k - up(I_{k-1}), coarse to fine."""
    images = gaussian_pyramid(x, levels)
    return images[0], [fine - pyr_up(coarse) for coarse, fine in zip(images[:-1], images[1:])]


def reconstruct(coarse: torch.Tensor, residuals: list[torch.Tensor]) -> torch.Tensor:
    """I_L from I_0 and the residuals: I_k = up(I_{k-1}) + h_k."""
    x = coarse
    for h in residuals:
        x = pyr_up(x) + h
    return x


def lowpass_ratio(h: torch.Tensor) -> float:
    """How much of a set of residual images lives in the low band: rms(pyr_down(h)) / rms(h), the root mean
    squares over all pixels of the set. A band-pass residual (a real Laplacian level) has little left after
    the blur and gives a small ratio; a smooth image gives about 1 (LAPGAN, issue 21's first claim)."""
    h = h.double()
    rms = h.pow(2).mean().sqrt()
    return float(pyr_down(h).pow(2).mean().sqrt() / rms.clamp_min(1e-12))
