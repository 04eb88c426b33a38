"""Image-to-image translation: pix2pix, CycleGAN and StarGAN.

G maps an image (and, for StarGAN, target-domain labels) to an image; there is no latent. The three
share :class:`Translation`: how a run translates new images (``gankit translate``), the figure saved
during training, and keeping the D step's G(x) for the G step. D is a PatchGAN
(:mod:`gankit.nets.image2image`) and its losses come from any scalar objective of the registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..config import choice, ranged, register_section
from ..errors import ConfigError
from ..nets import build_patch_discriminator, build_translator
from ..nets.conditional import concat_labels
from ..registry import RECIPES
from .base import Phase, Recipe, Sampling


@register_section("translate")
@dataclass
class TranslateConfig:
    """The ``translate:`` section of the image-to-image recipes; each key is read by the recipe that declares it
    in its ``options``."""

    direction: str = choice("AtoB", ("AtoB", "BtoA"))  # pix2pix: which side of each pair is G's input
    gan_weight: float = ranged(1.0, lo=0)  # pix2pix: weight of the cGAN loss (0: the L1-only baseline, no D)
    l1_weight: float = ranged(100.0, lo=0)  # pix2pix: lambda of the L1 term (Isola et al.: 100)
    cycle_weight: float = ranged(10.0, lo=0)  # CycleGAN: lambda of the cycle loss (Zhu et al.: 10)
    identity_weight: float = ranged(0.5, lo=0)  # CycleGAN: identity loss weight, as a fraction of cycle_weight
    pool_size: int = ranged(50, lo=0)  # CycleGAN: history of generated images shown to D (0: none)
    domain_weight: float = ranged(1.0, lo=0)  # StarGAN: lambda_cls of the domain classification loss
    recon_weight: float = ranged(10.0, lo=0)  # StarGAN: lambda_rec of the reconstruction loss


def gray_to_rgb(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Repeat a one-channel image to ``channels`` (so grey and colour images share a figure)."""
    return x.expand(-1, channels, -1, -1) if x.shape[1] == 1 and channels > 1 else x


