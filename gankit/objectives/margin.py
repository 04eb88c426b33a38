"""Least-squares and hinge objectives."""
from __future__ import annotations

import torch.nn.functional as F

from ..registry import OBJECTIVES
from .base import Objective


@OBJECTIVES.register("lsgan")
class LSGAN(Objective):
    """LSGAN, Mao et al. 2017, eq. 2 with a = 0, b = c = 1:
    D minimises 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]; G minimises 1/2 E[(D(G(z)) - c)^2].
    One-sided label smoothing sets b = 1 - s."""

    supports_label_smoothing = True
    separable = True

    def real_term(self, real_out):
        return 0.5 * ((real_out - self.real_target) ** 2).mean()

    def fake_term(self, fake_out):
        return 0.5 * (fake_out**2).mean()

    def g_loss(self, fake_out, real_out=None):
        return 0.5 * ((fake_out - 1) ** 2).mean()


@OBJECTIVES.register("hinge")
class Hinge(Objective):
    """Hinge loss, Lim & Ye 2017 (Geometric GAN) and Miyato et al. 2018, eq. 16-17:
    D minimises E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]; G minimises -E[D(G(z))]."""

    separable = True

    def real_term(self, real_out):
        return F.relu(1 - real_out).mean()

    def fake_term(self, fake_out):
        return F.relu(1 + fake_out).mean()

    def g_loss(self, fake_out, real_out=None):
        return -fake_out.mean()
