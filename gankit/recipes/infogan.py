"""InfoGAN (Chen et al. 2016): unsupervised, interpretable codes through a mutual-information term.

G's input is [z, c]: c is a categorical code c1 (one-hot over ``cond.categorical`` values) and
``cond.continuous`` codes c2, c3, ... ~ U[-1, 1]. Q(c | x) is a small head on D's features (sharing
D's body, as in the paper, sec. 4). The variational lower bound of I(c; G(z, c)) (their eq. 4),

    L_I(G, Q) = E_{c ~ p(c), x ~ G(z, c)}[log Q(c | x)] + H(c)  <=  I(c; G(z, c)),

is maximised by G and Q together, with weight lambda (eq. 5: min_{G,Q} max_D V(D, G) - lambda L_I):
``cond.info_weight`` for c1 (the paper uses 1) and ``cond.info_weight_continuous`` for the continuous
codes (the paper uses a smaller lambda). log Q(c1 | x) is a softmax over c1's values; for the
continuous codes Q is a factored Gaussian with unit variance (the paper's "simply treating it as a
factored Gaussian is sufficient"), so -log Q is 0.5 * (c - mu(x))^2 up to a constant. H(c) is constant.

Any objective of the registry plays the V(D, G) part. Both steps add L_I on their fakes: the D step
so that D's shared body learns features Q can use, the G step so that G makes its codes readable.
Q's own head is trained by G's optimiser (``cond.q_optimizer=g``) or, as in the authors' code, where
Q's variables live in D's scope, by D's (``cond.q_optimizer=d``). ``cond.q_batch_norm`` gives Q the
paper's FC 128 - batch norm - lReLU - FC head (table 1).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nets import build_discriminator, build_generator
from ..registry import RECIPES
from .base import DataInfo, LatentPart, Phase, Recipe, Sampling


@RECIPES.register("infogan")
class InfoGAN(Recipe):
    """G(z, c), D(x) and Q(c | x) sharing D's body."""

    condition = "codes"
    options = ("cond.categorical", "cond.continuous", "cond.info_weight", "cond.info_weight_continuous",
               "cond.q_optimizer", "cond.q_batch_norm")

    def __init__(self, cfg, info: DataInfo, objective=None):
        c = cfg.cond
        if c.categorical == 0 and c.continuous == 0:
            raise ConfigError("recipe 'infogan' needs at least one code; set cond.categorical or cond.continuous")
        if cfg.d.pack != 1:
            raise ConfigError("recipe 'infogan' does not support d.pack; set d.pack=1")
        super().__init__(cfg, info, objective)
        if objective is not None:
            self.check_penalty_compatible(cfg.d)

    @property
    def code_dim(self) -> int:
        return self.cfg.cond.categorical + self.cfg.cond.continuous

    def sampling(self) -> Sampling:
        """[z, c1 (one-hot, when cond.categorical), c2, c3, ... (continuous)]; ``--class`` sets c1, whose
        values have no names (they are matched to classes when scored)."""
        k, d = self.cfg.cond.categorical, self.cfg.latent.dim
        parts = [LatentPart("z", 0, d, "noise")]
        if k:
            parts.append(LatentPart("c1", d, d + k, "one-hot"))
        first = 2 if k else 1
        for i in range(self.cfg.cond.continuous):
            parts.append(LatentPart(f"c{first + i}", d + k + i, d + k + i + 1, "continuous"))
        return Sampling(condition="codes", classes=k or None, named_classes=False, parts=tuple(parts),
                        options=self.generation_options)

    def build_nets(self, cfg, info):
        d = build_discriminator(cfg.d, info.shape)
        hidden = 128
        norm = [nn.BatchNorm1d(hidden)] if cfg.cond.q_batch_norm else []
        q = nn.Sequential(nn.Linear(d.feature_dim, hidden), *norm, nn.LeakyReLU(0.2), nn.Linear(hidden, self.code_dim))
        return nn.ModuleDict({"g": build_generator(cfg.g, cfg.latent.dim + self.code_dim, info.shape),
                              "d": d, "q": q})

    def optimizer_params(self):
        """Q's head trains with optimiser ``cond.q_optimizer``; D's body also learns from L_I in the D step."""
        q = list(self.nets["q"].parameters())
        with_d = self.cfg.cond.q_optimizer == "d"
        return {"g": list(self.nets["g"].parameters()) + ([] if with_d else q),
                "d": list(self.nets["d"].parameters()) + (q if with_d else [])}

    def phases(self):
        return [Phase("d", "d", self.cfg.train.n_critic, critics=("d",)),
                Phase("g", "g", 1, needs_data=False, frozen=("d",))]

    # -- codes ------------------------------------------------------------------------------------
    def latent(self, n: int, generator: Optional[torch.Generator] = None, device=None,
               labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """[z, one_hot(c1), c2, ...]; ``labels`` (N,) fixes c1."""
        z = super().latent(n, generator, device)
        parts = [z]
        k = self.cfg.cond.categorical
        if k:
            if labels is None:
                labels = torch.randint(k, (n,), generator=generator)
            labels = torch.as_tensor(labels).long()
            if ((labels < 0) | (labels >= k)).any():
                raise ConfigError(f"categorical code value out of range; c1 takes 0..{k - 1}")
            parts.append(F.one_hot(labels, k).float().to(z))
        if self.cfg.cond.continuous:
            parts.append((torch.rand(n, self.cfg.cond.continuous, generator=generator) * 2 - 1).to(z))
        return torch.cat(parts, 1)

    def info_loss(self, features: torch.Tensor, code: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """-L_I (up to H(c)), weighted: lambda * CE(c1) + lambda_cont * 0.5 * ||c_cont - mu(x)||^2.
        ``features`` are D's features of the fakes x = G(code) (Q shares D's body and its pass)."""
        c = self.cfg.cond
        q = self.nets["q"](features).float()
        codes = code[:, self.cfg.latent.dim:].float()
        loss, logs = q.new_zeros(()).float(), {}
        if c.categorical:
            target = codes[:, : c.categorical].argmax(1)
            ce = F.cross_entropy(q[:, : c.categorical], target)
            loss = loss + c.info_weight * ce
            logs["info_cat_acc"] = (q[:, : c.categorical].argmax(1) == target).float().mean()
        if c.continuous:
            mse = 0.5 * (q[:, c.categorical:] - codes[:, c.categorical:]).pow(2).sum(1).mean()
            loss = loss + c.info_weight_continuous * mse
        logs["info_loss"] = loss.detach()
        return loss, logs

    # -- losses -----------------------------------------------------------------------------------
    def loss(self, phase, batch):
        obj = self.require_objective()
        d = self.nets["d"]
        if phase == "d":
            real, _ = batch
            code = self.latent(len(real))
            with torch.no_grad():
                fake = self.nets["g"](code)
            loss, logs, (_, (_, fake_features)) = self.d_step(real, fake, d.forward_with_features)
            info, _ = self.info_loss(fake_features, code)
            return loss + info, logs
        code = self.latent(self.batch_size)
        fake = self.nets["g"](code)
        fake_out, fake_features = d.forward_with_features(self.d_input(fake))
        adv = obj.g_loss(fake_out)
        info, logs = self.info_loss(fake_features, code)
        logs.update({"g_loss": adv.detach(), "d_fake_g": obj.report(fake_out)})
        return adv + info, logs
