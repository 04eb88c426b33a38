"""The style-based generator of StyleGAN (Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for
Generative Adversarial Networks"), as its first version and the lecture slides describe it: AdaIN, not StyleGAN2's
weight demodulation.

- **Mapping network** f: z -> w (sec. 2): pixel norm on z, then ``mapping_layers`` equalized dense layers with
  leaky ReLU 0.2 and a learning-rate multiplier of 0.01 (appendix C). 0 layers is the paper's "traditional"
  ablation row: w is the normalised z.
- **Synthesis network** g: per resolution from 4 x 4 to the final size, two layers, each
  conv 3 x 3 (the first layer at 4 x 4 starts from a **learned constant**, initialised to ones, instead) ->
  **noise** (one N(0, 1) image per layer, times learned per-channel weights that start at 0) -> bias ->
  leaky ReLU -> **AdaIN**(x, y) = y_s (x - mu(x)) / sigma(x) + y_b (eq. 1; instance statistics per channel), with
  y = A(w) a learned affine map whose scale part starts at 1. Up-sampling doubles the size (nearest) before the
  first convolution of a resolution and blurs with the [1, 2, 1] filter after it (sec. 3 and appendix C). A 1 x 1
  toRGB gives the image. The paper's other ablation, no constant input, feeds w through a dense layer to the
  4 x 4 maps instead (``const_input=False``).
- The generator is built for its final size (the paper grew it progressively as ProGAN; gankit trains it at the
  final size from the start, as StyleGAN2 does, with ProGAN's D).

The synthesis network takes one w per layer, shape (N, layers, w_dim), so that style mixing and truncation are
just choices of which w each layer gets (:mod:`gankit.recipes.stylegan`), and one noise image per layer (given by
the caller, so that a sample is a function of its code; or the fixed images drawn at build time, for figures that
hold the noise still).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .progressive import EqualizedConv2d, EqualizedLinear, LEAK, pixel_norm, widths

MAPPING_LR_MUL = 0.01


class MappingNetwork(nn.Module):
    """z -> w: pixel norm, then ``layers`` equalized dense layers (lr multiplier 0.01) with leaky ReLU."""

    def __init__(self, z_dim: int, w_dim: int, layers: int):
        super().__init__()
        if layers == 0 and z_dim != w_dim:
            raise ValueError(f"without mapping layers w is z itself: z_dim {z_dim} must equal w_dim {w_dim}")
        dims = [z_dim] + [w_dim] * layers
        self.layers = nn.ModuleList([EqualizedLinear(a, b, lr_mul=MAPPING_LR_MUL) for a, b in zip(dims, dims[1:])])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(z)
        for layer in self.layers:
            x = F.leaky_relu(layer(x), LEAK)
        return x


def adain(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """AdaIN (Huang & Belongie 2017; StyleGAN eq. 1): each channel normalised to zero mean and unit std over its
    pixels, then scaled by ``scale`` and shifted by ``bias`` (both (N, C))."""
    x = x - x.mean((2, 3), keepdim=True)
    x = x * torch.rsqrt(x.pow(2).mean((2, 3), keepdim=True) + eps)
    return x * scale[:, :, None, None] + bias[:, :, None, None]


def blur(x: torch.Tensor) -> torch.Tensor:
    """The separable [1, 2, 1] / 4 low-pass filter of StyleGAN's up-sampling, borders replicated."""
    k = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
    k = (k[:, None] * k[None, :] / 16).expand(x.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=x.shape[1])


