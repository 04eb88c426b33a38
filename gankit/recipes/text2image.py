"""Text-to-image GAN: GAN-INT-CLS (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis") with
StackGAN's conditioning augmentation (Zhang et al. 2017, sec. 3.1).

G's input, the *code*, is [z, e] with e the caption's sentence embedding (``text.encoder``): ``minilm``, the frozen
all-MiniLM-L6-v2 encoder (:mod:`gankit.text.minilm`), or ``learned``, a GRU trained with D
(:mod:`gankit.text.learned`; it reads only words of the training captions). Networks: :mod:`gankit.nets.text`.

* **Matching-aware D (GAN-CLS, their Algorithm 1).** D's loss has one real term, D(x, t), and two kinds of
  negatives: a real image with a wrong caption t^ (weight ``text.wrong_weight``, the paper's 1/2) and a generated
  image with the right caption (weight 1 - wrong_weight). The wrong caption is drawn from another group of captions
  (another class, or another class-and-colour), never from the image's own (:func:`wrong_captions`). With
  ``text.hard_wrong`` = p, a share p of them comes from the ``text.hard_k`` groups whose captions lie nearest the
  image's own in MiniLM's space (hard negatives, as in image-text matching: Faghri et al. 2018, VSE++): where
  captions name several attributes, a uniform wrong caption almost always differs in an easy one (on
  captioned-colordigits 50 of the 59 other groups differ in a colour), so D learns the colours and barely the digit.
* **GAN-INT (their sec. 4.3).** G also learns from interpolated embeddings (e_a + e_b) / 2 of two training captions,
  weight ``text.interpolation_weight`` (the paper: beta = 0.5, weight 1); D never sees real images for them.
* **Conditioning augmentation** (``text.augment``): c ~ N(mu(e), sigma(e)^2) and G's loss adds
  ``text.kl_weight`` x KL(N(mu, sigma^2) || N(0, I)) (the paper: 1; the release: 2). Samples draw c too: the
  draw's N(0, I) noise is part of the code's noise block.

Any objective that splits into a real and a fake term (``Objective.separable``) works; others are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..config import choice, ranged, register_section
from ..errors import ConfigError
from ..nets import build_discriminator, build_generator
from ..nets.text import TextConditionedGenerator, TextMatchingDiscriminator, kl_to_standard_normal
from ..registry import RECIPES
from .base import DataInfo, LatentPart, Phase, Recipe, Sampling


@register_section("text", "recipe", "text2image")
@dataclass
class TextConfig:
    """The ``text:`` section (read by the ``text2image`` recipe)."""

    encoder: str = choice("minilm", ("minilm", "learned"))  # minilm: frozen, needs the text extra; learned: a GRU
    learned_dim: int = ranged(128, lo=1, hi=4096)  # text.encoder=learned: size of its sentence embedding
    cond_dim: int = ranged(128, lo=1, hi=4096)  # size of G's condition c and of D's compressed embedding (paper: 128)
    augment: bool = True  # conditioning augmentation (StackGAN); false: c = LeakyReLU(W e), as Reed et al.
    cond_lr_mul: float = ranged(0.01, lo=0, lo_open=True, hi=1)  # learning-rate multiplier of the layer that makes c
    kl_weight: float = ranged(1.0, lo=0)  # weight of the KL term in G's loss when text.augment
    matching_aware: bool = True  # GAN-CLS: real images with wrong captions are negatives for D
    wrong_weight: float = ranged(0.5, lo=0, hi=1)  # D's weight on (real, wrong caption); fakes get 1 - this
    interpolation_weight: float = ranged(1.0, lo=0)  # GAN-INT: weight of G's loss on interpolated embeddings
    hard_wrong: float = ranged(0.0, lo=0, hi=1)  # share of wrong captions drawn from the groups nearest the image's own
    hard_k: int = ranged(9, lo=1)  # text.hard_wrong: how many nearest groups (by mean MiniLM embedding) to draw from


def wrong_captions(groups: torch.Tensor, caption_groups: torch.Tensor, generator=None) -> torch.Tensor:
    """For images whose captions are of ``groups`` (N,), one caption index each drawn uniformly from the captions of
    every *other* group (``caption_groups`` (M,): each caption's group, sorted). Never a caption of the image's own
    group: Reed et al.'s (2016) mismatched text, without AttnGAN's same-class collisions to mask."""
    groups, caption_groups = groups.cpu(), caption_groups.cpu()
    start = torch.searchsorted(caption_groups, groups, right=False)
    stop = torch.searchsorted(caption_groups, groups, right=True)
    own = stop - start
    others = len(caption_groups) - own
    if bool((others == 0).any()):
        raise ConfigError("every caption of this dataset is in one group, so no caption can be a wrong one; "
                        "give the images captions of at least two kinds, or set text.matching_aware=false")
    r = (torch.rand(len(groups), generator=generator) * others).long().clamp_max(others - 1)
    return torch.where(r < start, r, r + own)


class CaptionPool:
    """The run's training captions (``DataInfo.captions``) and their embeddings, computed once."""

    def __init__(self, captions: tuple):
        self.texts = [t for t, _ in captions]
        self.groups = torch.tensor([g for _, g in captions])  # sorted
        self.group_ids, self.group_count = torch.unique_consecutive(self.groups, return_counts=True)
        self.group_first = torch.searchsorted(self.groups, self.group_ids)

    def pick(self, groups: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """One caption index per entry of ``groups`` (group ids), uniformly among that group's captions."""
        pos = torch.searchsorted(self.group_ids, groups.cpu())
        return self.group_first[pos] + (torch.rand(len(pos), generator=generator) * self.group_count[pos]).long()

    def nearest_groups(self, embeddings: torch.Tensor, k: int) -> torch.Tensor:
        """(groups, min(k, groups - 1)): for each group (by position in ``group_ids``), the positions of the other
        groups whose mean caption embedding (``embeddings``: one row per pool caption) is nearest its own."""
        pos = torch.searchsorted(self.group_ids, self.groups)
        means = torch.zeros(len(self.group_ids), embeddings.shape[1]).index_add_(0, pos, embeddings.float().cpu())
        means /= self.group_count[:, None]
        k, rows = min(k, len(self.group_ids) - 1), []
        for start in range(0, len(means), 1024):  # blocks of rows: a caption folder can have many thousand groups
            dist = torch.cdist(means[start:start + 1024], means)
            dist[torch.arange(len(dist)), torch.arange(start, start + len(dist))] = float("inf")
            rows.append(dist.topk(k, dim=1, largest=False).indices)
        return torch.cat(rows)

    def pick_near(self, groups: torch.Tensor, nearest: torch.Tensor,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """One caption index per entry of ``groups`` (group ids), from one of that group's ``nearest`` groups (a row
        of :meth:`nearest_groups`) drawn uniformly: a wrong caption that differs from the right one in few words."""
        rows = nearest[torch.searchsorted(self.group_ids, groups.cpu())]
        choice = (torch.rand(len(rows), generator=generator) * rows.shape[1]).long()
        return self.pick(self.group_ids[rows[torch.arange(len(rows)), choice]], generator)

    def draw(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """``n`` caption indices: a group uniformly, then one of its captions uniformly."""
        return self.pick(self.group_ids[torch.randint(len(self.group_ids), (n,), generator=generator)], generator)


@RECIPES.register("text2image")
class TextToImage(Recipe):
    """G(z, text) and a matching-aware D(x, text) (GAN-INT-CLS with conditioning augmentation)."""

    condition = "text"
    pairings = ("captioned",)
    separable_only = True

    def __init__(self, cfg, info: DataInfo, objective=None):
        if cfg.d.pack != 1:
            raise ConfigError("recipe 'text2image' does not support d.pack; set d.pack=1")
        self.pool = CaptionPool(info.captions)
        if cfg.text.matching_aware and len(self.pool.group_first) < 2:
            raise ConfigError("every caption of this dataset is in one group, so none can be a wrong caption; give the "
                              "images captions of at least two kinds, or set text.matching_aware=false")
        super().__init__(cfg, info, objective)
        if cfg.text.encoder == "minilm":
            from ..text.minilm import encode

            raw = encode(self.pool.texts)
            centre = raw.mean(0)
            spread = float((raw - centre).pow(2).mean().sqrt())
            self.register_buffer("centre", centre, persistent=False)
            self.spread = spread if spread > 1e-6 else 1.0
            self.register_buffer("table", self.standardise(raw), persistent=False)
            if cfg.text.hard_wrong > 0:
                self.nearest = self.pool.nearest_groups(self.table, cfg.text.hard_k)
        elif cfg.text.hard_wrong > 0:
            raise ConfigError("text.hard_wrong picks wrong captions near the right one in MiniLM's fixed space; use it "
                              "with text.encoder=minilm, or set text.hard_wrong=0")
        if objective is not None:
            self.check_penalty_compatible(cfg.d)

    @property
    def embed_dim(self) -> int:
        if self.cfg.text.encoder == "learned":
            return self.cfg.text.learned_dim
        from ..text.minilm import WIDTH

        return WIDTH

    def build_nets(self, cfg, info):
        t, shape = cfg.text, info.shape
        nets = {"g": TextConditionedGenerator(build_generator(cfg.g, cfg.latent.dim + t.cond_dim, shape),
                                              cfg.latent.dim, self.embed_dim, t.cond_dim, t.augment, t.cond_lr_mul),
                "d": TextMatchingDiscriminator(build_discriminator(cfg.d, shape), shape, self.embed_dim, t.cond_dim,
                                               cfg.d.spectral_norm)}
        if t.encoder == "learned":
            from ..text.learned import LearnedTextEncoder, vocabulary

            nets["text"] = LearnedTextEncoder(vocabulary(self.pool.texts), t.learned_dim)
        return nn.ModuleDict(nets)

    def optimizer_params(self):
        d = list(self.nets["d"].parameters()) + (list(self.nets["text"].parameters()) if "text" in self.nets else [])
        return {"g": list(self.nets["g"].parameters()), "d": d}

    def phases(self):
        return [Phase("d", "d", self.cfg.train.n_critic, critics=("d",)),
                Phase("g", "g", 1, needs_data=False, frozen=("d",))]

    # -- text ---------------------------------------------------------------------------------------
    def standardise(self, e: torch.Tensor) -> torch.Tensor:
        """MiniLM's unit-length embeddings, centred on the training captions' mean and scaled so that their
        coordinates have unit mean square. Raw, two captions differ by a few hundredths per coordinate, which a
        slowly learning conditioning layer (``text.cond_lr_mul``) cannot amplify in a short run: measured on
        captioned-mnist5k, 2,000 steps, seed 0, images from held-out captions drawn as their digit: 10 % raw (chance),
        81 % standardised."""
        return (e.to(self.centre) - self.centre) / self.spread

    def embed(self, captions: torch.Tensor, grad: bool = True) -> torch.Tensor:
        """Embeddings (N, E) of pool captions by index; the learned encoder's carry gradients into it unless ``grad``
        is False (G's conditions: the encoder learns in D's step only)."""
        if self.cfg.text.encoder == "minilm":
            return self.table[captions.to(self.table.device)]
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            return self.nets["text"]([self.pool.texts[i] for i in captions.tolist()])

    def encode(self, texts: list, unknown: str = "refuse") -> torch.Tensor:
        """Embeddings (N, E) of any captions (a user's sentences); the learned encoder refuses unseen words unless
        ``unknown="allow"``."""
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(f"caption {text!r} is empty; give a sentence such as 'a red seven'")
        device = next(self.parameters()).device
        if self.cfg.text.encoder == "minilm":
            from ..text.minilm import encode

            return self.standardise(encode(list(texts)).to(device))
        return self.nets["text"](list(texts), unknown=unknown)

    # -- the code [z, e] ----------------------------------------------------------------------------
    @property
    def noise_dim(self) -> int:
        """Columns of the code's noise block: z, then the conditioning augmentation's N(0, I) draw."""
        return self.cfg.latent.dim + self.nets["g"].condition.noise_dim

    def sampling(self) -> Sampling:
        d = self.noise_dim
        return Sampling(condition="text", options=self.generation_options,
                        parts=(LatentPart("z", 0, d, "noise"), LatentPart("text", d, d + self.embed_dim, "text")))

    def noise(self, n: int, generator: Optional[torch.Generator] = None, device=None) -> torch.Tensor:
        """The code's noise block: z ~ p(z), then eps ~ N(0, I) for the conditioning augmentation."""
        z = super().latent(n, generator, device)
        eps = torch.randn(n, self.noise_dim - z.shape[1], generator=generator).to(z)
        return torch.cat([z, eps], 1)

    def latent(self, n: int, generator: Optional[torch.Generator] = None, device=None, texts=None,
               unknown: str = "refuse") -> torch.Tensor:
        """[z, eps, e]: e the embedding of ``texts`` (n captions, or one for all; ``unknown`` as in :meth:`encode`), or
        of training captions drawn with ``generator`` (a group uniformly, then one of its captions). The noise block
        comes first from ``generator``, so one seed gives the same noise whatever the captions."""
        z = self.noise(n, generator, device)
        if texts is None:
            e = self.embed(self.pool.draw(n, generator), grad=False)
        else:
            texts = [texts] if isinstance(texts, str) else list(texts)
            if len(texts) not in (1, n):
                raise ConfigError(f"{len(texts)} captions for {n} samples; give one caption, or one per sample")
            with torch.no_grad():
                e = self.encode(texts if len(texts) == n else texts * n, unknown)
        return torch.cat([z, e.to(z)], 1)

    def preview_inputs(self, dataset, n, generator, device):
        """The training preview: rows of up to 8 caption groups spread over the pool (its first caption each), the
        same 8 z in every row."""
        groups = len(self.pool.group_first)
        rows = max(1, min(8, n // 8, groups))
        picks = self.pool.group_first[torch.linspace(0, groups - 1, rows).round().long()]
        z = self.noise(8, generator, device).repeat(rows, 1)
        e = self.embed(picks.repeat_interleave(8), grad=False).to(z)
        return (torch.cat([z, e], 1),)

    def draw(self, fixed, nets):
        return self.generate(fixed[0], nets), 8

    # -- losses -------------------------------------------------------------------------------------
    def discriminate(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        return self.nets["d"](x, e)

    def fake(self, z: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G(z, c) with c drawn by conditioning augmentation, the augmentation's KL term or 0)."""
        g = self.nets["g"]
        c, mu, logvar = g.condition(e)
        kl = kl_to_standard_normal(mu, logvar) if logvar is not None else torch.zeros((), device=z.device)
        return g.synthesise(z, c), kl

    def loss(self, phase, batch):
        obj, t = self.require_objective(), self.cfg.text
        if phase == "d":
            real, _, captions = batch
            e = self.embed(captions)
            with torch.no_grad():
                fake, _ = self.fake(super().latent(len(real)), e.detach())
            extra = ()
            if t.matching_aware:
                groups = self.pool.groups[captions.cpu()]
                wrong = wrong_captions(groups, self.pool.groups)
                if t.hard_wrong > 0:
                    hard = torch.rand(len(groups)) < t.hard_wrong
                    wrong = torch.where(hard, self.pool.pick_near(groups, self.nearest), wrong)
                e_wrong = self.embed(wrong.to(captions.device))
                extra = ((real, t.wrong_weight, lambda v: self.discriminate(v, e_wrong)),)
            loss, logs, _ = self.d_step(real, fake, lambda v: self.discriminate(v, e), extra_fakes=extra,
                                        fake_weight=1.0 - t.wrong_weight if t.matching_aware else 1.0)
            return loss, logs
        n = self.batch_size
        captions = self.pool.draw(n)
        e = self.embed(captions, grad=False)
        fake, kl = self.fake(super().latent(n), e)
        fake_out = self.discriminate(self.d_input(fake), e)
        loss = obj.g_loss(fake_out)
        logs = {"g_loss": loss.detach(), "d_fake_g": obj.report(fake_out)}
        if t.interpolation_weight > 0:
            e_mid = (e + self.embed(self.pool.draw(n), grad=False)) / 2
            fake_mid, kl_mid = self.fake(super().latent(n), e_mid)
            interp = obj.g_loss(self.discriminate(self.d_input(fake_mid), e_mid))
            logs["g_interpolation_loss"] = interp.detach()
            loss = loss + t.interpolation_weight * interp
            kl = (kl + kl_mid) / 2
        if t.augment and t.kl_weight > 0:
            logs["g_kl"] = kl.detach()
            loss = loss + t.kl_weight * kl
        return loss, logs
