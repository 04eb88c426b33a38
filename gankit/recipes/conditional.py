"""Class-conditional games: cGAN, AC-GAN and the projection discriminator.

All three share one code path (:class:`ClassConditional`); they differ in how G and D see the label:

* ``cgan`` (Mirza & Osindero 2014): y is concatenated to z, and to D's input (as K feature maps for
  images). V(D, G) = E[log D(x|y)] + E[log(1 - D(G(z|y)|y))] (their eq. 2).
* ``acgan`` (Odena, Olah & Shlens 2017): G gets [z, y]; D sees only x and has two heads, the source
  (real/fake) and the class. With L_S the source log-likelihood and L_C = E[log P(C = c | X)] on real and
  fake images, D maximises L_S + L_C and G maximises L_C - L_S (their eqs. 2-3). Here L_S is any
  objective in the registry and L_C is weighted by ``cond.class_weight``.
* ``projection`` (Miyato & Koyama 2018): D(x, y) = psi(phi(x)) + y^T V phi(x) (their eq. 3), and G
  with conditional batch norm (de Vries et al. 2017), as in that paper.

G's input, the *code*, is always one tensor [z, y] with y a one-hot (N, K) vector, so sampling,
interpolation and latent arithmetic treat it like any latent; a mixed y interpolates between classes.
In the D step the fakes get the real batch's labels, so a gradient penalty compares like with like.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..config import choice, ranged, register_section
from ..errors import ConfigError
from ..nets import build_discriminator, build_generator
from ..nets.conditional import ConditionalBNGenerator, ProjectionDiscriminator, concat_labels, with_label_channels
from ..registry import RECIPES
from .base import DataInfo, LatentPart, Phase, Recipe, Sampling, one_hot_labels


@register_section("cond")
@dataclass
class CondConfig:
    """The ``cond:`` section: AC-GAN's class weight and InfoGAN's codes. Each key is read by the recipe that
    declares it in its ``options`` (the section itself belongs to no single recipe)."""

    class_weight: float = ranged(1.0, lo=0)  # AC-GAN: weight of the class log-likelihood L_C in both losses
    categorical: int = ranged(10, lo=0)  # InfoGAN: classes of the categorical code c1 (0: none)
    continuous: int = ranged(2, lo=0)  # InfoGAN: continuous codes, each U[-1, 1]
    info_weight: float = ranged(1.0, lo=0)  # InfoGAN: lambda for the categorical code (paper: 1)
    info_weight_continuous: float = ranged(0.1, lo=0)  # InfoGAN: lambda for continuous codes (paper: < 1)
    q_optimizer: str = choice("g", ("g", "d"))  # InfoGAN: which optimiser trains Q's head (the authors' code: d)
    q_batch_norm: bool = False  # InfoGAN: Q's head is FC 128 - batch norm - lReLU - FC (the paper's table 1)


def ac_d_terms(weight: float, real_logits, fake_logits, labels) -> tuple:
    """AC-GAN's class term of D's loss (Odena et al. 2017, eq. 2): ``weight`` x the cross-entropy of the class
    logits on the real and on the fake images, both labelled ``labels`` (class indices); with its logs."""
    cls = weight * (F.cross_entropy(real_logits.float(), labels) + F.cross_entropy(fake_logits.float(), labels))
    return cls, {"d_class_loss": cls.detach(), "d_class_acc": (real_logits.argmax(1) == labels).float().mean()}


def ac_g_term(weight: float, fake_logits, labels) -> tuple:
    """AC-GAN's class term of G's loss (eq. 3): the fakes should be classified as the class they were drawn for."""
    cls = weight * F.cross_entropy(fake_logits.float(), labels)
    return cls, {"g_class_loss": cls.detach()}


class ClassConditional(Recipe):
    """Shared game for label-conditioned recipes: D first (n_critic steps), then G, labels one-hot."""

    #: extra per-class outputs of D's head (AC-GAN's class logits)
    class_head = False
    condition = "class"

    def __init__(self, cfg, info: DataInfo, objective=None):
        if not info.num_classes:
            raise ConfigError(f"recipe '{cfg.recipe}' needs class labels, but data.name = {cfg.data.name!r} "
                              "has none; use mnist5k, fashion-mnist, digits or a folder with one subfolder per class")
        if cfg.d.pack != 1:
            raise ConfigError(f"recipe '{cfg.recipe}' does not support d.pack; set d.pack=1")
        super().__init__(cfg, info, objective)
        if objective is not None:
            self.check_penalty_compatible(cfg.d)

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    def sampling(self) -> Sampling:
        d, k = self.cfg.latent.dim, self.num_classes
        return Sampling(condition="class", classes=k, named_classes=True, options=self.generation_options,
                        parts=(LatentPart("z", 0, d, "noise"), LatentPart("y", d, d + k, "one-hot")))

    # -- the code [z, y] --------------------------------------------------------------------------
    def latent(self, n: int, generator: Optional[torch.Generator] = None, device=None,
               labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """[z, one_hot(y)]: y uniform over the classes unless ``labels`` (N,) are given."""
        z = super().latent(n, generator, device)
        return torch.cat([z, one_hot_labels(n, self.num_classes, labels, generator).to(z)], 1)

    def one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        return one_hot_labels(len(labels), self.num_classes, labels).to(labels.device)

    def split(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.cfg.latent.dim
        return code[:, :d], code[:, d:]

    # -- networks ---------------------------------------------------------------------------------
    def build_generator(self, cfg, info) -> nn.Module:
        """G on the code [z, y] (input size z + K)."""
        return build_generator(cfg.g, cfg.latent.dim + info.num_classes, info.shape)

    def optimizer_params(self):
        return {"g": list(self.nets["g"].parameters()), "d": list(self.nets["d"].parameters())}

    def phases(self):
        return [Phase("d", "d", self.cfg.train.n_critic, critics=("d",)),
                Phase("g", "g", 1, needs_data=False, frozen=("d",))]

    def discriminate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(source output (N, 1), class logits (N, K) or None) for images x with one-hot labels y."""
        raise NotImplementedError

    def score_points(self, x):
        """For plots of 2-D toys: D's output averaged over the classes."""
        outs = [self.discriminate(x, self.one_hot(torch.full((len(x),), k)).to(x))[0]
                for k in range(self.num_classes)]
        return torch.stack(outs).mean(0)

    # -- losses -----------------------------------------------------------------------------------
    def loss(self, phase, batch):
        obj = self.require_objective()
        if phase == "d":
            real, labels = batch
            y = self.one_hot(labels.to(real.device))
            with torch.no_grad():
                fake = self.nets["g"](torch.cat([super().latent(len(real)), y], 1))
            loss, logs, ((_, real_cls), (_, fake_cls)) = self.d_step(real, fake, lambda v: self.discriminate(v, y))
            if real_cls is not None:
                cls, cls_logs = ac_d_terms(self.cfg.cond.class_weight, real_cls, fake_cls, y.argmax(1))
                logs.update(cls_logs)
                loss = loss + cls
            return loss, logs
        code = self.latent(self.batch_size)
        _, y = self.split(code)
        fake = self.nets["g"](code)
        fake_out, fake_cls = self.discriminate(self.d_input(fake), y)
        loss = obj.g_loss(fake_out)
        logs = {"g_loss": loss.detach(), "d_fake_g": obj.report(fake_out)}
        if fake_cls is not None:
            cls, cls_logs = ac_g_term(self.cfg.cond.class_weight, fake_cls, y.argmax(1))
            logs.update(cls_logs)
            loss = loss + cls
        return loss, logs


