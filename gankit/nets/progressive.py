"""The growing networks of Progressive GAN (Karras, Aila, Laine & Lehtinen 2018, ProGAN), built once for the
final resolution and run at any level of detail.

- **Equalized learning rate** (sec. 4.1): every weight is drawn from N(0, 1) and scaled at run time by
  gain / sqrt(fan_in) (He's constant, gain sqrt(2); 1 for the toRGB layers and D's last dense layer; sqrt(2) / 4
  for G's first dense layer, as the authors' code does). Adam's update is invariant to a weight's scale, so
  every layer then learns at the same speed whatever its fan-in.
- **Pixel norm** in G (sec. 4.2): x / sqrt(mean over channels of x^2 + 1e-8), on the latent and after every
  convolution.
- **Minibatch stddev** in D (sec. 3): one extra feature map at 4 x 4, before the last 3 x 3 convolution, when
  ``d.minibatch_std`` is on (group ``d.minibatch_std_group``).
- **Growing by fading** (sec. 2, fig. 2): at level ``n`` (images of 4 * 2^n px) with fade weight ``alpha``,
  G's output is lerp(nearest-up(toRGB_{n-1}(h_{n-1})), toRGB_n(h_n), alpha), and D's path is
  lerp(fromRGB_{n-1}(avgpool(x)), block_n(fromRGB_n(x)), alpha). At alpha = 1 only the new layers count; at
  alpha = 0 the grown nets equal the previous ones exactly.

Feature maps per level k (4 * 2^k px): min(width * 2^(L - k), max_width) for a final level L, so the coarse
levels are the widest (the paper's nf(stage)).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import group_stddev

LEAK = 0.2


class EqualizedLinear(nn.Module):
    """A dense layer with ProGAN's run-time weight scaling: y = x (w * gain / sqrt(fan_in))^T + b, w ~ N(0, 1).

    ``lr_mul`` (StyleGAN's mapping network, Karras et al. 2019, appendix C: 0.01) slows the layer's learning by
    that factor under Adam: the stored weights are drawn N(0, 1 / lr_mul^2) and both weight and bias are multiplied
    by ``lr_mul`` at run time, so the effective weights start as before but move lr_mul times as far per step.
    ``bias_init`` is the effective bias at the start (StyleGAN's style scales start at 1)."""

    def __init__(self, n_in: int, n_out: int, gain: float = math.sqrt(2), lr_mul: float = 1.0,
                 bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((n_out,), bias_init / lr_mul))
        self.scale = gain / math.sqrt(n_in) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x):
        bias = self.bias * self.lr_mul if self.lr_mul != 1.0 else self.bias
        return F.linear(x, self.weight * self.scale, bias)


class EqualizedConv2d(nn.Module):
    """A k x k convolution (same padding) with ProGAN's run-time scaling gain / sqrt(in_channels * k * k)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, gain: float = math.sqrt(2), bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.scale = gain / math.sqrt(c_in * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each pixel's feature vector divided by its root mean square over the channels (ProGAN, eq. in sec. 4.2)."""
    return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + eps)


def widths(levels: int, width: int, max_width: int) -> list[int]:
    """Feature maps at levels 0 (4 x 4) ... ``levels`` (the final size)."""
    return [min(width * 2 ** (levels - k), max_width) for k in range(levels + 1)]


def _act(x):
    return F.leaky_relu(x, LEAK)


class _ConvPair(nn.Module):
    """Two 3 x 3 equalized convolutions with leaky ReLU (and pixel norm after each, in G)."""

    def __init__(self, c_in: int, c_mid: int, c_out: int, normalise: bool):
        super().__init__()
        self.conv1, self.conv2 = EqualizedConv2d(c_in, c_mid, 3), EqualizedConv2d(c_mid, c_out, 3)
        self.normalise = normalise

    def forward(self, x):
        for conv in (self.conv1, self.conv2):
            x = _act(conv(x))
            if self.normalise:
                x = pixel_norm(x)
        return x


