"""The variational autoencoder (Kingma & Welling 2014) in gankit's terms, as the slides' foil for GANs.

- Encoder q(z|x) = N(mu(x), diag sigma^2(x)): the chosen network family's discriminator body with a linear
  Gaussian head of 2 * latent.dim outputs (mu, log sigma^2), built from ``d.*``.
- Decoder p(x|z): the **same generator network** as a GAN of that family (``g.*``), so a VAE and a GAN can be
  compared with one G.
- The reparameterisation trick (their sec. 2.4): z = mu + sigma * eps, eps ~ N(0, I), so the Monte-Carlo ELBO is
  differentiable in the encoder's outputs.
- The loss is the negative ELBO per example (their eq. 10, one sample of z):
  -ELBO = -log p(x|z) + KL(q(z|x) || N(0, I)), KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2) in closed
  form (their appendix B).
- Likelihood (``vae.likelihood``): ``bernoulli`` (the default, for MNIST-like data, as in the paper's MNIST
  experiments): the pixel in [0, 1] is the target of a Bernoulli whose mean is G's tanh output mapped to
  [0, 1]; ``gaussian``: N(x; G(z), ``vae.sigma``^2 I) on the [-1, 1] pixels.

Samples are G(z), z ~ N(0, I), like a GAN's, so every latent command serves a VAE run. The VAE has no
adversarial objective: ``objective.*`` settings are refused, and ``optim.g`` trains encoder and decoder.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..config import ObjectiveConfig, choice, ranged, register_section
from ..errors import ConfigError
from ..nets import build_discriminator, build_generator
from ..registry import RECIPES
from .base import DataInfo, Phase, Recipe

#: Bernoulli means are kept this far from 0 and 1, so that log p(x|z) stays finite
PROBABILITY_EPS = 1e-6


@register_section("vae", "recipe", "vae")
@dataclass
class VaeConfig:
    """The ``vae:`` section (read by the ``vae`` recipe)."""

    likelihood: str = choice("bernoulli", ("bernoulli", "gaussian"))  # p(x|z): Bernoulli on [0, 1] pixels or Gaussian
    sigma: float = ranged(0.1, lo=0, lo_open=True)  # the Gaussian likelihood's fixed std, on [-1, 1] pixels


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per example, in closed form (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


def bernoulli_nll(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) per example for Bernoulli pixels: x and the means in [0, 1], summed over the pixels."""
    p = mean.clamp(PROBABILITY_EPS, 1 - PROBABILITY_EPS)
    return -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, sigma: float) -> torch.Tensor:
    """-log N(x; mean, sigma^2 I) per example, summed over the pixels."""
    d = x[0].numel()
    return (x - mean).pow(2).flatten(1).sum(1) / (2 * sigma**2) + d * (math.log(sigma) + 0.5 * math.log(2 * math.pi))


@RECIPES.register("vae")
class VAE(Recipe):
    """Encoder (D's body + Gaussian head) and decoder (G), trained on the negative ELBO."""

    critics = ()  # no critic: the run's objective is not used, and changing it is refused below

    def __init__(self, cfg, info: DataInfo, objective=None):
        if info.kind != "image":
            raise ConfigError(f"recipe 'vae' models images, but data.name = {cfg.data.name!r} holds points; use an "
                              "image dataset such as mnist5k")
        if cfg.objective != ObjectiveConfig():
            raise ConfigError("recipe 'vae' has no adversarial objective (it minimises the negative ELBO); remove "
                              "the objective.* settings")
        if cfg.latent.dist != "gaussian":
            raise ConfigError("a VAE's prior is N(0, I); set latent.dist=gaussian")
        if cfg.d.pack != 1 or cfg.d.minibatch_std:
            raise ConfigError("the VAE's encoder encodes one image at a time; set d.pack=1 and d.minibatch_std=false")
        super().__init__(cfg, info, objective)

    def build_nets(self, cfg, info):
        return nn.ModuleDict({"g": build_generator(cfg.g, cfg.latent.dim, info.shape),
                              "encoder": build_discriminator(cfg.d, info.shape, out_dim=2 * cfg.latent.dim)})

    def optimizer_params(self):
        return {"g": [p for net in self.nets.values() for p in net.parameters()]}

    def phases(self):
        return [Phase("vae", "g", 1)]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log sigma^2) of q(z|x)."""
        return self.nets["encoder"](x).float().chunk(2, dim=1)

    def reconstruction_nll(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per example, for images x and decoder outputs, both in [-1, 1]."""
        if self.cfg.vae.likelihood == "bernoulli":
            return bernoulli_nll((x + 1) / 2, (decoded.float() + 1) / 2)
        return gaussian_nll(x, decoded.float(), self.cfg.vae.sigma)

    def loss(self, phase, batch):
        x = batch[0]
        mu, logvar = self.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)  # the reparameterisation trick
        nll = self.reconstruction_nll(x.float(), self.nets["g"](z))
        kl = gaussian_kl(mu, logvar)
        loss = (nll + kl).mean()
        return loss, {"vae_loss": loss.detach(), "elbo": -loss.detach(), "reconstruction_nll": nll.mean().detach(),
                      "kl": kl.mean().detach()}

    def reconstruct(self, x: torch.Tensor, nets=None) -> torch.Tensor:
        """G(mu(x)): the decoder (of ``nets``, e.g. the EMA copy) at the encoder's mean."""
        return (nets or self.nets)["g"](self.encode(x)[0])
