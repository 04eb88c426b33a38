"""StyleGAN (Karras, Laine & Aila 2019) as the slides teach it: a mapping network, AdaIN styles, noise inputs,
style mixing and truncation (:mod:`gankit.nets.stylegan`), against ProGAN's D with minibatch stddev.

- **The code** of a sample is [z, one noise image per synthesis layer] (every part drawn from the seed, so a
  sample is a function of its code, as LAPGAN's noise planes are); ``gankit sample --opt noise=const`` holds the
  noise at the fixed images drawn when the network was built instead.
- **Style mixing regularisation** (sec. 3.1): with probability ``stylegan.mixing`` (0.9) a training batch uses
  two latents, w1 for the layers before a crossover drawn uniformly from 1 .. layers - 1, w2 from there on (one
  crossover per batch, as the authors' code).
- **w-bar**: the running mean of the mapping's outputs over training batches (decay ``stylegan.w_avg_beta``,
  0.995), kept as a buffer of G so that the EMA copy and every checkpoint carry it.
- **Truncation** at sampling only (sec. 3.2 / appendix B): w' = w-bar + psi (w - w-bar) on the layers before
  ``cutoff`` (default: the coarse half); psi = 1 is off. ``gankit sample --opt truncation=0.7 --opt cutoff=4``.
- **Loss**: the run's objective (non-saturating in the presets) plus R1 on the reals, applied lazily every
  ``stylegan.r1_every`` (16) D steps with the loss multiplied by 16 and Adam's lr and betas corrected
  (StyleGAN2, Karras et al. 2020, sec. 3.1; :class:`~gankit.recipes.base.Phase` ``lazy``). gamma defaults to the
  StyleGAN2-ADA heuristic 0.0002 res^2 / batch (0.0064 at 32 px, batch 32): the FFHQ value gamma = 10 at 1024 px
  would weigh the penalty about 1,500 times as heavily relative to that heuristic at 32 px.
- **Ablations** of the paper's table 1: ``stylegan.mapping_layers=0`` (w = normalised z, the traditional input),
  ``stylegan.noise=false``, ``stylegan.mixing=0``, ``stylegan.const_input=false``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ranged, register_section
from ..errors import ConfigError
from ..nets.progressive import ProgressiveDiscriminator
from ..objectives.penalties import R1Penalty
from ..nets.stylegan import StyleGenerator
from ..registry import RECIPES
from .base import DataInfo, LatentPart, Phase, Recipe, Sampling
from .progan import levels_above_4x4


@register_section("stylegan")
@dataclass
class StyleganConfig:
    """The ``stylegan:`` section (read by the ``stylegan`` recipe)."""

    w_dim: int = ranged(128, lo=1, hi=4096)  # size of w (the paper: 512)
    mapping_layers: int = ranged(8, lo=0, hi=16)  # dense layers of f (0: w is the normalised z; needs w_dim = latent.dim)
    width: int = ranged(32, lo=1, hi=4096)  # feature maps at the final size, doubled per halving up to max_width
    max_width: int = ranged(128, lo=1, hi=4096)
    noise: bool = True  # per-layer noise inputs
    const_input: bool = True  # the learned constant 4x4 input (false: w through a dense layer, the traditional input)
    mixing: float = ranged(0.9, lo=0, hi=1)  # probability of style mixing in a training batch
    w_avg_beta: float = ranged(0.995, lo=0, hi=1, hi_open=True)  # decay of the running mean w-bar
    r1_gamma: Optional[float] = ranged(None, lo=0)  # R1 weight; None: 0.0002 * image_size^2 / batch_size
    r1_every: int = ranged(16, lo=1)  # lazy R1: one R1 step per this many D steps, its loss times this


STYLEGAN_OPTIONS = tuple(f"stylegan.{name}" for name in StyleganConfig.__dataclass_fields__)


def r1_heuristic(size: int, batch: int) -> float:
    """StyleGAN2-ADA's default R1 weight (Karras et al. 2020b, appendix D.3): 0.0002 * resolution^2 / batch."""
    return 0.0002 * size * size / batch


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int) -> torch.Tensor:
    """w' = w-bar + psi (w - w-bar) on the layers before ``cutoff``, the others unchanged."""
    if psi == 1.0 or cutoff <= 0:
        return ws
    out = ws.clone()
    out[:, :cutoff] = torch.lerp(w_avg.to(ws.dtype), ws[:, :cutoff], psi)
    return out


