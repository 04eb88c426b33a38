"""Wasserstein GANs: the critic estimates W1 through the Kantorovich-Rubinstein duality
W(P_r, P_g) = sup_{||f||_L <= 1} E_r[f(x)] - E_g[f(x)] (Arjovsky et al. 2017, eq. 3)."""
from __future__ import annotations

from ..registry import OBJECTIVES
from .base import Objective, clip_weights


@OBJECTIVES.register("wgan")
class WGAN(Objective):
    """WGAN, Arjovsky, Chintala & Bottou 2017, Algorithm 1: the critic minimises E[f(G(z))] - E[f(x)],
    G minimises -E[f(G(z))], and after every critic update each weight is clipped to [-c, c]
    (``objective.clip``, default 0.01) to keep f K-Lipschitz.

    ``objective.drift`` = epsilon > 0 adds ProGAN's drift term epsilon * E[f(x_real)^2] to the critic's loss
    (Karras et al. 2018, appendix A.1, epsilon = 0.001): it keeps the critic's outputs from drifting far from 0,
    which the Wasserstein losses alone leave free."""

    clips = True
    separable = True
    options = ("objective.clip", "objective.drift")

    def d_loss(self, real_out, fake_out):
        return self.real_term(real_out) + self.fake_term(fake_out)

    def real_term(self, real_out):
        drift = self.cfg.drift
        return -real_out.mean() + drift * real_out.float().pow(2).mean() if drift else -real_out.mean()

    def fake_term(self, fake_out):
        return fake_out.mean()

    def g_loss(self, fake_out, real_out=None):
        return -fake_out.mean()

    def after_d_step(self, d_modules):
        if self.clips:
            clip_weights(d_modules, self.cfg.clip)


@OBJECTIVES.register("wgan-gp")
class WGANGP(WGAN):
    """WGAN-GP, Gulrajani et al. 2017, eq. 3: the WGAN losses with no clipping and the gradient
    penalty lambda * E[(||grad f(x_hat)||_2 - 1)^2] (lambda = 10, one interpolation per example)."""

    clips = False
    default_penalty = "gp"
    options = ("objective.drift",)
