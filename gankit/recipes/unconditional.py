"""The original GAN game (Goodfellow et al. 2014, Algorithm 1): D first, ``n_critic`` D updates per G
update, each on a fresh minibatch of real data and of z ~ p(z)."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..nets import build_critic, build_generator
from ..objectives import critic_kind
from ..registry import RECIPES
from .base import DataInfo, Phase, Recipe, pack, packed_shape


@RECIPES.register("unconditional")
class Unconditional(Recipe):
    """One generator G(z) and one D of the kind the objective needs (a scalar critic, a feature critic, an
    autoencoder, or none at all for GMMN); any objective from the registry."""

    critics = ("scalar", "features", "autoencoder", "none")

    def __init__(self, cfg, info: DataInfo, objective=None):
        super().__init__(cfg, info, objective)
        if objective is not None:
            self.check_penalty_compatible(cfg.d)

    @property
    def critic(self) -> str:
        return critic_kind(self.cfg.objective.name)

    def build_nets(self, cfg, info):
        kind = critic_kind(cfg.objective.name)
        if cfg.d.pack != 1 and kind in ("autoencoder", "none"):
            raise ConfigError(f"objective '{cfg.objective.name}' has {'no D' if kind == 'none' else 'an autoencoder D'}, "
                              "which cannot judge packed samples; set d.pack=1")
        nets = {"g": build_generator(cfg.g, cfg.latent.dim, info.shape)}
        d = build_critic(cfg.d, packed_shape(info.shape, cfg.d.pack), kind, cfg.objective.feature_dim)
        if d is not None:
            nets["d"] = d
        return nn.ModuleDict(nets)

    @property
    def has_d(self) -> bool:
        return "d" in self.nets

    def phases(self):
        g_needs_real = bool(self.objective is not None and self.objective.g_needs_real)
        g = Phase("g", "g", 1, needs_data=g_needs_real, frozen=("d",) if self.has_d else ())
        return [Phase("d", "d", self.cfg.train.n_critic, critics=("d",)), g] if self.has_d else [g]

    def optimizer_params(self):
        return {name: list(net.parameters()) for name, net in self.nets.items()}

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

    def judge(self, x):
        """D's output on x, packed (no instance noise: the caller adds it once). Without a D (GMMN) the
        "critic" is the identity: the objective sees the flattened samples themselves."""
        if not self.has_d:
            return x.flatten(1)
        return self.nets["d"](pack(x, self.cfg.d.pack))

    def discriminate(self, x):
        """D's output on x with instance noise (the G step's view)."""
        return self.judge(self.d_input(x))

    def score_points(self, x):
        """D's raw output for each single sample (for plots): under d.pack = m each sample is packed
        with m - 1 copies of itself, and no instance noise is added. None unless D is a scalar critic."""
        if self.critic != "scalar":
            return None
        m = self.cfg.d.pack
        return self.nets["d"](pack(x.repeat_interleave(m, 0), m))

    def loss(self, phase, batch):
        obj = self.require_objective()
        if phase == "d":
            real, _ = batch
            loss, logs, _ = self.d_step(real, self._fake_for_d_step(len(real)), self.judge)
            return loss, logs
        fake = self._pending_fake
        if fake is None:
            fake = self.nets["g"](self.latent(self.batch_size))
        self._pending_fake = None
        fake_out = self.discriminate(fake)
        real_out = None
        if obj.g_needs_real:
            with torch.no_grad():
                real_out = self.discriminate(batch[0])
        loss = obj.g_loss(fake_out, real_out)
        return loss, {"g_loss": loss.detach(), "d_fake_g": obj.report(fake_out)}