@RECIPES.register("cgan")
class CGAN(ClassConditional):
    """Conditional GAN (Mirza & Osindero 2014): the label is an input of G and of D."""

    def build_nets(self, cfg, info):
        return nn.ModuleDict({
            "g": self.build_generator(cfg, info),
            "d": build_discriminator(cfg.d, with_label_channels(info.shape, info.num_classes)),
        })

    def discriminate(self, x, y):
        return self.nets["d"](concat_labels(x, y)), None


@RECIPES.register("acgan")
class ACGAN(ClassConditional):
    """Auxiliary-classifier GAN (Odena et al. 2017): D's head has 1 source output and K class logits."""

    options = ("cond.class_weight",)

    def build_nets(self, cfg, info):
        return nn.ModuleDict({
            "g": self.build_generator(cfg, info),
            "d": build_discriminator(cfg.d, info.shape, out_dim=1 + info.num_classes),
        })

    def discriminate(self, x, y):
        out = self.nets["d"](x)
        return out[:, :1], out[:, 1:]


@RECIPES.register("projection")
class Projection(ClassConditional):
    """Projection discriminator (Miyato & Koyama 2018) with a conditional-batch-norm generator."""

    def build_nets(self, cfg, info):
        if not cfg.g.batch_norm:
            raise ConfigError("recipe 'projection' conditions G through batch norm; set g.batch_norm=true")
        g = build_generator(cfg.g, cfg.latent.dim, info.shape)
        return nn.ModuleDict({
            "g": ConditionalBNGenerator(g, cfg.latent.dim, info.num_classes),
            "d": ProjectionDiscriminator(build_discriminator(cfg.d, info.shape), info.num_classes),
        })

    def discriminate(self, x, y):
        return self.nets["d"](x, y), None

