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
    #: True when D's loss is a real term plus a fake term (:meth:`real_term` + :meth:`fake_term`), so that a
    #: recipe can add more weighted fake terms (the matching-aware D of text-to-image GANs)
    separable = False
    #: the settings only this objective reads (checked by :mod:`gankit.recipes.options`)
    options: tuple = ()

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
        if self.separable:
            return self.real_term(real_out) + self.fake_term(fake_out)
        raise NotImplementedError

    def real_term(self, real_out: torch.Tensor) -> torch.Tensor:
        """D's loss on real examples, for a separable objective."""
        raise NotImplementedError

    def fake_term(self, fake_out: torch.Tensor) -> torch.Tensor:
        """D's loss on fake (or mismatched) examples, for a separable objective."""
        raise NotImplementedError

    def weighted_d_loss(self, real_out: torch.Tensor, fakes: list) -> torch.Tensor:
        """real_term(real) + sum_i w_i fake_term(fake_i) over ``fakes`` = [(fake output, w), ...]: D's loss with
        several kinds of negatives (GAN-INT-CLS, Reed et al. 2016, Algorithm 1: real image with wrong text and
        fake image with right text, each weighted 1/2)."""
        if not self.separable:
            from ..registry import OBJECTIVES

            ok = [n for n in OBJECTIVES.names() if getattr(OBJECTIVES.get(n), "separable", False)]
            raise ConfigError(f"objective '{self.cfg.name}' does not split into a real and a fake term, which this "
                              f"recipe needs (it weighs several kinds of fakes); use one of: {', '.join(ok)}")
        loss = self.real_term(real_out)
        for out, weight in fakes:
            loss = loss + weight * self.fake_term(out)
        return loss

    def sync(self, average: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Average the statistics of the last D loss across processes before :meth:`after_d_step` uses them, so
        that every process updates its state (BEGAN's k_t, MAGAN's margin, Fisher's lambda) identically.
        ``average`` maps a tensor to its mean over the processes; the trainer calls this in a multi-process
        run only. Stateless objectives have nothing to average."""

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
