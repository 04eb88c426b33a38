"""Typed configuration: dataclasses, YAML presets and ``key=value`` overrides.

A config is built in three layers: the dataclass defaults, then a preset (a YAML file in
``gankit/configs/`` chosen by name, or any YAML path), then ``key=value`` overrides such as
``train.steps=500`` or ``optim.d.type=sgd``. Every value is type-checked against the field's
annotation; an unknown key or a bad value raises :class:`~gankit.errors.ConfigError` with one
line naming the key and, for a typo, the closest valid key. The fully resolved config is saved
in the run directory as ``config.yaml``; loading that file back gives the same config.
"""
from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import yaml

from .errors import ConfigError
from .registry import closest

PRESET_DIR = Path(__file__).parent / "configs"
MAX_SEED = 2**63 - 1  # torch.manual_seed takes a 64-bit seed
MAX_FLOAT = 1e30  # larger settings overflow float32 arithmetic somewhere; none is meaningful


def _choice(default, choices, **meta):
    return field(default=default, metadata={"choices": tuple(choices), **meta})


def _registry(default, registry):
    return field(default=default, metadata={"registry": registry})


def _ranged(default, lo=None, hi=None, lo_open=False, hi_open=False):
    return field(default=default, metadata={"range": (lo, hi, lo_open, hi_open)})


# for the sections that components register (register_section): a field with allowed values or a range
choice, ranged = _choice, _ranged


@dataclass
class DataConfig:
    """Which dataset, and how its examples are shaped."""

    name: str = _registry("mnist5k", "datasets")
    root: Optional[str] = None  # image folder path, or a directory overriding a dataset's default location
    split: str = _choice("train", ("train", "test", "all"))
    image_size: Optional[int] = _ranged(None, lo=4, hi=2048)  # None: the dataset's native size
    channels: Optional[int] = _choice(None, (None, 1, 3))  # image folders: None = 1 if every image is grayscale else 3
    limit: Optional[int] = _ranged(None, lo=1)  # keep only the first N examples (quick experiments)
    radius: float = _ranged(2.0, lo=0, lo_open=True)  # 2-D toys: ring radius / grid spacing scale
    std: float = _ranged(0.02, lo=0, lo_open=True)  # 2-D toys: std of each Gaussian mode


@dataclass
class LatentConfig:
    """The prior p(z). The slides' trick: sample from a Gaussian, not a uniform."""

    dim: int = _ranged(100, lo=1)
    dist: str = _choice("gaussian", ("gaussian", "uniform"))


@dataclass
class NetConfig:
    """One network. ``width`` is the base channel count (conv) or hidden units (MLP)."""

    name: str = _registry("dcgan", "networks")
    width: int = _ranged(64, lo=1)
    depth: int = _ranged(3, lo=1)  # MLP: number of hidden layers
    batch_norm: bool = True
    spectral_norm: bool = False  # Miyato et al. 2018, applied to every conv / linear layer
    dropout: float = _ranged(0.0, lo=0, hi=1, hi_open=True)
    activation: Optional[str] = _choice(None, (None, "relu", "leaky_relu", "tanh", "elu"))  # None: G relu, D leaky_relu(0.2)
    minibatch_std: bool = False  # D only: append the minibatch standard deviation feature (ProGAN)
    minibatch_std_group: int = _ranged(4, lo=2)  # samples per group for that statistic
    pack: int = _ranged(1, lo=1)  # D only: PacGAN packing degree m (D judges m samples at once)
    norm: Optional[str] = _choice(None, (None, "batch", "instance"))  # image-to-image nets: None = batch norm if batch_norm else no norm
    blocks: Optional[int] = _ranged(None, lo=1)  # U-Net levels / PatchGAN strided layers / ResNet blocks (None: scaled to the image)
    fc: int = _ranged(0, lo=0)  # dcgan: units of a fully connected hidden layer (G: after z, D: before the head), 0 = none


