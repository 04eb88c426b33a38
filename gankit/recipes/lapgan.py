"""LAPGAN (Denton, Chintala, Szlam & Fergus 2015): a Laplacian pyramid of GANs, sampled coarse to fine.

The training images I_L are split into a Laplacian pyramid (:mod:`gankit.data.pyramid`): the coarse image I_0
and the residuals h_k = I_k - l_k with l_k = up(I_{k-1}), I_{k-1} = down(I_k) (their sec. 3.1, eq. 3).

- Level 0 is an ordinary GAN on I_0: G_0(z_0) from ``g.*`` and D_0 from ``d.*`` (fully connected at 7 or 8 px,
  as the paper's coarsest CIFAR-10 level).
- Level k > 0 is a conditional GAN on the residual: G_k(z_k, l_k) -> h~_k, the noise z_k one extra image plane
  stacked with l_k; D_k judges l_k + h, the low-pass image added to the residual (real or generated) before its
  first convolution (sec. 3.2; :mod:`gankit.nets.laplacian`). Sizes come from ``lapgan.*``.
- The levels train independently, each on its own level of the same real batch and with its own state of the
  objective (Fisher GAN's lambda, say). One step updates every D_k once (``train.n_critic`` times), then
  every G_k once: the D (and G) losses of the levels are summed into one update, and since no parameter is
  shared between levels and Adam works parameter by parameter, that equals a separate update of each level
  (except for ``train.grad_clip``, which then bounds the norm over all levels together).
- Sampling runs coarse to fine (sec. 3.1, eq. 4): I_0 = G_0(z_0), then I_k = l_k + G_k(z_k, l_k) with
  l_k = up(I_{k-1}); the result is clipped to the data range [-1, 1].
- ``cc-lapgan`` (class-conditional, sec. 4): a one-hot label, mapped by a linear layer to one feature plane
  of the level's size, stacked with the input of every G_k (k > 0) and of every D_k; G_0 takes [z_0, y].
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ranged, register_section
from ..data.pyramid import check_size, gaussian_pyramid, pyr_up
from ..errors import ConfigError
from ..nets import build_discriminator, build_generator
from ..nets.laplacian import LevelDiscriminator, LevelGenerator, PlaneConditioned
from ..registry import RECIPES
from .base import DataInfo, LatentPart, Phase, Recipe, Sampling


@register_section("lapgan")
@dataclass
class LapganConfig:
    """The ``lapgan:`` section (read by the ``lapgan`` and ``cc-lapgan`` recipes)."""

    levels: int = ranged(1, lo=1, hi=8)  # residual levels above the coarse GAN: 1 gives 14 -> 28 on MNIST, 2 gives 7 -> 14 -> 28
    width: int = ranged(64, lo=1, hi=4096)  # feature maps of every G_k and D_k, k > 0 (the authors' code: 64)
    dropout: float = ranged(0.5, lo=0, hi=1, hi_open=True)  # before D_k's linear output, k > 0 (the authors' code)


LAPGAN_OPTIONS = ("lapgan.levels", "lapgan.width", "lapgan.dropout")


@RECIPES.register("lapgan")
class LAPGAN(Recipe):
    """A coarse GAN plus ``lapgan.levels`` conditional GANs on Laplacian residuals (see the module's docstring)."""

    options = LAPGAN_OPTIONS
    staged = True
    augments_d_input = False  # d_input receives the residual h; the judge adds l (see judge)
    #: one-hot class labels condition every level (CC-LAPGAN)
    class_conditional = False

    def __init__(self, cfg, info: DataInfo, objective=None):
        if info.kind != "image":
            raise ConfigError(f"recipe '{cfg.recipe}' builds an image pyramid, but data.name = {cfg.data.name!r} "
                              "holds points; use an image dataset such as mnist5k or fashion-mnist")
        if cfg.d.pack != 1:
            raise ConfigError(f"recipe '{cfg.recipe}' does not support d.pack; set d.pack=1")
        if self.class_conditional and not info.num_classes:
            raise ConfigError(f"recipe '{cfg.recipe}' needs class labels, but data.name = {cfg.data.name!r} has "
                              "none; use mnist5k, fashion-mnist or a folder with one subfolder per class, or "
                              "recipe=lapgan")
        channels, height, width = info.shape
        if height != width:
            raise ConfigError(f"recipe '{cfg.recipe}' needs square images, the data has {height}x{width}; set "
                              "data.image_size")
        levels = cfg.lapgan.levels
        coarsest = check_size(height, levels, "data.image_size")
        self.sizes = [coarsest * 2**k for k in range(levels + 1)]  # I_0 ... I_L, coarse to fine
        self.classes = info.num_classes if self.class_conditional else 0
        super().__init__(cfg, info, objective)
        # level 0 plays with the trainer's objective; every finer level has its own copy (its own state)
        self.level_objectives = [objective] + [copy.deepcopy(objective) for _ in range(levels)] \
            if objective is not None else []
        if objective is not None:
            self.check_penalty_compatible(cfg.d)

    # -- networks ---------------------------------------------------------------------------------
    @property
    def levels(self) -> int:
        return len(self.sizes) - 1

    @property
    def generators(self) -> tuple:
        return tuple(f"g{k}" for k in range(len(self.sizes)))

    def build_nets(self, cfg, info):
        c, k_cls, lap = info.shape[0], self.classes, cfg.lapgan
        s0 = self.sizes[0]
        try:
            nets = {"g0": build_generator(cfg.g, cfg.latent.dim + k_cls, (c, s0, s0)),
                    "d0": PlaneConditioned(build_discriminator(cfg.d, (c + (1 if k_cls else 0), s0, s0)), k_cls, s0)}
        except ConfigError as e:
            raise ConfigError(f"the coarse level of {cfg.recipe} is {s0}x{s0} px ({e}); use g.name=mlp d.name=mlp, "
                              "fewer lapgan.levels or a larger data.image_size") from None
        extra = 1 if k_cls else 0
        for k, size in enumerate(self.sizes[1:], 1):
            nets[f"g{k}"] = PlaneConditioned(LevelGenerator(c + 1 + extra, c, lap.width), k_cls, size)
            nets[f"d{k}"] = PlaneConditioned(LevelDiscriminator(c + extra, size, lap.width, lap.dropout), k_cls, size)
        return nn.ModuleDict(nets)

    def optimizer_params(self):
        """One optimiser per role: every G_k in ``optim.g``, every D_k in ``optim.d`` (the paper trains the
        levels with the same settings); Adam's moments are per parameter, so each level keeps its own."""
        return {role: [p for name, net in self.nets.items() if name.startswith(role) for p in net.parameters()]
                for role in ("g", "d")}

    def phases(self):
        critics = tuple(f"d{k}" for k in range(len(self.sizes)))
        return [Phase("d", "d", self.cfg.train.n_critic, critics=critics),
                Phase("g", "g", 1, frozen=("d",))]

    def critic_objectives(self, phase):
        """Each D_k's after-step hook runs on its own level's objective."""
        return [(self.level_objectives[int(name[1:])], [self.nets[name]]) for name in phase.critics]

    # -- the latent: z_0, one noise plane per level, and the label of cc-lapgan ----------------------
    def sampling(self) -> Sampling:
        d = self.cfg.latent.dim
        parts, start = [LatentPart("z", 0, d, "noise")], d
        for k, size in enumerate(self.sizes[1:], 1):
            parts.append(LatentPart(f"z{k}", start, start + size * size, "noise"))
            start += size * size
        if self.classes:
            parts.append(LatentPart("y", start, start + self.classes, "one-hot"))
        return Sampling(condition="class" if self.classes else None, classes=self.classes or None,
                        named_classes=True, parts=tuple(parts), options=self.generation_options)

    def latent(self, n: int, generator: Optional[torch.Generator] = None, device=None,
               labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """[z_0, z_1 (size_1^2), ..., z_L (size_L^2), (y)]: every noise part from ``latent.dist``; y uniform over
        the classes unless ``labels`` are given."""
        device = device or next(self.parameters()).device
        width = self.cfg.latent.dim + sum(s * s for s in self.sizes[1:])
        if self.cfg.latent.dist == "gaussian":
            noise = torch.randn(n, width, generator=generator)
        else:
            noise = torch.rand(n, width, generator=generator) * 2 - 1
        if not self.classes:
            if labels is not None:
                raise ConfigError("this lapgan run is unconditional; classes need a cc-lapgan run")
            return noise.to(device)
        if labels is None:
            labels = torch.randint(self.classes, (n,), generator=generator)
        labels = torch.as_tensor(labels).long()
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} samples")
        if ((labels < 0) | (labels >= self.classes)).any():
            raise ConfigError(f"class {int(labels[(labels < 0) | (labels >= self.classes)][0])} is out of range; "
                              f"this run has classes 0..{self.classes - 1}")
        return torch.cat([noise, F.one_hot(labels, self.classes).float()], 1).to(device)

    def split(self, code: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], Optional[torch.Tensor]]:
        """(z_0, [noise plane of level k, (N, 1, s_k, s_k)], y or None)."""
        parts = self.sampling().parts
        z0 = code[:, parts[0].columns]
        planes = [code[:, p.columns].reshape(len(code), 1, s, s) for p, s in zip(parts[1:], self.sizes[1:])]
        y = code[:, parts[-1].columns] if self.classes else None
        return z0, planes, y

    # -- one level --------------------------------------------------------------------------------
    def coarse(self, z0: torch.Tensor, y: Optional[torch.Tensor], nets) -> torch.Tensor:
        """I_0 = G_0(z_0) (G_0([z_0, y]) when class-conditional)."""
        return nets["g0"](z0 if y is None else torch.cat([z0, y.to(z0.dtype)], 1))

    def residual(self, k: int, low: torch.Tensor, plane: torch.Tensor, y, nets) -> torch.Tensor:
        """h~_k = G_k(z_k, l_k): the noise plane stacked with l_k."""
        return nets[f"g{k}"](torch.cat([low, plane.to(low.dtype)], 1), y)

    def judge(self, k: int, low: Optional[torch.Tensor], y):
        """D_k as a function of what it judges: the coarse image (k = 0), or the residual h, to which l_k is
        added before D_k's first layer (k > 0)."""
        d = self.nets[f"d{k}"]
        if k == 0:
            return lambda x: d(x, y)
        return lambda h: d(low + h, y)

    def generate(self, code: torch.Tensor, nets: Optional[nn.ModuleDict] = None, **options) -> torch.Tensor:
        """Coarse to fine: I_0 = G_0(z_0), I_k = up(I_{k-1}) + G_k(z_k, up(I_{k-1})); clipped to [-1, 1]."""
        return self.stages(code, nets)[-1][1].clamp(-1, 1)

    def stages(self, code: torch.Tensor, nets: Optional[nn.ModuleDict] = None) -> list:
        """The images sampling passes through, in order: ("I0", I_0), then per level ("l1", l_1), ("h1", h~_1),
        ("I1", l_1 + h~_1), ... (the paper's fig. 3); the last is the sample (not clipped)."""
        nets = nets or self.nets
        z0, planes, y = self.split(code)
        x = self.coarse(z0, y, nets)
        out = [("I0", x)]
        for k, plane in enumerate(planes, 1):
            low = pyr_up(x)
            h = self.residual(k, low, plane, y, nets)
            x = low + h
            out += [(f"l{k}", low), (f"h{k}", h), (f"I{k}", x)]
        return out

    # -- losses -----------------------------------------------------------------------------------
    def _levels_of(self, batch):
        """The real batch's Gaussian pyramid (coarse to fine), its one-hot labels (or None) and fresh noise."""
        real, labels = batch
        y = F.one_hot(labels.to(real.device).long(), self.classes).to(real.dtype) if self.classes else None
        code = self.latent(len(real), device=real.device)
        z0, planes, _ = self.split(code)
        return gaussian_pyramid(real, self.levels), y, z0, planes

    def loss(self, phase, batch):
        images, y, z0, planes = self._levels_of(batch)
        total, logs = 0.0, {}
        for k, obj in enumerate(self.level_objectives):
            low = pyr_up(images[k - 1]) if k else None
            real = images[k] - low if k else images[0]
            with torch.set_grad_enabled(phase == "g"):
                fake = self.coarse(z0, y, self.nets) if k == 0 else self.residual(k, low, planes[k - 1], y, self.nets)
            judge = self.judge(k, low, y)
            if phase == "d":
                loss, level_logs, _ = self.d_step(real, fake, judge, objective=obj)
            else:
                fake_out = judge(self.d_input(fake))
                real_out = None
                if obj.g_needs_real:
                    with torch.no_grad():
                        real_out = judge(self.d_input(real))
                loss = obj.g_loss(fake_out, real_out)
                level_logs = {"g_loss": loss.detach(), "d_fake_g": obj.report(fake_out)}
            logs.update({f"level{k}/{name}": value for name, value in level_logs.items()})
            total = total + loss
        logs[f"{phase}_loss"] = total.detach()
        return total, logs

    # -- recipe state: the finer levels' objectives -------------------------------------------------
    def extra_state(self) -> dict:
        return {"level_objectives": [obj.state_dict() for obj in self.level_objectives[1:]]}

    def load_extra_state(self, state: dict) -> None:
        for obj, saved in zip(self.level_objectives[1:], state.get("level_objectives", ())):
            obj.load_state_dict(saved)


@RECIPES.register("cc-lapgan")
class CCLAPGAN(LAPGAN):
    """Class-conditional LAPGAN (Denton et al. 2015, sec. 4): the label conditions every level."""

    condition = "class"
    class_conditional = True