def mix(w1: torch.Tensor, w2: torch.Tensor, crossover: int, layers: int) -> torch.Tensor:
    """Per-layer styles: w1 on layers [0, crossover), w2 on [crossover, layers)."""
    ws = w1[:, None].expand(-1, layers, -1).clone()
    ws[:, crossover:] = w2[:, None]
    return ws


@RECIPES.register("stylegan")
class StyleGAN(Recipe):
    """A style-based G (mapping + AdaIN synthesis) against ProGAN's D; see the module's docstring."""

    options = STYLEGAN_OPTIONS
    generation_options = ("truncation", "cutoff", "noise")

    def __init__(self, cfg, info: DataInfo, objective=None):
        levels = levels_above_4x4(cfg, info)
        if cfg.stylegan.mapping_layers == 0 and cfg.stylegan.w_dim != cfg.latent.dim:
            raise ConfigError(f"stylegan.mapping_layers=0 uses the normalised z as w, so stylegan.w_dim "
                              f"({cfg.stylegan.w_dim}) must equal latent.dim ({cfg.latent.dim}); set both alike")
        if cfg.latent.dist != "gaussian":
            raise ConfigError("recipe 'stylegan' draws z and its noise inputs from N(0, I); set latent.dist=gaussian")
        if cfg.d.pack != 1:
            raise ConfigError("recipe 'stylegan' does not support d.pack; set d.pack=1")
        self.levels = levels
        super().__init__(cfg, info, objective)

    # -- networks ---------------------------------------------------------------------------------
    def build_nets(self, cfg, info):
        s = cfg.stylegan
        mbstd = cfg.d.minibatch_std_group if cfg.d.minibatch_std else 0
        g = StyleGenerator(cfg.latent.dim, info.shape[0], info.shape[1], s.w_dim, s.mapping_layers, s.width,
                           s.max_width, use_noise=s.noise, const_input=s.const_input)
        d = ProgressiveDiscriminator(info.shape[0], self.levels, s.width, s.max_width, mbstd_group=mbstd)
        return nn.ModuleDict({"g": g, "d": d})

    def optimizer_params(self):
        return {name: list(net.parameters()) for name, net in self.nets.items()}

    @property
    def r1_gamma(self) -> float:
        s = self.cfg.stylegan
        return s.r1_gamma if s.r1_gamma is not None else r1_heuristic(self.info.shape[-1], self.cfg.train.batch_size)

    def phases(self):
        s = self.cfg.stylegan
        phases = [Phase("d", "d", self.cfg.train.n_critic, critics=("d",))]
        if self.r1_gamma > 0:
            # critics: the objective's after-step hook (WGAN's clipping) also follows the R1 update of D
            phases.append(Phase("d_r1", "d", every=s.r1_every, gain=float(s.r1_every), lazy=s.r1_every > 1,
                                frozen=("g",), critics=("d",)))
        g_needs_real = bool(self.objective is not None and self.objective.g_needs_real)
        phases.append(Phase("g", "g", 1, needs_data=g_needs_real, frozen=("d",)))
        return phases

    # -- the code: z and one noise image per layer --------------------------------------------------
    @property
    def noise_sizes(self) -> list[int]:
        return self.nets["g"].synthesis.noise_sizes

    def sampling(self) -> Sampling:
        d = self.cfg.latent.dim
        parts, start = [LatentPart("z", 0, d, "noise")], d
        for i, size in enumerate(self.noise_sizes):
            parts.append(LatentPart(f"noise{i}", start, start + size * size, "noise"))
            start += size * size
        return Sampling(parts=tuple(parts), options=self.generation_options)

    def latent(self, n: int, generator: Optional[torch.Generator] = None, device=None) -> torch.Tensor:
        """[z, noise images of every layer, flattened], all N(0, 1)."""
        device = device or next(self.parameters()).device
        width = self.cfg.latent.dim + sum(s * s for s in self.noise_sizes)
        return torch.randn(n, width, generator=generator).to(device)

    def split(self, code: torch.Tensor) -> tuple[torch.Tensor, list]:
        """(z, [noise image of layer i, (N, 1, s_i, s_i)])."""
        parts = self.sampling().parts
        noises = [code[:, p.columns].reshape(len(code), 1, s, s) for p, s in zip(parts[1:], self.noise_sizes)]
        return code[:, parts[0].columns], noises

    # -- sampling ---------------------------------------------------------------------------------
    def default_cutoff(self) -> int:
        """The coarse half of the layers (4 x 4 and 8 x 8 at 32 px)."""
        return self.nets["g"].num_layers // 2

    def generate(self, code: torch.Tensor, nets: Optional[nn.ModuleDict] = None, truncation: float = 1.0,
                 cutoff: Optional[int] = None, noise: str = "random") -> torch.Tensor:
        """G(code) with optional truncation (psi ``truncation`` on the layers before ``cutoff``) and ``noise``
        "random" (the code's noise images) or "const" (the fixed ones); clipped to [-1, 1]."""
        g = (nets or self.nets)["g"]
        cutoff = self.default_cutoff() if cutoff is None else cutoff
        if not isinstance(truncation, (int, float)) or not 0.0 <= truncation <= 1.0:
            raise ConfigError(f"truncation must be in [0, 1] (1: off, 0.7 is usual), got {truncation}")
        if not isinstance(cutoff, (int, float)) or cutoff != int(cutoff) or not 0 <= cutoff <= g.num_layers:
            raise ConfigError(f"cutoff must be in 0..{g.num_layers} (the layers that are truncated), got {cutoff}")
        cutoff = int(cutoff)
        if noise not in ("random", "const"):
            raise ConfigError(f"noise must be random or const, got {noise!r}")
        z, noises = self.split(code)
        ws = truncate(g.broadcast(g.mapping(z)), g.w_avg, float(truncation), cutoff)
        return g.synthesis(ws, noises if noise == "random" else None).clamp(-1, 1)

    latent_spaces = ("z", "w")

    def path_point(self, code_a, code_b, t, space="z", nets=None):
        """As the paper measures it (sec. 4.2): in Z, slerp of z; in W, lerp of w = f(z). The noise images are
        ``code_a``'s at both ends of each step, and the output is not clipped (its small changes are measured)."""
        from .paths import lerp_rows, slerp_rows

        if space not in self.latent_spaces:
            return super().path_point(code_a, code_b, t, space, nets)
        g = (nets or self.nets)["g"]
        (za, noises), zb = self.split(code_a), self.split(code_b)[0]
        w = g.mapping(slerp_rows(za, zb, t)) if space == "z" else lerp_rows(g.mapping(za), g.mapping(zb), t)
        return g.synthesis(g.broadcast(w), noises)

    def latent_point(self, code, space="z", nets=None):
        """z in Z; w = f(z) in W."""
        if space != "w":
            return super().latent_point(code, space, nets)
        return (nets or self.nets)["g"].mapping(self.split(code)[0])

    mixes_styles = True

    def style_groups(self) -> dict:
        """Layers by the resolution they work at: "coarse" (up to 8 x 8), "middle", "fine" (the final size), as the
        paper's figure 3 groups 4-8, 16-32 and 64-1024 px (the coarse group shrinks so that each group has layers)."""
        sizes = sorted(set(self.noise_sizes))
        fine = sizes[-1:]
        coarse = [s for s in sizes[:-1] if s <= 8][: max(1, len(sizes) - 2)]
        middle = [s for s in sizes[:-1] if s not in coarse]
        layers = lambda group: [i for i, s in enumerate(self.noise_sizes) if s in group]  # noqa: E731
        return {name: layers(group) for name, group in (("coarse", coarse), ("middle", middle), ("fine", fine))
                if group}

    def mix_styles(self, code_a, code_b, layers, nets=None):
        g = (nets or self.nets)["g"]
        za, zb = self.split(code_a)[0], self.split(code_b)[0]
        ws = g.broadcast(g.mapping(za)).clone()
        ws[:, list(layers)] = g.broadcast(g.mapping(zb))[:, list(layers)]
        return g.synthesis(ws, None).clamp(-1, 1)

    # -- projection: w and the noise maps (StyleGAN2's projector, Karras et al. 2020, appendix D) --------
    def inversion_start(self, n, nets, generator):
        """w at the mean of 1,000 mapped z, and fresh N(0, 1) noise maps; the spread is that of w."""
        g = nets["g"]
        device = next(self.parameters()).device
        with torch.no_grad():
            w = g.mapping(torch.randn(1000, self.cfg.latent.dim, generator=generator).to(device))
        mean = w.mean(0, keepdim=True)
        variables = {"w": mean.repeat(n, 1)}
        if self.cfg.stylegan.noise:
            for i, size in enumerate(self.noise_sizes):
                variables[f"noise{i}"] = torch.randn(n, 1, size, size, generator=generator).to(device)
        return variables, float((w - mean).pow(2).sum(1).mean().sqrt())

    def _noise_maps(self, variables):
        return [variables[f"noise{i}"] for i in range(len(self.noise_sizes))] if self.cfg.stylegan.noise else None

    def inversion_render(self, variables, nets):
        g = nets["g"]
        return g.synthesis(g.broadcast(variables["w"]), self._noise_maps(variables))

    def inversion_regulariser(self, variables):
        """StyleGAN2's noise regularisation: the squared autocorrelation of each noise map at one pixel's shift, in
        both directions, summed over the map and its 2 x 2 downsamplings down to 8 x 8 (keeps the optimised noise
        from absorbing the image), times 1e5."""
        maps = self._noise_maps(variables)
        if not maps:
            return None
        total = 0.0
        for v in maps:
            while True:
                total = total + (v * v.roll(1, 3)).mean((1, 2, 3)).pow(2) + (v * v.roll(1, 2)).mean((1, 2, 3)).pow(2)
                if v.shape[-1] <= 8:
                    break
                v = F.avg_pool2d(v, 2)
        return 1e5 * total

    def inversion_normalise(self, variables):
        with torch.no_grad():
            for v in self._noise_maps(variables) or ():
                v.sub_(v.mean((1, 2, 3), keepdim=True)).div_(v.std((1, 2, 3), keepdim=True).clamp_min(1e-8))

    # -- training ---------------------------------------------------------------------------------
    def synthesize(self, n: int, device) -> torch.Tensor:
        """Training fakes: fresh codes, style mixing with probability ``stylegan.mixing``, w-bar tracked."""
        g = self.nets["g"]
        z, noises = self.split(self.latent(n, device=device))
        w = g.mapping(z)
        layers = g.num_layers
        if self.cfg.stylegan.mixing > 0 and float(torch.rand(())) < self.cfg.stylegan.mixing:
            w2 = g.mapping(torch.randn(n, self.cfg.latent.dim, device=device))
            ws = mix(w, w2, int(torch.randint(1, layers, ())), layers)
        else:
            ws = g.broadcast(w)
        if self.training:
            with torch.no_grad():
                g.w_avg.lerp_(w.detach().mean(0).to(g.w_avg.dtype), 1 - self.cfg.stylegan.w_avg_beta)
        return g.synthesis(ws, noises)  # layers built without noise inputs ignore the images

    def r1(self, real: torch.Tensor) -> torch.Tensor:
        """gamma / 2 E ||grad_x D(x)||^2 on the reals (Mescheder et al. 2018, eq. 9): the registry's R1 penalty."""
        return R1Penalty(self.r1_gamma)(self.nets["d"], real, None)

    def loss(self, phase, batch):
        obj = self.require_objective()
        d = self.nets["d"]
        if phase == "d_r1":
            penalty = self.r1(batch[0])
            return penalty, {"d_r1": penalty.detach()}
        if phase == "d":
            real = batch[0]
            with torch.no_grad():
                fake = self.synthesize(len(real), real.device)
            loss, logs, _ = self.d_step(real, fake, d)
            return loss, logs
        fake = self.synthesize(self.batch_size, next(self.parameters()).device)
        fake_out = d(self.d_input(fake))
        real_out = None
        if obj.g_needs_real:
            with torch.no_grad():
                real_out = d(self.d_input(batch[0]))
        loss = obj.g_loss(fake_out, real_out)
        return loss, {"g_loss": loss.detach(), "d_fake_g": obj.report(fake_out),
                      "w_avg_norm": self.nets["g"].w_avg.norm().detach()}
