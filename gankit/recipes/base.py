"""The recipe interface: what one training step of a GAN family is.

A recipe owns the networks of its family (any number of generators, discriminators and extra
networks such as InfoGAN's Q head), groups their parameters into named optimisers (``optim.<name>``
in the config), and says, for one batch, which loss each optimiser minimises. It knows nothing
of loops, devices, logging or files; :class:`gankit.train.Trainer` runs it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from ..data.augment import augment, parse_policy
from ..data.info import DataInfo  # noqa: F401  (the data description lives with the data; re-exported here)
from ..errors import ConfigError


def packed_shape(shape: tuple, m: int) -> tuple:
    """D's input shape under PacGAN packing of degree m: m samples stacked along the first axis."""
    return (shape[0] * m,) + tuple(shape[1:])


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN (Lin et al. 2018, sec. 3): D judges m samples at once, concatenated along channels
    (images) or features (vectors): (N, C, ...) -> (N / m, m C, ...). All m are real or all are fake,
    so D can penalise a generator whose samples lack variety."""
    if m == 1:
        return x
    if len(x) % m:
        raise ConfigError(f"d.pack = {m} needs a batch divisible by {m}, got {len(x)}; change train.batch_size")
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])


def source_output(out):
    """D's real/fake output from what a judge returned: a plain tuple is (output, extras...); anything else
    (a tensor, or a critic's own structured output such as the autoencoder's) is the output itself."""
    return out[0] if type(out) is tuple else out


def one_hot_labels(n: int, classes: int, labels=None, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(n, classes) one-hot labels: uniform over the classes (from ``generator``) unless ``labels`` (n,) are given;
    a label out of range is refused in one line."""
    if labels is None:
        labels = torch.randint(classes, (n,), generator=generator)
    labels = torch.as_tensor(labels).long().cpu()
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} samples")
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        raise ConfigError(f"class {int(labels[bad][0])} is out of range; this run has classes 0..{classes - 1}")
    return torch.nn.functional.one_hot(labels, classes).float()


@dataclass(frozen=True)
class LatentPart:
    """A named block of columns of G's input: ``kind`` is "noise" (z), "one-hot" (a class or a
    categorical code), "continuous" (a code in [-1, 1]) or "text" (a caption's sentence embedding)."""

    name: str
    start: int
    stop: int
    kind: str

    @property
    def columns(self) -> slice:
        return slice(self.start, self.stop)


@dataclass(frozen=True)
class Sampling:
    """What a recipe's samples come from and what can condition them: every command that draws from a
    run (``Run``, ``gankit sample / traverse / arithmetic / interpolate / eval / translate``, periodic
    evaluation) reads this declaration instead of asking which family the run is.

    - ``source``: "latent" (G(z)) or "image" (G translates an input image; no latent).
    - ``condition``: None, "class" (a label with the dataset's class names), "codes" (InfoGAN's codes),
      "attributes" (StarGAN's target domains) or "text".
    - ``classes``: how many values ``--class`` takes (a class, or an unnamed categorical code), else None.
    - ``named_classes``: True when a class value is the dataset's class of that index (so a classifier can
      check it); False for an unnamed categorical code (matched to classes by the Hungarian algorithm).
    - ``parts``: the named blocks of the latent, in order (``z`` first).
    - ``directions``: the mappings ``translate --direction`` accepts (pix2pix, CycleGAN).
    - ``options``: extra generation options by name, keywords of ``recipe.generate`` (``gankit sample --opt
      NAME=VALUE``; none yet, StyleGAN's truncation will be one).
    """

    source: str = "latent"
    condition: Optional[str] = None
    classes: Optional[int] = None
    named_classes: bool = True
    parts: tuple = ()
    directions: tuple = ()
    options: tuple = ()

    def part(self, name: str) -> LatentPart:
        from ..registry import closest

        names = [p.name for p in self.parts]
        if name not in names:
            raise ConfigError(f"unknown latent part '{name}'{closest(name, names)}; this run has: {', '.join(names)}")
        return self.parts[names.index(name)]

    @property
    def codes(self) -> tuple:
        """The names of the interpretable codes (every part that is neither noise, the named class y nor a caption's
        embedding)."""
        return tuple(p.name for p in self.parts if p.kind not in ("noise", "text") and p.name != "y")

    @property
    def class_part(self) -> Optional[LatentPart]:
        """The one-hot block that ``--class`` sets (the label y, or InfoGAN's c1), if any."""
        if self.classes is None:
            return None
        return next(p for p in self.parts if p.kind == "one-hot")


