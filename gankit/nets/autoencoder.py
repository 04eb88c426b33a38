"""Critics that are not a single logit: a feature critic and an autoencoder discriminator.

The energy-based objectives (EBGAN, BEGAN, MAGAN) and MMD GAN's injectivity term need D to be an
autoencoder; McGAN and Cramér GAN need D to map x to a feature vector. Both are built from any
registered network family, so every objective still trains every architecture:

- a *feature critic* is the family's discriminator with a ``feature_dim``-wide head;
- an *autoencoder* D pairs that feature critic as the encoder (its head is the code) with the
  family's generator as the decoder (code -> x), as in EBGAN (Zhao et al. 2017, sec. 2.3) and
  BEGAN (Berthelot et al. 2017, sec. 3.3), where D is an encoder-decoder network.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..registry import NETWORKS


class AutoencoderOutput(NamedTuple):
    """What an autoencoder D returns: the code Enc(x) and the residual Dec(Enc(x)) - x (per example)."""

    code: torch.Tensor
    residual: torch.Tensor


class AutoencoderDiscriminator(nn.Module):
    """D(x) = Dec(Enc(x)); forward returns the code and the reconstruction residual, from which each
    objective takes its own energy (EBGAN a mean squared error, BEGAN a mean absolute error)."""

    def __init__(self, cfg, in_shape: tuple, code_dim: int):
        super().__init__()
        family = NETWORKS.get(cfg.name)
        self.encoder = family.discriminator(cfg, tuple(in_shape), code_dim)
        self.decoder = family.generator(cfg, code_dim, tuple(in_shape))

    def forward(self, x: torch.Tensor) -> AutoencoderOutput:
        code = self.encoder(x)
        return AutoencoderOutput(code, self.decoder(code) - x)


def build_critic(cfg, in_shape: tuple, kind: str, feature_dim: int) -> nn.Module | None:
    """D for an objective's critic kind: "scalar" (one output), "features" (``feature_dim`` outputs),
    "autoencoder" (code of ``feature_dim``), or "none" (no D at all, e.g. GMMN)."""
    family = NETWORKS.get(cfg.name)
    if kind == "none":
        return None
    if kind == "autoencoder":
        return AutoencoderDiscriminator(cfg, in_shape, feature_dim)
    return family.discriminator(cfg, tuple(in_shape), feature_dim if kind == "features" else 1)
