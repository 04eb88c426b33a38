"""The original GAN game (Goodfellow et al. 2014, Algorithm 1): D first, ``n_critic`` D updates per G
update, each on a fresh minibatch of real data and of z ~ p(z)."""
from __future__ import annotations

import torch
from torch import nn

from ..nets import build_discriminator, build_generator
from ..registry import RECIPES
from .base import DataInfo, Phase, Recipe


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
            "d": build_discriminator(cfg.d, info.shape),
        })

    def phases(self):
        return [Phase("d", "d", self.cfg.train.n_critic), Phase("g", "g", 1, needs_data=False)]

    def optimizer_params(self):
        return {"g": list(self.nets["g"].parameters()), "d": list(self.nets["d"].parameters())}

    def discriminate(self, x):
        return self.nets["d"](self.d_input(x))

    def loss(self, phase, batch):
        obj = self.require_objective()
        g, d = self.nets["g"], self.nets["d"]
        if phase == "d":
            real, _ = batch
            with torch.no_grad():
                fake = g(self.latent(len(real)))
            real_out, fake_out = self.discriminate(real), self.discriminate(fake)
            loss = obj.d_loss(real_out, fake_out)
            logs = {"d_loss": loss.detach(), "d_real": obj.report(real_out), "d_fake": obj.report(fake_out)}
            reg = obj.regularizer(self.discriminate, real, fake)
            if reg is not None:
                logs["d_penalty"] = reg.detach()
                loss = loss + reg
            return loss, logs
        fake = g(self.latent(self.cfg.train.batch_size))
        fake_out = self.discriminate(fake)
        loss = obj.g_loss(fake_out)
        return loss, {"g_loss": loss.detach(), "d_fake_g": obj.report(fake_out)}

    def after_update(self, phase):
        if phase == "d":
            self.objective.after_d_step([self.nets["d"]])
