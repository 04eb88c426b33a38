"""Building blocks shared by every architecture: spectral norm, activations, initialisation."""
from __future__ import annotations

import torch
from torch import nn


def activation(name: str | None, default: str) -> nn.Module:
    name = name or default
    return {
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(0.2),
        "tanh": lambda: nn.Tanh(),
        "elu": lambda: nn.ELU(),
    }[name]()


def spectral(layer: nn.Module, on: bool) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018, eq. 8): W / sigma(W), sigma by one power iteration per call."""
    return nn.utils.parametrizations.spectral_norm(layer) if on else layer


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016, sec. 4): weights ~ N(0, 0.02), BN scale ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Discriminator(nn.Module):
    """A body that maps inputs to features, and a head that maps features to ``out_dim`` outputs.

    Recipes that need more heads (AC-GAN's classes, InfoGAN's Q) add them on ``features``.
    """

    feature_dim: int

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class NetworkFamily:
    """A registered architecture: builds a generator and a discriminator for a data shape."""

    @staticmethod
    def generator(cfg, latent_dim: int, out_shape: tuple) -> nn.Module:
        raise NotImplementedError

    @staticmethod
    def discriminator(cfg, in_shape: tuple, out_dim: int = 1) -> Discriminator:
        raise NotImplementedError
