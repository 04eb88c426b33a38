"""Progressive GAN (Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation"): G and D start at 4 x 4 and grow by doubling, each new resolution faded in smoothly.

The networks (:mod:`gankit.nets.progressive`) are built for the final size (``data.image_size`` = 4 * 2^L) and
run at a level of detail (lod) that falls from L (4 x 4) to 0 (the final size) as real images are shown:

- the **schedule** is the authors' ``TrainingSchedule``: each phase first trains ``progan.stable_images`` real
  images at a stable resolution, then fades the next one in over ``progan.fade_images`` images,
  lod = L - phase - max(images_in_phase - stable, 0) / fade, clipped at 0; so the fade weight
  alpha = 1 - (lod - floor(lod)) rises linearly in images shown (``fade_images = 0``: abrupt switches);
- the **reals fade too** (the authors' ``process_reals``): during a fade D sees each real image blended between
  itself and its 2 x 2 box-downsampled-then-upsampled version with the same alpha as G's output;
- **Adam's state is reset** whenever lod crosses an integer, i.e. when a fade starts and when it ends;
- the batch size may differ per resolution (``progan.batch_sizes``, one per level from 4 x 4 up).

Images shown count one real batch per step (D's batch; with ``train.n_critic`` > 1 every critic step sees its
own batch, but the schedule advances by one batch per step). The loss is the run's objective: the paper's is
WGAN-GP (lambda 10) with the drift term ``objective.drift=0.001``; any scalar-critic objective works.

Sampling at any step renders the current level, nearest-upsampled to the final size; a run loaded from disk
renders the level of its checkpoint's step.

``ac-progan`` is the class-conditional form the authors' code allows (their ``D_wgangp_acgan`` loss): G gets
[z, one-hot y], D has K class logits beside its critic output, and both add the AC-GAN class term
``cond.class_weight`` * cross-entropy (Odena et al. 2017) on real and fake images (D) and on fakes (G).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ranged, register_section
from ..errors import ConfigError
from ..nets.progressive import ProgressiveDiscriminator, ProgressiveGenerator
from ..registry import RECIPES
from .base import DataInfo, LatentPart, Phase, Recipe, Sampling, StepPlan, one_hot_labels
from .conditional import ac_d_terms, ac_g_term


@register_section("progan")
@dataclass
class ProganConfig:
    """The ``progan:`` section (read by the ``progan`` recipe)."""

    stable_images: int = ranged(20000, lo=1)  # real images shown per stable phase (the paper: 800k; authors' default 600k)
    fade_images: int = ranged(20000, lo=0)  # real images shown while the next resolution fades in (0: abrupt switches)
    width: int = ranged(32, lo=1, hi=4096)  # feature maps at the final resolution; doubled per halving, up to max_width
    max_width: int = ranged(128, lo=1, hi=4096)  # the most feature maps of any level (the paper: 512)
    batch_sizes: Optional[Tuple[int, ...]] = None  # one per resolution from 4 x 4 up (None: train.batch_size everywhere)


PROGAN_OPTIONS = tuple(f"progan.{name}" for name in ProganConfig.__dataclass_fields__)


def levels_above_4x4(cfg, info: DataInfo) -> int:
    """L for square images of 4 * 2^L px (L >= 1), the networks of ProGAN and StyleGAN; anything else is refused
    in one line."""
    if info.kind != "image":
        raise ConfigError(f"recipe '{cfg.recipe}' draws images, but data.name = {cfg.data.name!r} holds points; use an "
                          "image dataset such as mnist5k or fashion-mnist")
    _, height, width = info.shape
    levels = int(round(math.log2(height / 4))) if height >= 4 else -1
    if height != width or levels < 1 or 4 * 2**levels != height:
        raise ConfigError(f"recipe '{cfg.recipe}' builds 4x4 up to the image size by doubling, but the images are "
                          f"{height}x{width}; set data.image_size to 8, 16, 32 or 64")
    return levels


def level_of_detail(images: float, levels: int, stable: int, fade: int) -> float:
    """The authors' level of detail after ``images`` real images: L at 4 x 4, 0 at the final size, fractional
    while a resolution fades in (``TrainingSchedule`` of progressive_growing_of_gans, reimplemented)."""
    period = stable + fade
    phase = math.floor(images / period)
    lod = levels - phase
    if fade > 0:
        lod -= max(images - phase * period - stable, 0) / fade
    return max(float(lod), 0.0)


def crosses_integer(before: float, after: float) -> bool:
    """True when the lod moves from ``before`` to ``after`` across or onto an integer: a fade starts or ends."""
    return math.floor(before) != math.floor(after) or math.ceil(before) != math.ceil(after)


def level_and_alpha(lod: float, levels: int) -> tuple[int, float]:
    """(level n of the images being trained, 4 * 2^n px; fade weight alpha of its new layers) for a lod."""
    floor = math.floor(lod)
    return levels - floor, 1.0 - (lod - floor)


def fade_reals(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Real images as D sees them during a fade: lerp(up(avgpool2(x)), x, alpha) (the authors' ``process_reals``)."""
    if alpha >= 1.0:
        return x
    coarse = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    return torch.lerp(coarse, x, alpha)