@dataclass
class ObjectiveConfig:
    """How D's outputs become the two losses, and what regularises D."""

    name: str = _registry("ns", "objectives")
    penalty: Optional[str] = _choice(None, (None, "none", "gp", "dragan", "r1"))  # None: the objective's own default
    penalty_weight: Optional[float] = _ranged(None, lo=0)  # None: the penalty's default (GP 10, DRAGAN 10, R1 10)
    clip: float = _ranged(0.01, lo=0, lo_open=True)  # weight clipping bound c (WGAN, McGAN, MMD GAN)
    drift: float = _ranged(0.0, lo=0)  # WGAN(-GP): weight epsilon of the drift term epsilon * E[D(x_real)^2] (ProGAN: 0.001)
    feature_dim: int = _ranged(64, lo=1)  # feature critics (McGAN, Cramér) and autoencoder codes (EBGAN, BEGAN, MAGAN, MMD GAN)
    sigmas: Optional[Tuple[float, ...]] = None  # RBF bandwidths of the MMD kernel (None: the objective's default)
    margin: float = _ranged(1.0, lo=0, lo_open=True)  # EBGAN: margin m on the fakes' energy
    pt_weight: float = _ranged(0.1, lo=0)  # EBGAN: weight of the pulling-away term
    margin_window: int = _ranged(100, lo=1)  # MAGAN: D updates per margin adaptation ("epoch")
    gamma: float = _ranged(0.5, lo=0, hi=1, lo_open=True)  # BEGAN: diversity ratio E[L(G(z))] / E[L(x)]
    k_lr: float = _ranged(1e-3, lo=0)  # BEGAN: lambda_k, the learning rate of k_t
    rho: float = _ranged(1e-6, lo=0, lo_open=True)  # Fisher GAN: augmented-Lagrangian penalty weight
    bregman: str = _choice("kl", ("kl", "squared"))  # RWGAN: Bregman generator (kl needs data in [-1, 1])
    ae_weight: float = _ranged(8.0, lo=0)  # MMD GAN: weight of the autoencoder (injectivity) term
    rg_weight: float = _ranged(16.0, lo=0)  # MMD GAN: weight of the one-sided mean penalty
    mean_cov_weight: float = _ranged(1.0, lo=0)  # McGAN: weight of the covariance IPM next to the mean IPM (0: McGAN-mu)


@dataclass
class OptimConfig:
    """One optimiser (one per network group: ``optim.g``, ``optim.d``)."""

    type: str = _choice("adam", ("adam", "adamw", "sgd", "rmsprop"))
    lr: float = _ranged(2e-4, lo=0, lo_open=True)
    betas: Tuple[float, float] = (0.5, 0.999)
    momentum: float = _ranged(0.0, lo=0, hi=1, hi_open=True)
    weight_decay: float = _ranged(0.0, lo=0)
    schedule: str = _choice("constant", ("constant", "linear", "cosine"))
    decay_start: float = _ranged(0.5, lo=0, hi=1)  # linear schedule: fraction of training before the decay starts


@dataclass
class TricksConfig:
    """Practical tricks from the slides (and Salimans et al. 2016, Sønderby et al. 2017)."""

    instance_noise: float = _ranged(0.0, lo=0)  # std of Gaussian noise added to D's inputs, annealed linearly to 0
    instance_noise_steps: Optional[int] = _ranged(None, lo=1)  # steps of the anneal (None: all of training)
    label_smoothing: float = _ranged(0.0, lo=0, hi=0.5, hi_open=True)  # one-sided: D's real target is 1 - s
    g_dropout_at_sample: bool = False  # keep G's dropout on when sampling (the slides' "dropout at test time")