@dataclass(frozen=True)
class Phase:
    """One update in a training step: minimise ``recipe.loss(name, ...)`` with optimiser ``optimizer``,
    ``repeat`` times in a row, each time on a fresh real batch when ``needs_data``. The parameters of the
    optimisers named in ``frozen`` take no gradient during the phase (e.g. D's in G's step)."""

    name: str
    optimizer: str
    repeat: int = 1
    needs_data: bool = True
    frozen: tuple = ()
    #: the networks that play the objective's critic in this phase: after each of its updates the trainer
    #: calls the objective's after-step hook on them (WGAN's weight clipping, BEGAN's k_t, MAGAN's margin)
    critics: tuple = ()
    #: the phase runs on the steps divisible by ``every`` only (a cadence), with its loss multiplied by ``gain``
    every: int = 1
    gain: float = 1.0
    #: lazy regularisation (Karras et al. 2020, StyleGAN2, sec. 3.1 and appendix B): a phase with ``every`` = c
    #: that shares its optimiser with an every-step phase; the trainer then builds that optimiser with
    #: lr * c / (c + 1) and betas ** (c / (c + 1)), so that the two together take the steps of the eager ones
    lazy: bool = False


@dataclass(frozen=True)
class StepPlan:
    """What a recipe changes at one step (:meth:`Recipe.plan`); the trainer applies it before the phases.

    - ``lr_scale``: {optimiser: multiplier of its scheduled lr} (e.g. a warm-up after a resolution change);
    - ``reset``: optimisers whose state (Adam's moments) is cleared at the start of this step (ProGAN resets
      Adam whenever the level of detail crosses an integer);
    - ``batch_size`` and ``resolution``: what the data stream delivers at this step (None: as configured).
    Everything is a function of the step, so a resumed run applies exactly the same plan."""

    lr_scale: dict = field(default_factory=dict)
    reset: tuple = ()
    batch_size: Optional[int] = None
    resolution: Optional[int] = None