@RECIPES.register("progan")
class ProGAN(Recipe):
    """Progressive growing with fading (see the module's docstring); one G, one scalar critic."""

    options = PROGAN_OPTIONS
    #: one-hot labels condition G and D has a class head (``ac-progan``)
    class_conditional = False

    def __init__(self, cfg, info: DataInfo, objective=None):
        if self.class_conditional and not info.num_classes:
            raise ConfigError(f"recipe '{cfg.recipe}' needs class labels, but data.name = {cfg.data.name!r} has none; "
                              "use mnist5k, fashion-mnist, digits or a folder with one subfolder per class, or "
                              "recipe=progan")
        levels = levels_above_4x4(cfg, info)
        if cfg.d.pack != 1:
            raise ConfigError("recipe 'progan' does not support d.pack; set d.pack=1")
        sizes = cfg.progan.batch_sizes
        if sizes is not None and (len(sizes) != levels + 1 or min(sizes) < 1):
            want = ", ".join(str(4 * 2**k) for k in range(levels + 1))
            raise ConfigError(f"progan.batch_sizes needs {levels + 1} positive sizes, one per resolution ({want} px), "
                              f"got {list(sizes)}")
        self.levels = levels
        self.classes = info.num_classes if self.class_conditional else 0
        super().__init__(cfg, info, objective)
        self.set_step(0)

    # -- networks ---------------------------------------------------------------------------------
    def build_nets(self, cfg, info):
        p = cfg.progan
        mbstd = cfg.d.minibatch_std_group if cfg.d.minibatch_std else 0
        return nn.ModuleDict({
            "g": ProgressiveGenerator(cfg.latent.dim + self.classes, info.shape[0], self.levels, p.width, p.max_width),
            "d": ProgressiveDiscriminator(info.shape[0], self.levels, p.width, p.max_width, mbstd_group=mbstd,
                                          out_dim=1 + self.classes)})

    def optimizer_params(self):
        return {name: list(net.parameters()) for name, net in self.nets.items()}

    def phases(self):
        g_needs_real = bool(self.objective is not None and self.objective.g_needs_real)
        return [Phase("d", "d", self.cfg.train.n_critic, critics=("d",)),
                Phase("g", "g", 1, needs_data=g_needs_real, frozen=("d",))]

    # -- the schedule -----------------------------------------------------------------------------
    def level_batch(self, level: int) -> int:
        """The global batch of a level (``progan.batch_sizes``, else ``train.batch_size``)."""
        sizes = self.cfg.progan.batch_sizes
        return sizes[level] if sizes is not None else self.cfg.train.batch_size

    def set_world(self, world: int) -> None:
        from ..train.distributed import local_batch

        for size in self.cfg.progan.batch_sizes or ():
            local_batch(size, world, "each of progan.batch_sizes")
        super().set_world(world)

    def images_before(self, step: int) -> int:
        """Real images shown before ``step`` (the batch of each step depends on the level it trained)."""
        return _images_before(step, self.levels, self.cfg.progan.stable_images, self.cfg.progan.fade_images,
                              self.cfg.progan.batch_sizes, self.cfg.train.batch_size)

    def lod_at(self, step: int) -> float:
        p = self.cfg.progan
        return level_of_detail(self.images_before(step), self.levels, p.stable_images, p.fade_images)

    def set_step(self, step: int) -> None:
        self.step = step
        self.lod = self.lod_at(step)
        self.level, self.alpha = level_and_alpha(self.lod, self.levels)

    def plan(self, step: int) -> StepPlan:
        """The level's resolution and batch size; Adam reset when lod crosses an integer (a fade starts or ends)."""
        lod = self.lod_at(step)
        level, _ = level_and_alpha(lod, self.levels)
        crossed = step > 0 and crosses_integer(self.lod_at(step - 1), lod)
        return StepPlan(reset=("g", "d") if crossed else (), resolution=4 * 2**level,
                        batch_size=self.level_batch(level) if self.cfg.progan.batch_sizes is not None else None)

    def milestone(self, step: int) -> Optional[str]:
        """A label when the ``step`` steps done so far end a stable phase or a fade (the growth figure's rows)."""
        if step == 0:
            return None
        done = self.lod_at(step - 1)
        if not crosses_integer(done, self.lod_at(step)):
            return None
        size = 4 * 2 ** level_and_alpha(done, self.levels)[0]
        return f"{size}px faded in" if done != math.floor(done) else f"{size}px stable"

    # -- sampling ---------------------------------------------------------------------------------
    def sampling(self) -> Sampling:
        if not self.classes:
            return super().sampling()
        d, k = self.cfg.latent.dim, self.classes
        return Sampling(condition="class", classes=k, named_classes=True, options=self.generation_options,
                        parts=(LatentPart("z", 0, d, "noise"), LatentPart("y", d, d + k, "one-hot")))

    def latent(self, n: int, generator: Optional[torch.Generator] = None, device=None, labels=None) -> torch.Tensor:
        """z, or [z, one-hot y] for ``ac-progan`` (y uniform unless ``labels`` are given)."""
        z = super().latent(n, generator, device)
        if not self.classes:
            if labels is not None:
                raise ConfigError("this progan run is unconditional; classes need an ac-progan run")
            return z
        return torch.cat([z, one_hot_labels(n, self.classes, labels, generator).to(z)], 1)

    def generate(self, z: torch.Tensor, nets: Optional[nn.ModuleDict] = None, **cond) -> torch.Tensor:
        """G(z) at the current level of detail, nearest-upsampled to the final size and clipped to [-1, 1]."""
        x = (nets or self.nets)["g"](z, self.level, self.alpha)
        scale = self.info.shape[-1] // x.shape[-1]
        if scale > 1:
            x = F.interpolate(x, scale_factor=scale, mode="nearest")
        return x.clamp(-1, 1)

    # -- losses -----------------------------------------------------------------------------------
    def judge(self, x: torch.Tensor):
        """D's critic output, or (critic output, class logits) for ``ac-progan``."""
        out = self.nets["d"](x, self.alpha)
        return (out[:, :1], out[:, 1:]) if self.classes else out

    def loss(self, phase, batch):
        obj = self.require_objective()
        level, alpha = self.level, self.alpha
        if phase == "d":
            real, labels = fade_reals(batch[0], alpha), batch[1]
            if self.classes:  # the fakes get the real batch's labels (a penalty then compares like with like)
                labels = labels.to(real.device).long()
            code = self.latent(len(real), labels=labels if self.classes else None)
            with torch.no_grad():
                fake = self.nets["g"](code, level, alpha)
            loss, logs, (real_all, fake_all) = self.d_step(real, fake, self.judge)
            if self.classes:
                cls, cls_logs = ac_d_terms(self.cfg.cond.class_weight, real_all[1], fake_all[1], labels)
                logs.update(cls_logs)
                loss = loss + cls
            logs.update({"progan/lod": torch.tensor(self.lod), "progan/alpha": torch.tensor(alpha),
                         "progan/resolution": torch.tensor(float(4 * 2**level))})
            return loss, logs
        code = self.latent(self.level_batch(level) // self.world)
        fake = self.nets["g"](code, level, alpha)
        fake_all = self.judge(self.d_input(fake))
        fake_out = fake_all[0] if self.classes else fake_all
        real_out = None
        if obj.g_needs_real:  # relativistic losses compare with D's view of the (faded) reals
            with torch.no_grad():
                real_all = self.judge(self.d_input(fade_reals(batch[0], alpha)))
                real_out = real_all[0] if self.classes else real_all
        loss = obj.g_loss(fake_out, real_out)
        logs = {"g_loss": loss.detach(), "d_fake_g": obj.report(fake_out)}
        if self.classes:
            cls, cls_logs = ac_g_term(self.cfg.cond.class_weight, fake_all[1], code[:, self.cfg.latent.dim:].argmax(1))
            logs.update(cls_logs)
            loss = loss + cls
        return loss, logs


@lru_cache(maxsize=8)
def _schedule_table(levels, stable, fade, batch_sizes, default_batch) -> list:
    """Cumulative images shown per step, extended on demand (see :func:`_images_before`)."""
    return [0]


def _images_before(step: int, levels, stable, fade, batch_sizes, default_batch) -> int:
    if batch_sizes is None:
        return step * default_batch
    table = _schedule_table(levels, stable, fade, tuple(batch_sizes), default_batch)
    while len(table) <= step:
        images = table[-1]
        level, _ = level_and_alpha(level_of_detail(images, levels, stable, fade), levels)
        table.append(images + batch_sizes[level])
    return table[step]


@RECIPES.register("ac-progan")
class ACProGAN(ProGAN):
    """Class-conditional Progressive GAN with an AC-GAN class head (see the module's docstring)."""

    options = PROGAN_OPTIONS + ("cond.class_weight",)
    condition = "class"
    class_conditional = True