@dataclass
class TrainConfig:
    """The loop. A step is one G update preceded by ``n_critic`` D updates (D first)."""

    steps: int = _ranged(3000, lo=1)
    batch_size: int = _ranged(64, lo=1)
    n_critic: int = _ranged(1, lo=1, hi=1000)
    seed: int = _ranged(0, lo=0, hi=MAX_SEED)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    ema_decay: float = _ranged(0.0, lo=0, hi=1, hi_open=True)  # 0 disables the EMA of G's weights
    ema_start: int = _ranged(0, lo=0)  # before this step the EMA copy follows G exactly (BigGAN's ema_start)
    ema_standing_stats: int = _ranged(0, lo=0)  # batches that re-estimate the EMA G's batch-norm statistics before each sample / checkpoint (0: copy G's)
    grad_clip: Optional[float] = _ranged(None, lo=0, lo_open=True)  # max global grad norm per optimiser
    skip_nonfinite: bool = False  # skip an update whose gradient norm is NaN/inf (logged as skipped/<optim>) instead of stopping
    amp: str = _choice("none", ("none", "bf16"))  # bf16 autocast for the networks; losses and optimiser state stay fp32
    augment: str = ""  # DiffAugment of all D sees, real and fake (gankit.data.augment): e.g. translation,cutout (color too)
    channels_last: bool = True  # NHWC for conv nets: measured 1.1-1.3x faster on CPU (benchmarks/train_step.py)
    log_every: int = _ranged(25, lo=1)
    sample_every: int = _ranged(500, lo=1)
    checkpoint_every: int = _ranged(1000, lo=1)
    n_samples: int = _ranged(64, lo=1)  # images in each sample grid (fixed latents)
    plot_samples: bool = True  # toys: draw samples/*.png; false keeps only samples/*.safetensors (fast sweeps)
    eval_every: Optional[int] = _ranged(None, lo=1)  # evaluate every N steps (None: never during training)
    eval_metrics: str = "fid"  # comma-separated: fid, kid, is, pr, dc (image runs; toys count modes)
    eval_n: int = _ranged(1000, lo=2)  # samples per side for periodic evaluation
    eval_backbone: str = "effnet-lite0"  # effnet-lite0 | inception | classifier:DATASET
    best_metric: Optional[str] = None  # score that picks checkpoints/best (None: the first eval metric)
    quality_n: int = _ranged(2000, lo=0)  # EMA samples scored in the quality line a finished run prints (0: none)


#: config sections added by components from their own modules: name -> (dataclass, (kind, owner name))
SECTIONS: Dict[str, tuple] = {}


def register_section(name: str, owner_kind: Optional[str] = None, owner: Optional[str] = None):
    """Class decorator: a component's own options as a config section (``name: {...}`` in YAML,
    ``name.field=value`` on the command line), so that a new family adds its settings from its own file,
    without touching this module. ``owner_kind`` / ``owner`` ("recipe", "progan") name the component that
    reads the section; changing it under another component is refused (:mod:`gankit.recipes.options`).
    Without an owner, each key belongs to the components that list it in their ``options``."""

    def register(cls):
        if name in {f.name for f in dataclasses.fields(Config)} or (name in SECTIONS and SECTIONS[name][0] is not cls):
            raise ValueError(f"config section {name!r} is taken")
        SECTIONS[name] = (cls, (owner_kind, owner))
        return cls

    return register


def _default_optims() -> Dict[str, OptimConfig]:
    return {"g": OptimConfig(), "d": OptimConfig()}


