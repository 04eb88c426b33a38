"""The original GAN game (Goodfellow et al. 2014) with its two generator losses, and DRAGAN.

V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]  (eq. 1).  D maximises V; with D(x) = sigmoid(a):
log D = -softplus(-a) and log(1 - D) = -softplus(a).
"""
from __future__ import annotations

import torch.nn.functional as F

from ..registry import OBJECTIVES
from .base import Objective


class _BinaryCrossEntropy(Objective):
    probabilistic = True
    supports_label_smoothing = True
    separable = True

    def real_term(self, real_out):
        """-E log D(x); with one-sided label smoothing (Salimans et al. 2016, sec. 3.4) the real target is
        1 - s: BCE(D(x), 1 - s). D's loss -V(D, G) is this plus :meth:`fake_term`."""
        s = self.real_target
        return (s * F.softplus(-real_out) + (1 - s) * F.softplus(real_out)).mean()

    def fake_term(self, fake_out):
        """-E log(1 - D(G(z)))."""
        return F.softplus(fake_out).mean()


@OBJECTIVES.register("minimax")
class Minimax(_BinaryCrossEntropy):
    """The minimax game, eq. 1 of Goodfellow et al. 2014: G minimises E_z[log(1 - D(G(z)))].

    This G loss *saturates*: its gradient w.r.t. the logit a is -sigmoid(a) = -D(G(z)), which
    vanishes when D confidently rejects the samples, as it does early in training.
    """

    def g_loss(self, fake_out, real_out=None):
        return -F.softplus(fake_out).mean()


@OBJECTIVES.register("ns")
class NonSaturating(_BinaryCrossEntropy):
    """The non-saturating game, Goodfellow et al. 2014 sec. 3: G maximises E_z[log D(G(z))].

    The gradient w.r.t. the logit is -(1 - D(G(z))): strong exactly when D rejects the samples.
    """

    def g_loss(self, fake_out, real_out=None):
        return F.softplus(-fake_out).mean()


@OBJECTIVES.register("dragan")
class Dragan(NonSaturating):
    """DRAGAN (Kodali et al. 2017): the non-saturating game with a gradient penalty around the real
    data (weight 10) that keeps D's gradients from sharpening near the data manifold."""

    default_penalty = "dragan"


@OBJECTIVES.register("ns-r1")
class NonSaturatingR1(NonSaturating):
    """The non-saturating game with the R1 penalty on real data (Mescheder et al. 2018, eq. 9, gamma 10)."""

    default_penalty = "r1"


OBJECTIVES.alias("mm", "minimax")
OBJECTIVES.alias("gan", "minimax")
OBJECTIVES.alias("r1", "ns-r1")
