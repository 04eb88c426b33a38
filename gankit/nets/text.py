"""Networks of text-to-image GANs: a generator conditioned on a sentence embedding, and a discriminator that judges
whether an image matches a sentence (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis", sec. 4.1).

* :class:`ConditioningAugmentation` (Zhang et al. 2017, StackGAN, sec. 3.1): the embedding e gives a Gaussian
  N(mu(e), diag(sigma(e)^2)) and G's condition is a draw from it, c = mu + sigma * eps, with the penalty
  KL(N(mu, sigma^2) || N(0, I)) keeping the conditioning manifold smooth. Off, c = LeakyReLU(W e) (Reed et al.:
  "compressed using a fully-connected layer to a small dimension followed by leaky-ReLU"). Samples draw c the same
  way as training does (as StackGAN's do): with c = mu instead, G meets inputs it never trained on (measured: every
  sample the same image, whatever z and caption).
* The dense layer that makes c learns ``lr_mul`` (default 0.01) times as fast as the rest of G, as StyleGAN's mapping
  network does (Karras et al. 2019, appendix C; :class:`~gankit.nets.progressive.EqualizedLinear`). Measured on
  captioned-mnist5k (DCGAN nets, 300 steps, the spread of 64 samples over pixels): at G's own rate G collapses to one
  image whatever z and caption (0.014; with c detached from G's loss, 0.204), at 0.01 it does not (0.246).
* :class:`TextConditionedGenerator`: G([z, c]) for the code [z, eps, e]: eps the augmentation's N(0, I) draw, part
  of the code so that a seed fixes a sample.
* :class:`TextMatchingDiscriminator`: the embedding, compressed to ``cond_dim`` by a dense layer with leaky ReLU, is
  tiled over D's last feature maps (4x4 in the paper) and stacked with them; a 1x1 convolution with leaky ReLU and a
  dense layer over the whole map (the paper's final 4x4 convolution) give the score. A D without feature maps (an
  MLP) gets the embedding concatenated to its feature vector instead.
"""
from __future__ import annotations

import torch
from torch import nn

from .blocks import spectral
from .progressive import EqualizedLinear


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per dimension, 0.5 (mu^2 + sigma^2 - 1 - log sigma^2), averaged over every
    dimension and example (StackGAN's released code averages the same way)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean()


class ConditioningAugmentation(nn.Module):
    """e (N, E) -> (c, mu, logvar), each (N, cond_dim); with ``augment`` off, c = mu = LeakyReLU(W e), logvar None."""

    def __init__(self, embed_dim: int, cond_dim: int, augment: bool = True, lr_mul: float = 0.01):
        super().__init__()
        self.augment, self.cond_dim = augment, cond_dim
        self.fc = EqualizedLinear(embed_dim, 2 * cond_dim if augment else cond_dim, gain=1.0, lr_mul=lr_mul)
        self.act = nn.LeakyReLU(0.2)

    @property
    def noise_dim(self) -> int:
        """Columns of N(0, I) noise one condition draws (``cond_dim`` with augmentation, else none)."""
        return self.cond_dim if self.augment else 0

    def forward(self, e: torch.Tensor, eps: torch.Tensor | None = None) -> tuple:
        """(c, mu, logvar) for embeddings e; ``eps`` (N, noise_dim) is the augmentation's draw (fresh if None)."""
        if not self.augment:
            c = self.act(self.fc(e))
            return c, c, None
        mu, logvar = self.fc(e).chunk(2, 1)
        logvar = logvar.clamp(-10, 10)
        eps = torch.randn_like(mu) if eps is None else eps.to(mu)
        return mu + (0.5 * logvar).exp() * eps, mu, logvar


class TextConditionedGenerator(nn.Module):
    """The code [z, eps, e] (z: ``latent_dim`` columns, eps: the augmentation's ``noise_dim`` columns, e: the sentence
    embedding) -> G([z, c(e, eps)])."""

    def __init__(self, generator: nn.Module, latent_dim: int, embed_dim: int, cond_dim: int, augment: bool,
                 lr_mul: float = 0.01):
        super().__init__()
        self.g, self.latent_dim = generator, latent_dim
        self.condition = ConditioningAugmentation(embed_dim, cond_dim, augment, lr_mul)

    def synthesise(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.g(torch.cat([z, c.to(z.dtype)], 1))

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        k = self.latent_dim + self.condition.noise_dim
        z, eps, e = code[:, : self.latent_dim], code[:, self.latent_dim:k], code[:, k:]
        return self.synthesise(z, self.condition(e, eps if eps.shape[1] else None)[0])


class TextMatchingDiscriminator(nn.Module):
    """D(x, e): how real, and how well matched to the sentence embedding e, image x looks (one score)."""

    def __init__(self, d: nn.Module, in_shape: tuple, embed_dim: int, cond_dim: int, spectral_norm: bool = False):
        super().__init__()
        self.d = d

        def layer(m):  # N(0, 0.02) as DCGAN, before spectral norm wraps the weight
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
            return spectral(m, spectral_norm)

        self.text = nn.Sequential(layer(nn.Linear(embed_dim, cond_dim)), nn.LeakyReLU(0.2))
        self.maps = hasattr(d, "feature_maps")
        was_training = d.training
        d.eval()  # so that the probe leaves batch-norm statistics alone
        with torch.no_grad():
            probe = (d.feature_maps if self.maps else d.features)(torch.zeros(2, *in_shape))
        d.train(was_training)
        if self.maps:
            c, h, w = probe.shape[1:]
            self.joint = nn.Sequential(layer(nn.Conv2d(c + cond_dim, c, 1)), nn.LeakyReLU(0.2),
                                       nn.Flatten())
            width = c * h * w
        else:
            width = probe.shape[1]
            self.joint = nn.Sequential(layer(nn.Linear(width + cond_dim, width)), nn.LeakyReLU(0.2))
        self.score = layer(nn.Linear(width, 1))

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        t = self.text(e.to(x.dtype))
        if self.maps:
            f = self.d.feature_maps(x)
            joint = torch.cat([f, t[:, :, None, None].expand(-1, -1, *f.shape[2:])], 1)
        else:
            joint = torch.cat([self.d.features(x), t], 1)
        return self.score(self.joint(joint))
