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


def group_stddev(f: torch.Tensor, group: int) -> torch.Tensor:
    """Minibatch standard deviation (Karras et al. 2018, ProGAN, sec. 3): within groups of ``group``
    samples, the std of every feature over the group, averaged over the features: one number per group,
    returned for each of its samples, shape (N,). A collapsed batch (all samples alike) gets 0, so D can
    see a lack of variety. A batch that ``group`` does not divide is one group."""
    n = f.shape[0]
    g = group if n % group == 0 else n
    grouped = f.reshape(g, n // g, -1)  # sample i is in group i % (n // g), as in ProGAN
    std = torch.sqrt(grouped.var(0, unbiased=False) + 1e-8).mean(-1)  # (n // g,)
    return std.repeat(g)


def minibatch_stddev(f: torch.Tensor, group: int) -> torch.Tensor:
    """``f`` (N, features) with :func:`group_stddev` appended as one more feature. Applied to D's flattened
    final feature maps, this is ProGAN's statistic; appending it as one feature before the linear head equals
    ProGAN's constant extra map."""
    return torch.cat([f, group_stddev(f, group)[:, None]], 1)


class Discriminator(nn.Module):
    """A body that maps inputs to features, and a head that maps features to ``out_dim`` outputs.

    Recipes that need more heads (AC-GAN's classes, InfoGAN's Q) add them on ``features``.
    ``add_minibatch_std`` (called by subclasses) appends the minibatch-std feature before the head.
    """

    feature_dim: int
    mbstd_group: int = 0

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def head_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the head sees: the features, plus the minibatch-std feature when it is on."""
        return self._with_mbstd(self.features(x))

    def _with_mbstd(self, f: torch.Tensor) -> torch.Tensor:
        return minibatch_stddev(f, self.mbstd_group) if self.mbstd_group else f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_input(x))

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(D(x), features(x)) from one pass through the body, for recipes whose extra heads share it."""
        f = self.features(x)
        return self.head(self._with_mbstd(f)), f

    def head_input_dim(self, cfg, feature_dim: int) -> int:
        """Feature size the head sees (one more with the minibatch-std feature)."""
        self.mbstd_group = cfg.minibatch_std_group if cfg.minibatch_std else 0
        return feature_dim + (1 if cfg.minibatch_std else 0)


class NetworkFamily:
    """A registered architecture: builds a generator and a discriminator for a data shape."""

    #: the settings (fields of g.* / d.*) only this family reads; ``discriminator_options`` only its D reads
    options: tuple = ()
    discriminator_options: tuple = ()

    @staticmethod
    def generator(cfg, latent_dim: int, out_shape: tuple) -> nn.Module:
        raise NotImplementedError

    @staticmethod
    def discriminator(cfg, in_shape: tuple, out_dim: int = 1) -> Discriminator:
        raise NotImplementedError