class StyledLayer(nn.Module):
    """(conv) -> noise -> bias -> leaky ReLU -> AdaIN(., A(w)). ``conv=None`` for the constant-input layer."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, size: int, upsample: bool, conv: bool, use_noise: bool):
        super().__init__()
        # the layer's own bias is added after the noise, so the convolution carries none
        self.conv = EqualizedConv2d(c_in, c_out, 3, bias=False) if conv else None
        self.upsample = upsample
        self.use_noise = use_noise
        self.noise_weight = nn.Parameter(torch.zeros(c_out))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.style = EqualizedLinear(w_dim, 2 * c_out, gain=1.0)  # [y_s, y_b]
        with torch.no_grad():
            self.style.bias[:c_out] = 1.0  # y_s starts at 1
        self.register_buffer("fixed_noise", torch.randn(1, 1, size, size))
        self.size = size

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``noise``: this layer's (N, 1, size, size) noise image; None uses the fixed one drawn at build time."""
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.conv is not None:
            x = self.conv(x)
            if self.upsample:
                x = blur(x)
        if self.use_noise:
            n = self.fixed_noise.to(x.dtype).expand(len(x), -1, -1, -1) if noise is None else noise.to(x.dtype)
            x = x + self.noise_weight[None, :, None, None] * n
        x = F.leaky_relu(x + self.bias[None, :, None, None], LEAK)
        scale, bias = self.style(w).chunk(2, dim=1)
        return adain(x, scale, bias)


class StyleSynthesis(nn.Module):
    """The synthesis network g(w_1, ..., w_L) (see the module's docstring); ``num_layers`` = 2 per resolution."""

    def __init__(self, channels: int, size: int, w_dim: int, width: int, max_width: int, use_noise: bool = True,
                 const_input: bool = True):
        super().__init__()
        levels = int(round(math.log2(size / 4)))
        nf = widths(levels, width, max_width)
        self.w_dim, self.const_input = w_dim, const_input
        if const_input:
            self.const = nn.Parameter(torch.ones(1, nf[0], 4, 4))
        else:
            self.input = EqualizedLinear(w_dim, nf[0] * 16, gain=math.sqrt(2) / 4)
        layers = [StyledLayer(nf[0], nf[0], w_dim, 4, upsample=False, conv=False, use_noise=use_noise),
                  StyledLayer(nf[0], nf[0], w_dim, 4, upsample=False, conv=True, use_noise=use_noise)]
        for k in range(1, levels + 1):
            s = 4 * 2**k
            layers += [StyledLayer(nf[k - 1], nf[k], w_dim, s, upsample=True, conv=True, use_noise=use_noise),
                       StyledLayer(nf[k], nf[k], w_dim, s, upsample=False, conv=True, use_noise=use_noise)]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = EqualizedConv2d(nf[levels], channels, 1, gain=1.0)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def noise_sizes(self) -> list[int]:
        """The side of each layer's noise image, in layer order."""
        return [layer.size for layer in self.layers]

    def forward(self, ws: torch.Tensor, noises: Optional[list] = None) -> torch.Tensor:
        """Images from per-layer styles ``ws`` (N, num_layers, w_dim) and per-layer noise images (None: the fixed
        ones)."""
        n = len(ws)
        if self.const_input:
            x = self.const.expand(n, -1, -1, -1)
        else:
            x = F.leaky_relu(self.input(ws[:, 0]).reshape(n, -1, 4, 4), LEAK)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], None if noises is None else noises[i])
        return self.to_rgb(x)


class StyleGenerator(nn.Module):
    """f and g together, with the running average w-bar of the mapping's outputs (a buffer, so that it travels with
    the weights, the EMA copy and every checkpoint, and truncation works on a run loaded from disk)."""

    def __init__(self, z_dim: int, channels: int, size: int, w_dim: int, mapping_layers: int, width: int,
                 max_width: int, use_noise: bool = True, const_input: bool = True):
        super().__init__()
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers)
        self.synthesis = StyleSynthesis(channels, size, w_dim, width, max_width, use_noise, const_input)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.latent_dim = z_dim

    @property
    def num_layers(self) -> int:
        return self.synthesis.num_layers

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """One w for every layer: (N, w_dim) -> (N, num_layers, w_dim)."""
        return w[:, None].expand(-1, self.num_layers, -1)

    def forward(self, z: torch.Tensor, noises: Optional[list] = None) -> torch.Tensor:
        return self.synthesis(self.broadcast(self.mapping(z)), noises)
