"""Building blocks for class-conditional networks.

Labels travel as (N, K) vectors: one-hot for a class, any mix of classes for interpolation between them.

* :func:`concat_labels`: the cGAN input (Mirza & Osindero 2014): the label appended to the input
  features, or, for images, as K constant feature maps (the DCGAN-style conditional D).
* :class:`ConditionalBatchNorm` and :class:`ConditionalBNGenerator`: batch norm whose scale and shift
  are linear in the label (de Vries et al. 2017; used in G by Miyato & Koyama 2018).
* :class:`ProjectionDiscriminator`: D(x, y) = psi(phi(x)) + <embed(y), phi(x)> (Miyato & Koyama 2018,
  eq. 3), wrapped around any :class:`~gankit.nets.blocks.Discriminator`.
"""
from __future__ import annotations

import torch
from torch import nn

from .blocks import Discriminator


def concat_labels(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x (N, D) or (N, C, H, W) with labels y (N, K): (N, D + K) or (N, C + K, H, W)."""
    if x.dim() == 2:
        return torch.cat([x, y.to(x.dtype)], 1)
    maps = y.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
    return torch.cat([x, maps], 1)


def with_label_channels(shape: tuple, num_classes: int) -> tuple:
    """The input shape of a D that sees the labels concatenated by :func:`concat_labels`."""
    return (shape[0] + num_classes,) + tuple(shape[1:])


class ConditionalBatchNorm(nn.Module):
    """Batch norm without its own affine part, followed by gamma(y) x + beta(y) with gamma, beta linear in
    the label vector: gamma(y) = 1 + y W_gamma, beta(y) = y W_beta (both start at the identity).
    The labels are set by the owning :class:`ConditionalBNGenerator` before each forward pass."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, num_classes: int):
        super().__init__()
        self.bn = type(bn)(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=False)
        self.gamma = nn.Linear(num_classes, bn.num_features, bias=False)
        self.beta = nn.Linear(num_classes, bn.num_features, bias=False)
        nn.init.zeros_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)
        self.labels: torch.Tensor | None = None

    def forward(self, x):
        if self.labels is None:
            raise RuntimeError("ConditionalBatchNorm needs labels; call it through ConditionalBNGenerator")
        shape = (len(x), -1) + (1,) * (x.dim() - 2)
        y = self.labels.to(x.dtype)
        return self.bn(x) * (1 + self.gamma(y)).view(shape) + self.beta(y).view(shape)


class ConditionalBNGenerator(nn.Module):
    """A generator whose batch-norm layers all become :class:`ConditionalBatchNorm`. Its input is the
    code [z, y]: z goes to the wrapped generator, y sets every conditional batch norm."""

    def __init__(self, generator: nn.Module, latent_dim: int, num_classes: int):
        super().__init__()
        swapped = 0
        for name, module in list(generator.named_modules()):
            for child_name, child in list(module.named_children()):
                if isinstance(child, nn.modules.batchnorm._BatchNorm):
                    setattr(module, child_name, ConditionalBatchNorm(child, num_classes))
                    swapped += 1
        if swapped == 0:
            raise ValueError("the generator has no batch norm to condition; set g.batch_norm=true")
        self.g, self.latent_dim = generator, latent_dim
        self.cbn = [m for m in generator.modules() if isinstance(m, ConditionalBatchNorm)]

    def forward(self, code):
        z, y = code[:, : self.latent_dim], code[:, self.latent_dim:]
        for m in self.cbn:
            m.labels = y
        try:
            return self.g(z)
        finally:
            for m in self.cbn:
                m.labels = None


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = head(phi(x)) + y V phi(x): the unconditional score plus the inner product of the label's
    embedding with D's features (Miyato & Koyama 2018, eq. 3; V holds one embedding per class)."""

    def __init__(self, d: Discriminator, num_classes: int):
        super().__init__()
        self.d = d
        width = d.head.in_features
        self.embed = nn.Linear(num_classes, width, bias=False)
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, x, y):
        f = self.d.head_input(x)
        return self.d.head(f) + (self.embed(y.to(f.dtype)) * f).sum(1, keepdim=True)