class Recipe(nn.Module):
    """Base of all recipes. ``nets`` holds every network; ``generators`` names those that get an EMA
    copy and make samples."""

    generators: tuple = ("g",)
    #: the data layout this family trains on: None (plain examples) or a translation layout
    #: ("paired", "unpaired", "domains"; see gankit.data.translation)
    pairings: tuple = (None,)
    #: True when G maps images to images (its samples come from inputs, not from latents)
    translates = False
    #: the critic kinds (see Objective.critic) this family's losses can use; others are refused. Empty for a
    #: family with no critic at all (the VAE), which refuses objective settings itself
    critics: tuple = ("scalar",)
    #: True when D's loss weighs several kinds of negatives (:meth:`d_step`'s ``extra_fakes``), which needs an objective
    #: that splits into a real and a fake term (:attr:`Objective.separable`); others are refused by ``build_recipe``
    separable_only = False
    #: where samples come from ("latent" or "image") and what conditions them (see :class:`Sampling`); class
    #: attributes so that a command can name the recipes that would serve it without building one
    source = "latent"
    condition: Optional[str] = None
    #: the settings only this family reads (checked by :mod:`gankit.recipes.options`; listed by `gankit list NAME`)
    options: tuple = ()
    #: keyword options of :meth:`generate` at sampling time (``Sampling.options``)
    generation_options: tuple = ()
    #: False when what :meth:`d_input` receives is not the image D judges (LAPGAN's residuals, to which the judge
    #: adds the low-pass image): ``train.augment`` is then refused
    augments_d_input = True
    #: the processes that share each global batch (:mod:`gankit.train.distributed`); the trainer sets it
    world = 1

    def __init__(self, cfg, info: DataInfo, objective=None):
        super().__init__()
        self.cfg, self.info, self.objective = cfg, info, objective
        self.augment_policy = self._augment_policy(cfg, info)
        self.nets = self.build_nets(cfg, info)
        self.step = 0

    def set_world(self, world: int) -> None:
        """Train as one of ``world`` processes that share each global batch; refuses a batch they cannot share
        evenly (recipes with batch sizes of their own check those too)."""
        from ..train.distributed import local_batch

        local_batch(self.cfg.train.batch_size, world)
        self.world = world

    @property
    def batch_size(self) -> int:
        """This process's share of ``train.batch_size`` (all of it in a one-process run): how many samples a
        step draws from G when it reads no real batch to match."""
        return self.cfg.train.batch_size // self.world

    # -- building ---------------------------------------------------------------------------------
    def build_nets(self, cfg, info: DataInfo) -> nn.ModuleDict:
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def optimizer_params(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per optimiser name; each name needs an ``optim.<name>`` config entry."""
        raise NotImplementedError

    # -- one step ---------------------------------------------------------------------------------
    def loss(self, phase: str, batch) -> tuple[torch.Tensor, dict]:
        """The loss the phase's optimiser minimises, and a dict of detached scalars to log."""
        raise NotImplementedError

    def after_update(self, phase: str) -> None:
        """Called after each optimiser step of ``phase`` (a recipe's own bookkeeping)."""

    def critic_objectives(self, phase: Phase) -> list:
        """[(objective, [critic networks])]: whose after-step hook the trainer calls after each update of
        ``phase`` (WGAN's clipping, Fisher GAN's lambda). By default the run's one objective on every critic the
        phase names; a recipe whose critics keep separate objective state returns one pair per critic."""
        return [(self.objective, [self.nets[n] for n in phase.critics])] if phase.critics else []

    def set_step(self, step: int) -> None:
        self.step = step

    def plan(self, step: int) -> StepPlan:
        """What changes at ``step`` (see :class:`StepPlan`); nothing by default."""
        return StepPlan()

    def milestone(self, step: int) -> Optional[str]:
        """A label when the first ``step`` steps end a stage of training worth a row of the run's milestones
        figure (``samples/milestones.png``, :mod:`gankit.viz.milestones`; ProGAN: the end of each stable phase and
        fade, so the figure shows the growth); None (the default) at every other step."""
        return None

    # -- recipe state -----------------------------------------------------------------------------
    def extra_state(self) -> dict:
        """State of the recipe that is not a network (running averages, per-level counters): saved in the
        trainer state of every checkpoint and given back to :meth:`load_extra_state` on resume."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore what :meth:`extra_state` returned."""

    def upgrade_weights(self, nets: dict) -> dict:
        """The ``nets`` tensors of a checkpoint, adapted from an older layout (the default: unchanged)."""
        return nets

    # -- sampling ---------------------------------------------------------------------------------
    #: True when a sample passes through intermediate images that :meth:`stages` returns (`gankit sample --stages`)
    staged = False

    def stages(self, code: torch.Tensor, nets: Optional[nn.ModuleDict] = None) -> list:
        """[(label, images (N, C, h, w))]: the images sampling ``code`` passes through, in order, the sample last
        (for recipes with ``staged``; LAPGAN's coarse-to-fine pyramid)."""
        raise NotImplementedError(f"recipe '{self.cfg.recipe}' draws its samples in one stage")

    #: True when a sample's styles can be mixed per layer group (:meth:`style_groups`, `gankit style-mix`)
    mixes_styles = False

    def style_groups(self) -> dict:
        """{name: layer indices} of the style groups a sample can take from another code ("coarse", "middle",
        "fine" for StyleGAN); empty for recipes without per-layer styles."""
        return {}

    def mix_styles(self, code_a: torch.Tensor, code_b: torch.Tensor, layers, nets=None) -> torch.Tensor:
        """Samples of ``code_a`` whose ``layers`` take their styles from ``code_b`` (fixed noise)."""
        raise NotImplementedError(f"recipe '{self.cfg.recipe}' has no per-layer styles")

    def sampling(self) -> Sampling:
        """How this recipe samples (see :class:`Sampling`); the default is a plain latent z."""
        return Sampling(source=self.source, condition=self.condition, options=self.generation_options,
                        parts=(LatentPart("z", 0, self.cfg.latent.dim, "noise"),))

    def latent(self, n: int, generator: Optional[torch.Generator] = None, device=None) -> torch.Tensor:
        """z ~ p(z): N(0, I) (the slides' advice) or U[-1, 1]^d."""
        lat = self.cfg.latent
        device = device or next(self.parameters()).device
        if lat.dist == "gaussian":
            z = torch.randn(n, lat.dim, generator=generator)
        else:
            z = torch.rand(n, lat.dim, generator=generator) * 2 - 1
        return z.to(device)

    def generate(self, z: torch.Tensor, nets: Optional[nn.ModuleDict] = None, **cond) -> torch.Tensor:
        """G(z) with the given networks (the EMA copy when sampling)."""
        return (nets or self.nets)["g"](z)

    #: the latent spaces :meth:`path_point` walks in: "z", G's input; a recipe with a mapping network adds "w"
    latent_spaces: tuple = ("z",)

    def path_point(self, code_a: torch.Tensor, code_b: torch.Tensor, t: torch.Tensor, space: str = "z",
                   nets: Optional[nn.ModuleDict] = None) -> torch.Tensor:
        """G's image at fraction ``t`` (N, 1) of the way from ``code_a`` to ``code_b`` in ``space``, for the perceptual
        path length (Karras et al. 2019, sec. 4.2). In Z the path is spherical (slerp) over the columns of the
        code's part named "z"; every other part (a class, a categorical code, a noise image) stays ``code_a``'s."""
        from .paths import slerp_rows

        z = self._z_columns(space)
        code = code_a.clone()
        code[:, z] = slerp_rows(code_a[:, z], code_b[:, z], t)
        return self.generate(code, nets)

    def latent_point(self, code: torch.Tensor, space: str = "z", nets: Optional[nn.ModuleDict] = None) -> torch.Tensor:
        """Where ``code`` lies in ``space`` (the linear separability's input): the code's "z" part in Z."""
        return code[:, self._z_columns(space)]

    def _z_columns(self, space: str) -> slice:
        """The columns of the code's "z" part; refuses, in one line, a space this recipe does not have."""
        if space not in self.latent_spaces:
            raise ConfigError(f"recipe '{self.cfg.recipe}' has no latent space {space!r}; it has "
                              f"{', '.join(self.latent_spaces)}")
        return next(p for p in self.sampling().parts if p.name == "z").columns

    # -- projection into the latent space (GAN inversion, `gankit project`) -------------------------
    def inversion_start(self, n: int, nets: nn.ModuleDict, generator: torch.Generator) -> tuple[dict, float]:
        """The variables that `gankit project` optimises for ``n`` images, at their starting values, and the spread
        of the first one (the root mean square distance of random draws from their mean: the scale of the noise
        added to it early in the optimisation). By default the code itself, started at the mean of 1,000 codes."""
        device = next(self.parameters()).device
        draws = self.latent(1000, generator, device)
        mean = draws.mean(0, keepdim=True)
        return {"code": mean.repeat(n, 1)}, float((draws - mean).pow(2).sum(1).mean().sqrt())

    def inversion_render(self, variables: dict, nets: nn.ModuleDict) -> torch.Tensor:
        """The images the variables of :meth:`inversion_start` make."""
        return self.generate(variables["code"], nets)

    def inversion_regulariser(self, variables: dict) -> Optional[torch.Tensor]:
        """A penalty on the variables per image, (N,), or None (StyleGAN's noise maps have one)."""
        return None

    def inversion_normalise(self, variables: dict) -> None:
        """Projection after each optimiser step (StyleGAN re-normalises its noise maps); nothing by default."""

    # -- the training preview ---------------------------------------------------------------------
    #: 2-D toys are previewed as a scatter of this many samples
    POINTS_IN_PREVIEW = 2500

    def preview_inputs(self, dataset, n: int, generator: torch.Generator, device) -> tuple:
        """The fixed inputs of every preview in a run: latents drawn once from their own generator."""
        count = self.POINTS_IN_PREVIEW if self.info.kind == "points" else n
        return (self.latent(count, generator, device),)

    def draw(self, fixed: tuple, nets: nn.ModuleDict) -> tuple[torch.Tensor, Optional[int]]:
        """What the preview shows for ``fixed``: (samples, images per row or None)."""
        return self.generate(fixed[0], nets), None

    def score_points(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        """D's output for single 2-D points (the surface behind the toy scatter), or None."""
        return None

    def save_preview(self, fixed: tuple, nets: nn.ModuleDict, path, dataset, step: int, plot: bool = True) -> dict:
        """Draw the preview into ``path`` and return what the trainer logs: {"image": the grid (HWC) or None,
        "scalars": {name: value}}. 2-D toys: the samples (as safetensors, for later figures), a scatter with D's
        surface behind it, and the dataset's mode statistics; images: a grid."""
        from ..io import save_tensors
        from ..viz.grid import make_grid, save_grid
        from ..viz.plots import plot_toy

        x, nrow = self.draw(fixed, nets)
        x = x.float()
        if self.info.kind != "points":
            save_grid(x, path, nrow)
            return {"image": make_grid(x, nrow), "scalars": {}}
        save_tensors(path.with_suffix(".safetensors"), {"x": x.cpu()})
        if plot:
            d_fn = None
            if self.objective is not None and self.objective.critic == "scalar" and \
                    self.score_points(x[:1]) is not None:
                def d_fn(p):
                    return self.score_points(p.to(x.device)).float().cpu()
            plot_toy(x.cpu(), dataset, path, d_fn=d_fn, title=f"step {step}",
                     probabilistic=self.objective is not None and self.objective.probabilistic)
        stats = getattr(dataset, "mode_stats", None)
        scalars = {f"toy/{k}": float(v) for k, v in stats(x.cpu()).items()} if stats is not None else {}
        return {"image": None, "scalars": scalars}

    # -- the one D step ---------------------------------------------------------------------------
    def d_step(self, real: torch.Tensor, fake: torch.Tensor, judge, suffix: str = "", fake_weight: float = 1.0,
               extra_fakes: tuple = (), objective=None) -> tuple:
        """The discriminator's part of every recipe's D loss, written once: instance noise on each side (once),
        the objective's loss on D's source outputs, its logs, and the objective's penalty on exactly the inputs
        the loss saw. ``judge(x)`` is D's output on x: a tensor, or a tuple whose first element is the source
        output (the rest, e.g. AC-GAN's class logits or D's features, is handed back to the recipe). ``fake``
        must already be detached from G. Returns (loss, logs, (judge(real input), judge(fake input)));
        ``suffix`` names the logs of one critic among several (CycleGAN's "_a", "_b").

        More kinds of negatives (a real image with the wrong caption, say) come as ``extra_fakes``:
        ``(x, weight)`` or ``(x, weight, judge)`` each, and the fake term is then
        ``fake_weight * fake_term(D(fake)) + sum weight * fake_term(D(x))``; that needs a separable objective
        (:attr:`Objective.separable`), others are refused in one line. ``objective`` replaces the run's objective
        for a critic that keeps its own state (LAPGAN's levels; see :meth:`critic_objectives`)."""
        obj = objective if objective is not None else self.require_objective()
        real_in, fake_in = self.d_input(real), self.d_input(fake)
        real_all, fake_all = judge(real_in), judge(fake_in)
        real_out, fake_out = source_output(real_all), source_output(fake_all)
        if extra_fakes or fake_weight != 1.0:
            fakes = [(fake_out, fake_weight)]
            for extra in extra_fakes:
                x, weight, extra_judge = (*extra, judge) if len(extra) == 2 else extra
                fakes.append((source_output(extra_judge(self.d_input(x))), weight))
            loss = obj.weighted_d_loss(real_out, fakes)
        else:
            loss = obj.d_loss(real_out, fake_out)
        logs = {f"d_loss{suffix}": loss.detach(), f"d_real{suffix}": obj.report(real_out),
                f"d_fake{suffix}": obj.report(fake_out)}
        logs.update({f"d/{k}{suffix}": v for k, v in obj.logs.items()})
        reg = obj.regularizer(lambda x: source_output(judge(x)), real_in, fake_in)
        if reg is not None:
            logs[f"d_penalty{suffix}"] = reg.detach()
            loss = loss + reg
        return loss, logs, (real_all, fake_all)

    # -- helpers for subclasses -------------------------------------------------------------------
    def instance_noise_std(self) -> float:
        """Instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017): std annealed linearly to 0."""
        t = self.cfg.tricks
        if t.instance_noise <= 0:
            return 0.0
        horizon = t.instance_noise_steps or self.cfg.train.steps
        return t.instance_noise * max(0.0, 1.0 - self.step / horizon)

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees: x under the run's differentiable augmentation (``train.augment``, DiffAugment; real and fake
        alike, in D's and in G's step), plus instance noise (the slides' "add Gaussian noise to the inputs of D")."""
        if self.augment_policy and self.training:
            x = augment(x, self.augment_policy, self.info.shape[0])
        std = self.instance_noise_std()
        return x + std * torch.randn_like(x) if std > 0 else x

    def _augment_policy(self, cfg, info: DataInfo) -> tuple:
        policy = parse_policy(cfg.train.augment)
        if policy and info.kind == "points":
            raise ConfigError("train.augment transforms images, but this dataset is 2-D points; leave train.augment empty")
        if policy and not self.augments_d_input:
            raise ConfigError(f"recipe '{cfg.recipe}' judges parts of images (not whole ones), which an augmentation "
                              "would change unevenly; leave train.augment empty")
        return policy

    def require_objective(self):
        if self.objective is None:
            raise RuntimeError("this recipe was built for sampling only; pass an objective to train it")
        return self.objective

    def check_penalty_compatible(self, *d_cfgs) -> None:
        """Per-example gradient penalties are meaningless when batch norm mixes the examples in D."""
        pen = self.cfg.objective.penalty if self.cfg.objective.penalty is not None else \
            getattr(self.objective, "default_penalty", None)
        if pen in ("gp", "dragan") and any((c.norm or ("batch" if c.batch_norm else "none")) == "batch" for c in d_cfgs):
            key = "d.norm=instance" if any(c.norm for c in d_cfgs) else "d.batch_norm=false"
            raise ConfigError(f"the '{pen}' penalty is per example, but batch norm in D mixes examples: set {key}")
