"""Wasserstein GANs: the critic estimates W1 through the Kantorovich-Rubinstein duality
W(P_r, P_g) = sup_{||f||_L <= 1} E_r[f(x)] - E_g[f(x)] (Arjovsky et al. 2017, eq. 3)."""
from __future__ import annotations

from ..registry import OBJECTIVES
from .base import Objective, clip_weights


@OBJECTIVES.register("wgan")
class WGAN(Objective):
    """WGAN, Arjovsky, Chintala & Bottou 2017, Algorithm 1: the critic minimises E[f(G(z))] - E[f(x)],
    G minimises -E[f(G(z))], and after every critic update each weight is clipped to [-c, c]
    (``objective.clip``, default 0.01) to keep f K-Lipschitz."""

    clips = True
    separable = True
    options = ("objective.clip",)

    def d_loss(self, real_out, fake_out):
        return fake_out.mean() - real_out.mean()

    def real_term(self, real_out):
        return -real_out.mean()

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
    options = ()
