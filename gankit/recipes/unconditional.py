"""The original GAN game (Goodfellow et al. 2014, Algorithm 1): D first, ``n_critic`` D updates per G
update, each on a fresh minibatch of real data and of z ~ p(z)."""
from __future__ import annotations

import torch
from torch import nn

from ..nets import build_discriminator, build_generator
from ..registry import RECIPES
from .base import DataInfo, Phase, Recipe, pack, packed_shape


@RECIPES.register("unconditional")
class Unconditional(Recipe):
    """One generator G(z), one discriminator D(x); any objective from the registry."""

    def __init__(self, cfg, info: DataInfo, objective=None):
        super().__init__(cfg, info, objective)
        if objective is not None:
            self.check_penalty_compatible(cfg.d)

    def build_nets(self, cfg, info):
        return nn.ModuleDict({
            "g": build_generator(cfg.g, cfg.latent.dim, info.shape),
            "d": build_discriminator(cfg.d, packed_shape(info.shape, cfg.d.pack)),
        })

    def phases(self):
        return [Phase("d", "d", self.cfg.train.n_critic), Phase("g", "g", 1, needs_data=False, frozen=("d",))]

    def optimizer_params(self):
        return {"g": list(self.nets["g"].parameters()), "d": list(self.nets["d"].parameters())}

    _pending_fake = None

    def _fake_for_d_step(self, n):
        """G(z) for the D step. With one D step per G step, the G step uses the same G(z): G's weights do
        not change in between, so keeping the graph gives exactly the gradient of a fresh forward pass
        on the same z, and saves that pass (as in the PyTorch DCGAN example)."""
        z = self.latent(n)
        if self.cfg.train.n_critic == 1 and self.training:
            with torch.enable_grad():
                self._pending_fake = self.nets["g"](z)
            return self._pending_fake.detach()
        with torch.no_grad():
            return self.nets["g"](z)

    def discriminate(self, x):
        return self.nets["d"](pack(self.d_input(x), self.cfg.d.pack))

    def score_points(self, x):
        """D's raw output for each single sample (for plots): under d.pack = m each sample is packed
        with m - 1 copies of itself, and no instance noise is added."""
        m = self.cfg.d.pack
        return self.nets["d"](pack(x.repeat_interleave(m, 0), m))

    def loss(self, phase, batch):
        obj = self.require_objective()
        if phase == "d":
            real, _ = batch
            fake = self._fake_for_d_step(len(real))
            real_out, fake_out = self.discriminate(real), self.discriminate(fake)
            loss = obj.d_loss(real_out, fake_out)
            logs = {"d_loss": loss.detach(), "d_real": obj.report(real_out), "d_fake": obj.report(fake_out)}
            reg = obj.regularizer(self.discriminate, real, fake)
            if reg is not None:
                logs["d_penalty"] = reg.detach()
                loss = loss + reg
            return loss, logs
        fake = self._pending_fake
        if fake is None:
            fake = self.nets["g"](self.latent(self.cfg.train.batch_size))
        self._pending_fake = None
        fake_out = self.discriminate(fake)
        loss = obj.g_loss(fake_out)
        return loss, {"g_loss": loss.detach(), "d_fake_g": obj.report(fake_out)}

    def after_update(self, phase):
        if phase == "d":
            self.objective.after_d_step([self.nets["d"]])