def _check_level(level: int, levels: int) -> None:
    if not 0 <= level <= levels:
        raise ValueError(f"level {level} is outside 0..{levels}")


class ProgressiveGenerator(nn.Module):
    """G(z) at level ``level`` (4 * 2^level px) with fade weight ``alpha`` (see the module's docstring)."""

    def __init__(self, latent_dim: int, channels: int, levels: int, width: int, max_width: int):
        super().__init__()
        nf = widths(levels, width, max_width)
        self.levels, self.latent_dim = levels, latent_dim
        self.dense = EqualizedLinear(latent_dim, nf[0] * 16, gain=math.sqrt(2) / 4)  # the authors' 4 x 4 projection
        self.base = EqualizedConv2d(nf[0], nf[0], 3)
        self.blocks = nn.ModuleList([_ConvPair(nf[k - 1], nf[k], nf[k], normalise=True) for k in range(1, levels + 1)])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(nf[k], channels, 1, gain=1.0) for k in range(levels + 1)])

    def forward(self, z: torch.Tensor, level: Optional[int] = None, alpha: float = 1.0) -> torch.Tensor:
        level = self.levels if level is None else level
        _check_level(level, self.levels)
        x = pixel_norm(z.reshape(len(z), -1))
        x = pixel_norm(_act(self.dense(x).reshape(len(z), -1, 4, 4)))
        x = pixel_norm(_act(self.base(x)))
        previous = x
        for k in range(1, level + 1):
            previous = x
            x = self.blocks[k - 1](F.interpolate(x, scale_factor=2, mode="nearest"))
        out = self.to_rgb[level](x)
        if alpha < 1.0 and level > 0:
            old = F.interpolate(self.to_rgb[level - 1](previous), scale_factor=2, mode="nearest")
            out = torch.lerp(old, out, alpha)
        return out


class ProgressiveDiscriminator(nn.Module):
    """D(x) for images of 4 * 2^level px, the level read from x's size, with fade weight ``alpha``;
    ``out_dim`` outputs (1, or 1 + classes for an AC-GAN head)."""

    def __init__(self, channels: int, levels: int, width: int, max_width: int, mbstd_group: int = 0,
                 out_dim: int = 1):
        super().__init__()
        nf = widths(levels, width, max_width)
        self.levels, self.mbstd_group = levels, mbstd_group
        self.from_rgb = nn.ModuleList([EqualizedConv2d(channels, nf[k], 1) for k in range(levels + 1)])
        # block k maps level k's maps to level k - 1's (then 2 x 2 average pooling)
        self.blocks = nn.ModuleList([_ConvPair(nf[k], nf[k], nf[k - 1], normalise=False) for k in range(1, levels + 1)])
        extra = 1 if mbstd_group else 0
        self.final_conv = EqualizedConv2d(nf[0] + extra, nf[0], 3)
        self.final_dense = EqualizedLinear(nf[0] * 16, nf[0])
        self.head = EqualizedLinear(nf[0], out_dim, gain=1.0)

    def level_of(self, x: torch.Tensor) -> int:
        size = x.shape[-1]
        level = int(round(math.log2(size / 4))) if size >= 4 else -1
        if 4 * 2**level != size or not 0 <= level <= self.levels:
            raise ValueError(f"images of {size} px do not match any level of this D (4 ... {4 * 2**self.levels} px)")
        return level

    def forward(self, x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        level = self.level_of(x)
        h = _act(self.from_rgb[level](x))
        for k in range(level, 0, -1):
            h = F.avg_pool2d(self.blocks[k - 1](h), 2)
            if k == level and alpha < 1.0:
                old = _act(self.from_rgb[k - 1](F.avg_pool2d(x, 2)))
                h = torch.lerp(old, h, alpha)
        if self.mbstd_group:
            std = group_stddev(h.flatten(1), self.mbstd_group)
            h = torch.cat([h, std[:, None, None, None].expand(-1, 1, *h.shape[2:])], 1)
        h = _act(self.final_conv(h))
        h = _act(self.final_dense(h.flatten(1)))
        return self.head(h)
