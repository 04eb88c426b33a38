"""The objective interface: how D's raw outputs become D's and G's losses, and what regularises D.

Every loss takes D's *raw* outputs (logits for the probabilistic objectives) and is written in
a numerically stable form: log D(x) = -softplus(-logit), log(1 - D(x)) = -softplus(logit); the
log of a sigmoid is never taken.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from ..errors import ConfigError


class Objective:
    """Base of all objectives. Subclasses implement :meth:`d_loss` and :meth:`g_loss`."""

    #: penalty used when ``objective.penalty`` is not set ("gp", "dragan", "r1" or None)
    default_penalty: Optional[str] = None
    #: True when D's output is a logit of P(real); logs then report D(x) = sigmoid(output)
    probabilistic = False
    #: True when one-sided label smoothing has a meaning for this loss
    supports_label_smoothing = False
    #: what D must be: "scalar" (one output per example), "features" (a feature vector per example),
    #: "autoencoder" (code and reconstruction residual) or "none" (no D: GMMN)
    critic = "scalar"
    #: True when G's loss also needs D's outputs on a real batch (moment matching, MMD, Cramér)
    g_needs_real = False

    def __init__(self, cfg, label_smoothing: float = 0.0):
        from .penalties import build_penalty

        self.cfg = cfg
        if label_smoothing and not self.supports_label_smoothing:
            raise ConfigError(f"tricks.label_smoothing has no meaning for objective '{cfg.name}'; "
                              "use it with minimax, ns, lsgan or dragan, or set it to 0")
        self.real_target = 1.0 - label_smoothing
        name = cfg.penalty if cfg.penalty is not None else self.default_penalty
        if name not in (None, "none") and self.critic != "scalar":
            raise ConfigError(f"objective.penalty = {name} needs a scalar critic, but objective '{cfg.name}' has "
                              f"a{'n' if self.critic[0] in 'aeiou' else ''} {self.critic} critic; "
                              "set objective.penalty=none")
        self.penalty = build_penalty(name, cfg.penalty_weight)
        self.logs: dict = {}  # extra scalars of the last D loss (e.g. BEGAN's k_t), logged by the recipe

    def d_loss(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, fake_out: torch.Tensor, real_out: Optional[torch.Tensor] = None) -> torch.Tensor:
        raise NotImplementedError

    def regularizer(self, d: Callable, real: torch.Tensor, fake: torch.Tensor) -> Optional[torch.Tensor]:
        """The weighted penalty on D for this batch, or None."""
        return None if self.penalty is None else self.penalty(d, real, fake)

    def after_d_step(self, d_modules: list[nn.Module]) -> None:
        """Called after each D update (WGAN clips D's weights here)."""

    def report(self, out: torch.Tensor) -> torch.Tensor:
        """What to log as D(x) / D(G(z)): the probability for logit outputs, the raw mean otherwise."""
        out = out.detach().float()
        return torch.sigmoid(out).mean() if self.probabilistic else out.mean()

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@torch.no_grad()
def clip_weights(modules: list[nn.Module], c: float) -> None:
    """Clip every parameter of ``modules`` to [-c, c]: WGAN's (Arjovsky et al. 2017, Algorithm 1) way to
    keep the critic in a compact set, also used by McGAN and MMD GAN."""
    for m in modules:
        for p in m.parameters():
            p.clamp_(-c, c)