@dataclass
class Config:
    """A whole experiment. Every field can be set in a preset or overridden as ``key=value``."""

    name: str = "mnist-dcgan"
    recipe: str = _registry("unconditional", "recipes")
    data: DataConfig = field(default_factory=DataConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    g: NetConfig = field(default_factory=NetConfig)
    d: NetConfig = field(default_factory=NetConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: Dict[str, OptimConfig] = field(default_factory=_default_optims)
    tricks: TricksConfig = field(default_factory=TricksConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    #: the sections that components registered from their own modules (:func:`register_section`)
    _sections: Dict[str, Any] = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str):
        """``cfg.<section>`` for a registered section: its values, or its defaults when none were given."""
        if name.startswith("_") or name not in SECTIONS:
            raise AttributeError(name)
        return self._sections.setdefault(name, SECTIONS[name][0]())

    def to_dict(self) -> dict:
        out = _plain(dataclasses.asdict(self))
        out.pop("_sections")
        for name in SECTIONS:
            out[name] = _plain(dataclasses.asdict(getattr(self, name)))
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ----------------------------------------------------------------------------- coercion


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (from YAML, or a raw CLI string) to annotation ``tp`` or raise ConfigError."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union and type(None) in args:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "~", "")):
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _coerce(value, inner, key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping of its fields, got {value!r}")
        return _build(tp, value, key + ".")
    if origin in (dict, Dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return {str(k): _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if origin in (tuple, Tuple):
        if isinstance(value, str):
            value = [v for v in value.strip("[]() ").split(",") if v.strip()]
        if len(args) == 2 and args[1] is Ellipsis:  # Tuple[T, ...]: any number of values
            if not isinstance(value, (list, tuple)) or not value:
                raise ConfigError(f"{key} must be one or more comma-separated values, got {value!r}")
            return tuple(_coerce(v, args[0], key) for v in value)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{key} must be {len(args)} comma-separated values, got {value!r}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip().replace("_", ""))
        except ValueError:
            raise ConfigError(f"{key} must be an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return str(value)
    return value


def _build(cls, values: dict, prefix: str = ""):
    """Build dataclass ``cls`` from defaults updated by ``values`` (nested dicts)."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if cls is Config and key in SECTIONS:  # a section a component registered
            if not isinstance(value, dict):
                raise ConfigError(f"{key} must be a mapping of its fields, got {value!r}")
            kwargs.setdefault("_sections", {})[key] = _build(SECTIONS[key][0], value, f"{key}.")
            continue
        if key not in names or key.startswith("_"):
            names = [n for n in names if not n.startswith("_")] + (list(SECTIONS) if cls is Config else [])
            raise ConfigError(f"unknown config key '{prefix}{key}'{closest(key, names)}")
        if dataclasses.is_dataclass(hints[key]) and isinstance(value, dict):
            kwargs[key] = _build(hints[key], value, f"{prefix}{key}.")
        elif typing.get_origin(hints[key]) is dict and isinstance(value, dict):
            kwargs[key] = _merge_dict_field(cls, key, hints[key], value, prefix)
        else:
            kwargs[key] = _coerce(value, hints[key], prefix + key)
    return cls(**kwargs)


def _merge_dict_field(cls, key, tp, value, prefix):
    """A Dict[str, Dataclass] field: entries update the defaults; new entries start from the item defaults."""
    default = {f.name: f for f in dataclasses.fields(cls)}[key].default_factory()
    item_tp = typing.get_args(tp)[1]
    out = dict(default)
    for name, sub in value.items():
        base = dataclasses.asdict(out[name]) if name in out else {}
        if not isinstance(sub, dict):
            raise ConfigError(f"{prefix}{key}.{name} must be a mapping of its fields, got {sub!r}")
        out[name] = _build(item_tp, {**base, **sub}, f"{prefix}{key}.{name}.")
    return out


# ----------------------------------------------------------------------------- overrides


def _all_keys(cls, prefix="") -> list[str]:
    keys = []
    hints = typing.get_type_hints(cls)
    if cls is Config:
        for name, (section, _) in SECTIONS.items():
            keys += _all_keys(section, f"{name}.")
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            keys += _all_keys(tp, f"{prefix}{f.name}.")
        elif typing.get_origin(tp) is dict:
            item = typing.get_args(tp)[1]
            for name in f.default_factory():
                keys += _all_keys(item, f"{prefix}{f.name}.{name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def parse_overrides(items: list[str]) -> dict:
    """Turn ``["train.steps=10", "optim.d.type=sgd"]`` into a nested dict of raw strings."""
    nested: dict = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like key=value, e.g. train.steps=500")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"override '{item}' has an empty key part; write e.g. train.steps=500")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{item}' sets a field inside '{part}', which is a value")
        node[parts[-1]] = raw
    return nested


def _deep_update(base: dict, new: dict) -> dict:
    out = dict(base)
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_update(out[k], v)
        else:
            out[k] = v
    return out


# ----------------------------------------------------------------------------- presets


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of config keys")
    return data


def preset_values(preset: str) -> dict:
    """The raw values of a preset, by name or by path to a YAML file."""
    if not preset.strip():
        raise ConfigError("--config is empty; give a preset name (see `gankit list`) or a YAML file")
    path = Path(preset)
    if path.is_dir():
        raise ConfigError(f"--config {preset} is a folder; give a preset name or a YAML file")
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ConfigError(f"config file {preset} does not exist")
        return read_yaml(path)
    if preset not in preset_names():
        raise ConfigError(
            f"unknown preset '{preset}'{closest(preset, preset_names())}; see `gankit list` for the presets"
        )
    values = read_yaml(PRESET_DIR / f"{preset}.yaml")
    values.setdefault("name", preset)
    return values


def load_config(preset: Optional[str] = None, overrides: Optional[list[str] | dict] = None) -> Config:
    """Build and validate a config: defaults <- preset (name or YAML path) <- overrides.

    ``overrides`` is a list of ``key=value`` strings or a nested dict.
    """
    values = preset_values(preset) if preset is not None else {}
    if overrides:
        extra = parse_overrides(overrides) if isinstance(overrides, (list, tuple)) else overrides
        values = _deep_update(drop_settings_of_replaced_components(values, extra), extra)
    try:
        cfg = _build(Config, values)
    except ConfigError as e:
        msg = str(e)
        if msg.startswith("unknown config key"):
            bad = msg.split("'")[1]
            msg = f"unknown config key '{bad}'{closest(bad, _all_keys(Config))}"
        raise ConfigError(msg) from None
    validate(cfg)
    return cfg


def drop_settings_of_replaced_components(preset: dict, overrides: dict) -> dict:
    """The preset's values without the settings of components that ``overrides`` replace.

    A preset tunes its own networks, objective and recipe: ``mnist-dcgan-fc`` sets ``g.fc``, which only the DCGAN
    family reads. An override that picks another component (``g.name=mlp``, ``objective.name=wgan-gp``,
    ``recipe=vae``) replaces that choice, so the preset's settings that belonged to the old component alone go
    with it (as a config group does in Hydra); settings the user gives are kept, and checked as usual
    (:func:`gankit.recipes.options.check_settings_are_read`). Returns a new dict; ``preset`` is not changed."""
    import copy

    NETWORKS, OBJECTIVES, RECIPES = (_registry_for(k) for k in ("networks", "objectives", "recipes"))
    out = copy.deepcopy(preset)

    def chosen(values: dict, section: str, default: str) -> str:
        part = values.get(section)
        return part.get("name", default) if isinstance(part, dict) else default

    def network_options(role: str, name: str) -> list:
        family = NETWORKS.get(name)
        return [f"{role}.{f}" for f in family.options + (family.discriminator_options if role == "d" else ())]

    defaults = Config()
    for role in ("g", "d"):
        old, new = chosen(preset, role, getattr(defaults, role).name), chosen(overrides, role, None)
        if new is not None and old in NETWORKS and NETWORKS.canonical(new) != NETWORKS.canonical(old):
            _drop_component_settings(out, network_options(role, old),
                                     set(network_options(role, new)) if new in NETWORKS else set(), overrides,
                                     "network", old)
    old, new = chosen(preset, "objective", defaults.objective.name), chosen(overrides, "objective", None)
    if new is not None and old in OBJECTIVES and OBJECTIVES.canonical(new) != OBJECTIVES.canonical(old):
        _drop_component_settings(out, OBJECTIVES.get(old).options,
                                 set(OBJECTIVES.get(new).options) if new in OBJECTIVES else set(), overrides,
                                 "objective", old)
    old, new = preset.get("recipe", defaults.recipe), overrides.get("recipe")
    if new is not None and old in RECIPES and RECIPES.canonical(new) != RECIPES.canonical(old):
        _drop_component_settings(out, RECIPES.get(old).options,
                                 set(RECIPES.get(new).options) if new in RECIPES else set(), overrides, "recipe", old)
        if new in RECIPES and not RECIPES.get(new).critics and "objective" not in overrides:
            out.pop("objective", None)  # a recipe without a critic (the VAE) reads no adversarial objective
    return out


def _drop_component_settings(out: dict, options, kept: set, overrides: dict, kind: str, old: str) -> None:
    """Remove from ``out`` the dotted ``options`` of the replaced component (and the sections it owns) that the
    new one does not read (``kept``) and the overrides do not set."""
    keys = [k for k in options if k not in kept]
    keys += [section for section, (_, owner) in SECTIONS.items() if owner == (kind, old)]
    for key in keys:
        section, _, name = key.partition(".")
        part = overrides.get(section)
        if name:
            if isinstance(out.get(section), dict) and not (isinstance(part, dict) and name in part):
                out[section].pop(name, None)
        elif part is None:
            out.pop(section, None)


def config_from_dict(values: dict) -> Config:
    cfg = _build(Config, values)
    validate(cfg)
    return cfg


# ----------------------------------------------------------------------------- validation


def _registry_for(name: str):
    # The registries are filled when the axes are imported, which ``import gankit`` (run by any import of
    # gankit.config) has done: the config, at the bottom of the layers, imports none of them.
    from . import registry

    return {
        "datasets": registry.DATASETS,
        "networks": registry.NETWORKS,
        "objectives": registry.OBJECTIVES,
        "recipes": registry.RECIPES,
    }[name]


_NAME_PART = re.compile(r"^[\w+=-][\w.+=-]*$")  # no leading dot: no '.', '..' or hidden folders


def check_run_name(name: str) -> str:
    """A run name: one or more safe path components joined by '/', relative, without '.' or '..', so that
    ``runs/NAME`` stays inside the runs folder (nested names such as ``sweeps/lr-1e-3`` are fine)."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("the run name is empty; give --name NAME (letters, digits, '-', '_', '.')")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise ConfigError(f"run name {name!r} is an absolute path; a name stays inside the runs folder "
                          "(use --run-dir PATH to train somewhere else)")
    bad = [p for p in name.replace("\\", "/").split("/") if not _NAME_PART.match(p)]
    if bad:
        raise ConfigError(f"run name {name!r} has the unsafe part {bad[0]!r}; use letters, digits, '-', '_', '.' "
                          "(not starting with '.'), and '/' between nested names")
    return name


def _check_number(value, key):
    """NaN and infinity pass every comparison, and huge numbers overflow later: refuse both here."""
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_number(v, key)
    elif isinstance(value, float) and not (math.isfinite(value) and abs(value) <= MAX_FLOAT):
        raise ConfigError(f"{key} = {value!r} must be a finite number of magnitude at most {MAX_FLOAT:g}")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SEED:
        raise ConfigError(f"{key} = {value} is too large (at most {MAX_SEED})")


def _check_field(obj, f, key):
    value = getattr(obj, f.name)
    meta = f.metadata
    _check_number(value, key)
    if "choices" in meta and value not in meta["choices"]:
        shown = ", ".join("none" if c is None else str(c) for c in meta["choices"])
        raise ConfigError(f"{key} = {value!r} is not allowed{closest(value, map(str, meta['choices']))}; choose one of: {shown}")
    if "registry" in meta:
        _registry_for(meta["registry"]).get(value)
    if "range" in meta and value is not None:
        lo, hi, lo_open, hi_open = meta["range"]
        if lo is not None and (value < lo or (lo_open and value == lo)):
            raise ConfigError(f"{key} = {value!r} must be {'>' if lo_open else '>='} {lo}")
        if hi is not None and (value > hi or (hi_open and value == hi)):
            raise ConfigError(f"{key} = {value!r} must be {'<' if hi_open else '<='} {hi}")


def _walk(obj, prefix=""):
    for f in dataclasses.fields(obj):
        if f.name.startswith("_"):  # the registered sections: walked under their own names by validate
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _walk(value, f"{prefix}{f.name}.")
        elif isinstance(value, dict):
            for name, item in value.items():
                if dataclasses.is_dataclass(item):
                    yield from _walk(item, f"{prefix}{f.name}.{name}.")
        else:
            yield obj, f, prefix + f.name


def validate(cfg: Config) -> Config:
    """Check every value against its field's choices, registry and range; then cross-field rules."""
    check_run_name(cfg.name)
    sections = [(getattr(cfg, name), f"{name}.") for name in SECTIONS]
    for obj, f, key in [w for part, prefix in [(cfg, "")] + sections for w in _walk(part, prefix)]:
        _check_field(obj, f, key)
    dev = cfg.train.device
    if not (dev in ("auto", "cpu", "mps") or dev == "cuda" or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise ConfigError(f"train.device = {dev!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    if cfg.train.batch_size % cfg.d.pack:
        raise ConfigError(f"d.pack = {cfg.d.pack} needs train.batch_size divisible by it, got {cfg.train.batch_size}")
    _validate_eval(cfg.train)
    return cfg


def _validate_eval(t: TrainConfig) -> None:
    from .metrics.names import ALL_METRICS, BACKBONE_NAMES  # a leaf: the config imports no metric code

    for m in (m.strip() for m in t.eval_metrics.split(",")):
        if m not in ALL_METRICS:
            raise ConfigError(f"train.eval_metrics has unknown metric {m!r}{closest(m, ALL_METRICS)}; "
                              f"choose from {', '.join(ALL_METRICS)}")
    name = t.eval_backbone.partition(":")[0]
    if name not in BACKBONE_NAMES:
        raise ConfigError(f"unknown backbone '{name}'{closest(name, BACKBONE_NAMES)}; "
                          f"choose one of: {', '.join(BACKBONE_NAMES)}")
