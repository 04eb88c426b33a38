"""A finished or running run directory, loaded for sampling: no trainer, no dataset, no GPU needed."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from .config import Config, config_from_dict, read_yaml
from .errors import CheckpointError, ConfigError, GankitError, RunDirError
from .memory import check_sampling_fits
from .registry import closest
from .recipes import build_recipe
from .train import checkpoint as ckpt
from .train.logger import read_metrics


class Run:
    """``Run(path)`` reads ``config.yaml``; networks are built on first use from ``checkpoints/last``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "config.yaml").exists():
            raise RunDirError(f"{self.path} is not a gankit run directory (no config.yaml)")
        self.config: Config = config_from_dict(read_yaml(self.path / "config.yaml"))
        self._cache: dict = {}

    def __repr__(self):
        return f"Run({str(self.path)!r}, step={self.step})"

    @property
    def step(self) -> int:
        return self._load("cpu")[2]

    def metrics(self) -> list[dict]:
        return read_metrics(self.path / "metrics.jsonl")

    def _load(self, device):
        key = str(device)
        if key not in self._cache:
            d = self.path / "checkpoints"
            nets, ema, step, info = ckpt.read_weights(d)
            bad = ckpt.first_nonfinite(list(nets.items()) + list(ema.items()))
            if bad:
                raise CheckpointError(f"{d / ckpt.WEIGHTS} holds non-finite weights ({bad}); it cannot be sampled. "
                                      "Train the run again (a lower lr or train.grad_clip)")
            recipe = build_recipe(self.config, info)
            ema_nets = None
            try:
                recipe.nets.load_state_dict(recipe.upgrade_weights(dict(nets)))
                if ema:
                    ema_nets = nn.ModuleDict({g: copy.deepcopy(recipe.nets[g]) for g in recipe.generators})
                    ema_nets.load_state_dict(ema)
                    ema_nets.to(device).eval()
            except RuntimeError as e:
                raise CheckpointError(f"{d / ckpt.WEIGHTS} does not match the networks of {self.path / 'config.yaml'} "
                                      f"({str(e).strip().splitlines()[-1].strip()[:160]}); the two files come from "
                                      "different runs, or one of them was edited") from None
            recipe.set_step(step)  # anything that depends on the step (a schedule, a level of detail) is right
            self._cache[key] = (recipe.to(device).eval(), ema_nets, step, info)
        return self._cache[key]

    def recipe(self, device="cpu"):
        return self._load(device)[0]

    @property
    def info(self):
        return self._load("cpu")[3]

    def networks(self, ema: bool = True, device="cpu") -> nn.ModuleDict:
        """The generators to sample with: the EMA copy when the run kept one and ``ema`` is True."""
        recipe, ema_nets, _, _ = self._load(device)
        if ema and ema_nets is not None:
            merged = nn.ModuleDict(dict(recipe.nets.items()))
            for k, v in ema_nets.items():
                merged[k] = v
            return merged
        return recipe.nets

    @property
    def sampling(self):
        """What this run's samples come from and what can condition them (the recipe's declaration)."""
        return self.recipe().sampling()

    @property
    def num_classes(self) -> Optional[int]:
        """Values ``--class`` takes (a class, or an unnamed categorical code), as the recipe declares; else None."""
        return self.sampling.classes

    def require_latent(self, command: str) -> None:
        """Refuse, in one line, a command that draws from latents on a run that translates images."""
        if self.sampling.source != "latent":
            raise ConfigError(f"{command} draws from latents, but run {self.path} (recipe '{self.config.recipe}') "
                              f"makes its images from input images and has no latent; use `gankit translate` "
                              f"{self.path} --input IMAGES --out DIR")

    def latent(self, n: int, seed: int = 0, device="cpu", labels=None, texts=None) -> torch.Tensor:
        """G's input for ``n`` samples drawn with ``seed``; ``labels`` (N,) picks the classes of a
        conditional run (or InfoGAN's c1), ``texts`` (one caption, or one per sample) the captions of a text run."""
        from .config import MAX_SEED

        if not 0 <= seed <= MAX_SEED:
            raise ConfigError(f"--seed must be between 0 and {MAX_SEED}, got {seed}")
        self.require_latent("sampling")
        gen = torch.Generator().manual_seed(seed)
        if texts is not None:
            if self.sampling.condition != "text":
                from .recipes import serving

                raise ConfigError(f"run {self.path} (recipe '{self.config.recipe}') takes no captions; --text needs "
                                  f"{serving('latent', ('text',))}")
            if labels is not None:
                raise ConfigError("give captions (--text) or classes (--class), not both")
            return self.recipe(device).latent(n, gen, device, texts=texts)
        if labels is None:
            return self.recipe(device).latent(n, gen, device)
        k = self.num_classes
        if k is None and self.sampling.condition == "text":
            raise ConfigError(f"run {self.path} draws samples of captions, not classes; use --text CAPTION")
        if k is None:
            from .recipes import serving

            raise ConfigError(f"run {self.path} is unconditional (recipe '{self.config.recipe}'); classes need "
                              f"{serving('latent', ('class', 'codes'))}")
        labels = torch.as_tensor(labels).long().flatten()
        bad = labels[(labels < 0) | (labels >= k)]
        if len(bad):
            raise ConfigError(f"class {int(bad[0])} is out of range; this run has classes 0..{k - 1}")
        if len(labels) == 1:
            labels = labels.expand(n)
        return self.recipe(device).latent(n, gen, device, labels=labels)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, ema: bool = True, device="cpu", dropout: Optional[bool] = None,
                 options: Optional[dict] = None) -> torch.Tensor:
        """G(z). ``dropout`` keeps G's dropout on (default: the run's ``tricks.g_dropout_at_sample``);
        ``options`` are the generation options the recipe declares (``Sampling.options``)."""
        recipe, nets = self.recipe(device), self._sampling_nets(ema, device, dropout)
        options = self.check_options(options)
        return self._finite(recipe.generate(z.to(device), nets, **options).float().cpu())

    def check_options(self, options: Optional[dict]) -> dict:
        """Refuse, in one line, a generation option the run's recipe does not declare."""
        options = dict(options or {})
        declared = self.sampling.options
        for name in options:
            if name not in declared:
                takes = f"it takes: {', '.join(declared)}" if declared else "it takes none"
                raise ConfigError(f"run {self.path} (recipe '{self.config.recipe}') has no generation option "
                                  f"{name!r}{closest(name, declared)}; {takes}")
        return options

    def _finite(self, x: torch.Tensor) -> torch.Tensor:
        """G's outputs, refused when any is NaN or infinite (finite weights can still overflow)."""
        if not bool(torch.isfinite(x).all()):
            raise GankitError(f"the generator of {self.path} produced NaN or infinite outputs; the run cannot be "
                              "sampled. Train it again (a lower lr or train.grad_clip)")
        return x

    def _sampling_nets(self, ema: bool, device, dropout: Optional[bool]) -> nn.ModuleDict:
        """The networks to sample with, G's dropout on or off (default: the run's ``tricks.g_dropout_at_sample``)."""
        nets = self.networks(ema, device)
        keep = self.config.tricks.g_dropout_at_sample if dropout is None else dropout
        for g in self.recipe(device).generators:
            for m in nets[g].modules():
                if isinstance(m, nn.Dropout):
                    m.train(keep)
        return nets

    @property
    def translates(self) -> bool:
        return self.sampling.source == "image"

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: Optional[str] = None, to: Optional[dict] = None,
                  ema: bool = True, device="cpu", dropout: Optional[bool] = None,
                  target: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Translate images x (N, C, H, W) in [-1, 1] with a pix2pix, CycleGAN or StarGAN run.

        ``direction`` (AtoB / BtoA) picks the mapping of a CycleGAN run (pix2pix runs have the one they were
        trained for). ``to`` ({attribute: value}) sets target attributes of a StarGAN run; the attributes it
        leaves out keep the values D's domain classifier reads from each input; ``target`` ((N, n_attributes)
        value indices) gives every image its own target domain instead."""
        recipe = self.recipe(device)
        declared = recipe.sampling()
        if declared.source != "image":
            from .recipes import serving

            raise ConfigError(f"run {self.path} (recipe '{self.config.recipe}') does not translate images; "
                              f"translate needs {serving('image')}")
        recipe.check_direction(direction)
        nets = self._sampling_nets(ema, device, dropout)
        x = x.to(device)
        if declared.directions:
            if to or target is not None:
                raise ConfigError(f"this {self.config.recipe} run takes no target attributes (--to); it translates "
                                  f"{' and '.join(declared.directions)}: use --direction")
            direction = direction or declared.directions[0]
            return self._finite(recipe.translate(x, nets, direction=direction).float().cpu())
        if target is not None:
            return self._finite(recipe.translate(x, nets, target=target.to(device)).float().cpu())
        target = recipe.predict(x)
        for name, value in (to or {}).items():
            target[:, self.attribute_index(name)] = self.value_index(name, value)
        return self._finite(recipe.translate(x, nets, target=target).float().cpu())

    def attribute_index(self, name: str) -> int:
        names = [a for a, _ in self.info.attributes or ()]
        if name not in names:
            from .data.translation import attribute_names

            raise ConfigError(f"attribute {name!r} does not exist{closest(name, names)}; this run has "
                              f"{attribute_names(self.info.attributes) or 'no attributes'}")
        return names.index(name)

    def value_index(self, name: str, value: str) -> int:
        values = list(self.info.attributes[self.attribute_index(name)][1])
        if value not in values:
            raise ConfigError(f"{name}={value!r} is not a value of {name}{closest(value, values)}; choose one of: "
                              f"{', '.join(values)}")
        return values.index(value)

    def sample(self, n: int = 64, seed: int = 0, ema: bool = True, device="cpu", labels=None,
               options: Optional[dict] = None, texts=None) -> torch.Tensor:
        """``n`` samples from fresh latents drawn with ``seed``; ``labels``: a class, or one per sample; ``texts``: a
        caption, or one per sample (text runs); ``options``: generation options the recipe declares (a truncation)."""
        if n < 1:
            raise ConfigError(f"--n must be at least 1, got {n}")
        self.check_options(options)
        check_sampling_fits(n, self.recipe(device), f"drawing {n:,} samples at once", "lower --n")
        return self.generate(self.latent(n, seed, device, labels, texts), ema, device, options=options)


    @torch.no_grad()
    def stages(self, n: int = 8, seed: int = 0, ema: bool = True, device="cpu", labels=None) -> list:
        """[(label, images)]: the images ``n`` samples pass through, coarse to fine (a recipe that declares
        ``staged``, e.g. LAPGAN's I_0, then l_k, h~_k and I_k per level); the last is the sample."""
        recipe = self.recipe(device)
        if not recipe.staged:
            from .registry import RECIPES

            staged = " or ".join(name for name, cls in RECIPES.items() if cls.staged)
            raise ConfigError(f"run {self.path} (recipe '{self.config.recipe}') draws its samples in one stage; "
                              f"--stages needs a {staged} run")
        if n < 1:
            raise ConfigError(f"--n must be at least 1, got {n}")
        check_sampling_fits(n, recipe, f"drawing {n:,} samples at once", "lower --n")
        code = self.latent(n, seed, device, labels)
        nets = self._sampling_nets(ema, device, None)
        return [(label, self._finite(x.float().cpu())) for label, x in recipe.stages(code, nets)]


def load_run(path: str | Path) -> Run:
    return Run(path)
