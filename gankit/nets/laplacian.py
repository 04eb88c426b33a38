"""The networks of one LAPGAN level (Denton et al. 2015, sec. 3 and 4; the authors' code, eyescream).

Level k > 0 of the pyramid is a conditional GAN on the band-pass residual h_k, given the up-sampled
coarser image l_k:

- :class:`LevelGenerator` G_k(z_k, l_k) -> h~_k: three same-size convolutions (7x7, 7x7, 5x5, ReLU between,
  a linear output: residuals are signed) over l_k with the noise z_k stacked as one extra image plane;
- :class:`LevelDiscriminator` D_k(l_k + h): 5x5 convolution, ReLU, 5x5 convolution with stride 2, ReLU,
  dropout, one linear output. The recipe adds l_k to the residual, real or generated, before D sees it.

:class:`LabelPlane` is the class conditioning of CC-LAPGAN: the one-hot label through a linear layer to one
feature plane of the level's size, stacked with the network's input (:class:`PlaneConditioned`).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .blocks import Discriminator


class LevelGenerator(nn.Module):
    """h~ = G(input planes): ``in_planes`` (l's channels, the noise plane, a label plane) to ``channels``."""

    def __init__(self, in_planes: int, channels: int, width: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_planes, width, 7, padding=3), nn.ReLU(),
            nn.Conv2d(width, width, 7, padding=3), nn.ReLU(),
            nn.Conv2d(width, channels, 5, padding=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LevelDiscriminator(Discriminator):
    """D(l + h) for ``in_planes`` x size x size inputs: conv 5x5, ReLU, conv 5x5 stride 2, ReLU, dropout, linear."""

    def __init__(self, in_planes: int, size: int, width: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_planes, width, 5, padding=2), nn.ReLU(),
            nn.Conv2d(width, width, 5, stride=2, padding=2), nn.ReLU(),
            nn.Dropout(dropout), nn.Flatten())
        self.feature_dim = width * ((size + 1) // 2) ** 2
        self.head = nn.Linear(self.feature_dim, 1)

    def features(self, x):
        return self.body(x)


class LabelPlane(nn.Module):
    """One-hot labels (N, K) -> one (N, 1, size, size) feature plane through a linear layer (CC-LAPGAN)."""

    def __init__(self, num_classes: int, size: int):
        super().__init__()
        self.size = size
        self.linear = nn.Linear(num_classes, size * size)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.linear(y).view(len(y), 1, self.size, self.size)


class PlaneConditioned(nn.Module):
    """``net`` on its image input with the label's plane stacked behind it when ``num_classes`` > 0; without
    classes it is ``net`` itself (the same weights' names either way, under ``net.``)."""

    def __init__(self, net: nn.Module, num_classes: int = 0, size: int = 0):
        super().__init__()
        self.net = net
        self.plane = LabelPlane(num_classes, size) if num_classes else None

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.plane is not None:
            if y is None:
                raise ValueError("this class-conditional network needs labels")
            x = torch.cat([x, self.plane(y.to(x.dtype))], 1)
        return self.net(x)