def panel(columns: list[torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Images of equal size, one tensor (N, C, H, W) per column, interleaved row by row for
    :func:`gankit.viz.grid.save_grid`; returns (images, nrow)."""
    c = max(col.shape[1] for col in columns)
    cols = [gray_to_rgb(col, c) for col in columns]
    return torch.stack(cols, 1).flatten(0, 1), len(cols)


class Translation(Recipe):
    """Base of the image-to-image recipes."""

    translates = True
    critics = ("scalar",)
    source = "image"

    def __init__(self, cfg, info, objective=None):
        super().__init__(cfg, info, objective)
        if objective is not None:
            self.check_penalty_compatible(cfg.d)

    def latent(self, n, generator=None, device=None, **kw):
        raise ConfigError(f"recipe '{self.cfg.recipe}' translates images and has no latent; use `gankit translate`")

    def sampling(self) -> Sampling:
        return Sampling(source="image", condition=self.condition, directions=tuple(self.directions),
                        options=self.generation_options)

    #: directions ``translate`` accepts ("AtoB", "BtoA"); StarGAN has none (it takes target labels)
    @property
    def directions(self) -> tuple:
        return ()

    def translate(self, x: torch.Tensor, nets: Optional[nn.ModuleDict] = None, direction: Optional[str] = None,
                  target: Optional[torch.Tensor] = None) -> torch.Tensor:
        raise NotImplementedError

    def check_direction(self, direction: Optional[str]) -> None:
        """Refuse, before anything is computed or written, a ``--direction`` this run cannot take."""
        if direction is not None and direction not in self.directions:
            raise ConfigError(f"this {self.cfg.recipe} run translates {' and '.join(self.directions)} only, "
                              f"not {direction}")

    def sample_panel(self, batch: tuple, nets: nn.ModuleDict) -> tuple[torch.Tensor, int]:
        """The figure saved during training, as (images, images per row)."""
        raise NotImplementedError

    def preview_inputs(self, dataset, n, generator, device) -> tuple:
        """The same few training inputs are translated in every preview."""
        return tuple(t.to(device) for t in dataset.fixed_batch(min(n, 8)))

    def draw(self, fixed, nets):
        return self.sample_panel(fixed, nets)

    def input_shape(self, direction: Optional[str] = None) -> tuple:
        """The shape of the images ``translate`` takes in ``direction``."""
        return self.info.shape if direction == "BtoA" else self.info.source_shape

    def _g_output(self, make):
        """G's output for the D step, computed by ``make()``. With one D step per G step the G step reuses
        it with its graph (G's weights do not change in between), which saves one forward pass of G."""
        if self.cfg.train.n_critic == 1 and self.training:
            with torch.enable_grad():
                out = make()
            return out, out
        with torch.no_grad():
            return make(), None

    def optimizer_params(self):
        groups = {"g": [p for n in self.generators for p in self.nets[n].parameters()],
                  "d": [p for n in self.critic_names for p in self.nets[n].parameters()]}
        return {k: v for k, v in groups.items() if v}

    critic_names: tuple = ("d",)


@RECIPES.register("pix2pix")
class Pix2Pix(Translation):
    """pix2pix (Isola et al. 2017): G(x) from a source image, D judges (x, y) pairs patch by patch.

    G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G) (their eq. 4), with
    L_cGAN = E[log D(x, y)] + E[log(1 - D(x, G(x)))] (eq. 1) and L_L1 = E||y - G(x)||_1 (eq. 3), lambda 100
    (``translate.l1_weight``). L_cGAN is any scalar objective (the paper's is ``ns``). G has no z: dropout
    is its noise (sec. 3.1), kept at test time with ``tricks.g_dropout_at_sample``.
    ``translate.gan_weight=0`` trains the L1-only model (no D), the paper's baseline in table 1.
    The paper halves D's loss; with Adam that rescaling has almost no effect, so it is not done here.
    """

    pairings = ("paired",)
    options = ("translate.direction", "translate.gan_weight", "translate.l1_weight")

    def build_nets(self, cfg, info):
        src, tgt = (info.source_shape, info.shape) if cfg.translate.direction == "AtoB" else (info.shape, info.source_shape)
        if src[1:] != tgt[1:]:
            raise ConfigError(f"pix2pix needs A and B of one size, the data has {tuple(src)} and {tuple(tgt)}; set data.image_size")
        nets = {"g": build_translator(cfg.g, src[0], tgt[0], tgt[-1])}
        if cfg.translate.gan_weight > 0:
            nets["d"] = build_patch_discriminator(cfg.d, (src[0] + tgt[0],) + tuple(tgt[1:]))
        return nn.ModuleDict(nets)

    @property
    def has_d(self) -> bool:
        return "d" in self.nets

    @property
    def critic_names(self):
        return ("d",) if self.has_d else ()

    @property
    def directions(self):
        return (self.cfg.translate.direction,)

    def input_shape(self, direction=None):
        return self.info.source_shape if self.cfg.translate.direction == "AtoB" else self.info.shape

    def phases(self):
        if not self.has_d:
            return [Phase("g", "g")]
        return [Phase("d", "d", self.cfg.train.n_critic, critics=("d",)),
                Phase("g", "g", needs_data=False, frozen=("d",))]

    def _source_target(self, batch):
        a, b = batch
        return (a, b) if self.cfg.translate.direction == "AtoB" else (b, a)

    def judge(self, src, y):
        return self.nets["d"](self.d_input(torch.cat([src, y], 1)))

    def loss(self, phase, batch):
        obj, t = self.require_objective(), self.cfg.translate
        if phase == "d":
            src, tgt = self._source_target(batch)
            fake, kept = self._g_output(lambda: self.nets["g"](src))
            self._last = (src, tgt, kept)
            loss, logs, _ = self.d_step(tgt, fake.detach(), lambda y: self.nets["d"](torch.cat([src, y], 1)))
            return loss, logs
        if self.has_d:
            src, tgt, fake = self._last
            self._last = None
        else:
            src, tgt, fake = *self._source_target(batch), None
        if fake is None:
            fake = self.nets["g"](src)
        l1 = (fake - tgt).abs().mean()
        loss, logs = t.l1_weight * l1, {"g_l1": l1.detach()}
        if self.has_d:
            gan = obj.g_loss(self.judge(src, fake))
            loss = loss + t.gan_weight * gan
            logs["g_gan"] = gan.detach()
        logs["g_loss"] = loss.detach()
        return loss, logs

    def translate(self, x, nets=None, direction=None, target=None):
        return (nets or self.nets)["g"](x)

    def sample_panel(self, batch, nets):
        src, tgt = self._source_target(batch)
        return panel([src, self.translate(src, nets), tgt])


class HistoryPool(nn.Module):
    """The image buffer of Shrivastava et al. 2017 used by CycleGAN (sec. 4): D is shown a mix of new fakes
    and up to ``size`` older ones. Once full, each new fake is returned with probability 1/2; otherwise a
    random stored fake is returned and the new one takes its place. The pool is recipe state, not a network:
    CycleGAN saves it in the trainer state (:meth:`CycleGAN.extra_state`), so a resumed run continues with
    the same pool."""

    def __init__(self, size: int, shape: tuple):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros((size,) + tuple(shape)))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return fakes
        out = fakes.detach().clone()
        for i in range(len(out)):
            n = int(self.filled)
            if n < self.size:
                self.images[n] = out[i]
                self.filled += 1
            elif torch.rand(()) < 0.5:
                j = int(torch.randint(self.size, ()))
                old = self.images[j].clone()
                self.images[j] = out[i]
                out[i] = old
        return out


@RECIPES.register("cyclegan")
class CycleGAN(Translation):
    """CycleGAN (Zhu et al. 2017): G: A -> B and F: B -> A from unpaired images, with D_A and D_B.

    L = L_GAN(G, D_B) + L_GAN(F, D_A) + lambda L_cyc (their eq. 3), L_cyc = E||F(G(a)) - a||_1 +
    E||G(F(b)) - b||_1 (eq. 2), lambda 10 (``translate.cycle_weight``); the identity loss
    E||G(b) - b||_1 + E||F(a) - a||_1 weighted 0.5 lambda (sec. 5.2, ``translate.identity_weight``).
    The paper's GAN loss is the least-squares one (``lsgan``); D learns from a history of 50 fakes
    (:class:`HistoryPool`); the lr decays linearly to 0 over the second half (``optim.*.schedule``).
    As in the authors' code, one step updates both generators, then both discriminators.
    """

    pairings = ("unpaired", "paired")
    options = ("translate.cycle_weight", "translate.identity_weight", "translate.pool_size")
    generators = ("g_ab", "g_ba")
    critic_names = ("d_a", "d_b")

    def build_nets(self, cfg, info):
        a, b = info.source_shape, info.shape
        if a[1:] != b[1:]:
            raise ConfigError(f"cyclegan needs A and B of one size, the data has {tuple(a)} and {tuple(b)}; set data.image_size")
        if cfg.translate.identity_weight > 0 and a[0] != b[0]:
            raise ConfigError(f"the identity loss needs A and B with the same channels ({a[0]} and {b[0]}); "
                              "set translate.identity_weight=0")
        size = b[-1]
        return nn.ModuleDict({
            "g_ab": build_translator(cfg.g, a[0], b[0], size), "g_ba": build_translator(cfg.g, b[0], a[0], size),
            "d_a": build_patch_discriminator(cfg.d, a), "d_b": build_patch_discriminator(cfg.d, b)})

    def __init__(self, cfg, info, objective=None):
        super().__init__(cfg, info, objective)
        a, b = info.source_shape, info.shape
        self.pools = nn.ModuleDict({"a": HistoryPool(cfg.translate.pool_size, a),
                                    "b": HistoryPool(cfg.translate.pool_size, b)})

    def extra_state(self) -> dict:
        return {f"pool_{side}.{k}": v.detach().cpu().clone() for side, pool in self.pools.items()
                for k, v in pool.state_dict().items()}

    def load_extra_state(self, state: dict) -> None:
        for side, pool in self.pools.items():
            pool.load_state_dict({k: state[f"pool_{side}.{k}"] for k in ("images", "filled")})

    def upgrade_weights(self, nets: dict) -> dict:
        """Runs saved before the pools became recipe state kept them among the networks' weights."""
        old = {k: nets.pop(k) for k in [k for k in nets if k.startswith("pool_")]}
        if old:
            self.load_extra_state(old)
        return nets

    @property
    def directions(self):
        return ("AtoB", "BtoA")

    def phases(self):
        return [Phase("g", "g", frozen=("d",)), Phase("d", "d", needs_data=False, critics=self.critic_names)]

    def _judge(self, name, x):
        return self.nets[name](self.d_input(x))

    def loss(self, phase, batch):
        obj, t = self.require_objective(), self.cfg.translate
        n = self.nets
        if phase == "g":
            a, b = batch
            fake_b, fake_a = n["g_ab"](a), n["g_ba"](b)
            gan = obj.g_loss(self._judge("d_b", fake_b)) + obj.g_loss(self._judge("d_a", fake_a))
            cycle = (n["g_ba"](fake_b) - a).abs().mean() + (n["g_ab"](fake_a) - b).abs().mean()
            loss = gan + t.cycle_weight * cycle
            logs = {"g_gan": gan.detach(), "g_cycle": cycle.detach()}
            if t.identity_weight > 0:
                identity = (n["g_ab"](b) - b).abs().mean() + (n["g_ba"](a) - a).abs().mean()
                loss = loss + t.identity_weight * t.cycle_weight * identity
                logs["g_identity"] = identity.detach()
            self._last = (a, b, fake_a.detach(), fake_b.detach())
            logs["g_loss"] = loss.detach()
            return loss, logs
        a, b, fake_a, fake_b = self._last
        self._last = None
        loss, logs = 0.0, {}
        for side, real, fake in (("a", a, fake_a), ("b", b, fake_b)):
            side_loss, side_logs, _ = self.d_step(real, self.pools[side].query(fake), n[f"d_{side}"], f"_{side}")
            logs.update(side_logs)
            loss = loss + side_loss
        logs["d_loss"] = loss.detach()
        return loss, logs

    def translate(self, x, nets=None, direction=None, target=None):
        return (nets or self.nets)["g_ba" if direction == "BtoA" else "g_ab"](x)

    def sample_panel(self, batch, nets):
        a, b = batch
        fake_b, fake_a = nets["g_ab"](a), nets["g_ba"](b)
        return panel([a, fake_b, nets["g_ba"](fake_b), b, fake_a, nets["g_ab"](fake_a)])


@RECIPES.register("stargan")
class StarGAN(Translation):
    """StarGAN (Choi et al. 2018): one G(x, c) for every domain c, and a D with a source head D_src and a
    domain-classification head D_cls.

    L_D = -L_adv + lambda_cls L_cls^r and L_G = L_adv + lambda_cls L_cls^f + lambda_rec L_rec (their eq. 5),
    with L_cls^r = E[-log D_cls(c'|x)] on real images and their labels (eq. 2), L_cls^f = E[-log D_cls(c|G(x, c))]
    on fakes and their target labels (eq. 3), and L_rec = E||x - G(G(x, c), c'||_1 (eq. 4); lambda_cls 1,
    lambda_rec 10 (``translate.domain_weight`` / ``recon_weight``). L_adv is any scalar objective (the
    paper's is WGAN-GP, with the penalty on D_src). Here a domain is one value per categorical attribute:
    c is the concatenation of one-hot vectors, and L_cls sums one cross-entropy per attribute. Target
    domains are the batch's own labels shuffled, as in the authors' code. G sees c as constant feature maps.
    """

    pairings = ("domains",)
    condition = "attributes"
    options = ("translate.domain_weight", "translate.recon_weight")

    def build_nets(self, cfg, info):
        c, size = info.shape[0], info.shape[-1]
        g = build_translator(cfg.g, c + self.label_dim_of(info), c, size, padding="zeros")  # see ResnetTranslator
        return nn.ModuleDict({"g": g,
                              "d": build_patch_discriminator(cfg.d, info.shape, self.label_dim_of(info))})

    @staticmethod
    def label_dim_of(info) -> int:
        return sum(len(v) for _, v in info.attributes)

    @property
    def attributes(self) -> tuple:
        return self.info.attributes

    def one_hot(self, y: torch.Tensor) -> torch.Tensor:
        """(N, n_attributes) value indices -> (N, sum of values) concatenated one-hot vectors."""
        return torch.cat([F.one_hot(y[:, i], len(v)) for i, (_, v) in enumerate(self.attributes)], 1).float()

    def domain_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The sum over attributes of the cross-entropy of that attribute's logits."""
        loss, start = 0.0, 0
        for i, (_, values) in enumerate(self.attributes):
            loss = loss + F.cross_entropy(logits[:, start : start + len(values)], y[:, i])
            start += len(values)
        return loss

    def predict(self, x: torch.Tensor, nets=None) -> torch.Tensor:
        """D_cls's reading of each image's attributes, (N, n_attributes) value indices."""
        _, logits = (nets or self.nets)["d"](x)
        out, start = [], 0
        for _, values in self.attributes:
            out.append(logits[:, start : start + len(values)].argmax(1))
            start += len(values)
        return torch.stack(out, 1)

    def phases(self):
        return [Phase("d", "d", self.cfg.train.n_critic, critics=("d",)),
                Phase("g", "g", needs_data=False, frozen=("d",))]

    def _g(self, x, y, nets=None):
        return (nets or self.nets)["g"](concat_labels(x, self.one_hot(y)))

    def loss(self, phase, batch):
        obj, t = self.require_objective(), self.cfg.translate
        d = self.nets["d"]
        if phase == "d":
            x, y = batch
            y_trg = y[torch.randperm(len(y), device=y.device)]
            fake, kept = self._g_output(lambda: self._g(x, y_trg))
            self._last = (x, y, y_trg, kept)
            loss, logs, ((_, cls_real), _) = self.d_step(x, fake.detach(), d)
            cls = self.domain_loss(cls_real, y)
            logs["d_cls"] = cls.detach()
            return loss + t.domain_weight * cls, logs
        x, y, y_trg, fake = self._last
        self._last = None
        if fake is None:
            fake = self._g(x, y_trg)
        src_fake, cls_fake = d(self.d_input(fake))
        adv, cls = obj.g_loss(src_fake), self.domain_loss(cls_fake, y_trg)
        rec = (self._g(fake, y) - x).abs().mean()
        loss = adv + t.domain_weight * cls + t.recon_weight * rec
        return loss, {"g_loss": loss.detach(), "g_adv": adv.detach(), "g_cls": cls.detach(), "g_rec": rec.detach()}

    def translate(self, x, nets=None, direction=None, target=None):
        """G(x, target) with ``target`` (N, n_attributes) value indices."""
        return self._g(x, target, nets)

    def check_direction(self, direction):
        if direction is not None:
            raise ConfigError("--direction is for pix2pix and CycleGAN runs; a StarGAN run takes --to attr=value")

    def sample_panel(self, batch, nets):
        """Input, then one column per attribute value: that attribute set, the others kept from the source."""
        x, y = batch
        columns = [x]
        for i, (_, values) in enumerate(self.attributes):
            for v in range(len(values)):
                target = y.clone()
                target[:, i] = v
                columns.append(self.translate(x, nets, target=target))
        return panel(columns)
