"""Recipes axis: one file per GAN family. Select with ``recipe``."""
from ..errors import ConfigError
from ..objectives import critic_kind
from ..registry import OBJECTIVES, RECIPES
from . import conditional, infogan, lapgan, progan, stylegan, text2image, translation, unconditional, vae  # noqa: F401  (registers the recipes)
from .base import DataInfo, Phase, Recipe


def recipes_declaring(source: str = "latent", conditions: tuple = ()) -> list[str]:
    """Names of the registered recipes whose samples come from ``source`` and, when given, take one of
    ``conditions`` (so a refusal can say which recipes would serve the command)."""
    return [name for name, cls in RECIPES.items()
            if cls.source == source and (not conditions or cls.condition in conditions)]


def serving(source: str = "latent", conditions: tuple = ()) -> str:
    """"a cgan, acgan or projection run": the recipes that would serve a command, for a message."""
    names = recipes_declaring(source, conditions)
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"{'an' if listed[0] in 'aeiou' else 'a'} {listed} run"


def build_recipe(cfg, info: DataInfo, objective=None) -> Recipe:
    """The recipe ``cfg.recipe``, refusing an objective whose kind of D it cannot use."""
    cls = RECIPES.get(cfg.recipe)
    kind = critic_kind(cfg.objective.name)
    if cls.critics and kind not in cls.critics:  # a family without a critic (the VAE) refuses objectives itself
        need = {"features": "a feature critic", "autoencoder": "an autoencoder D", "none": "no D at all"}[kind]
        ok = [n for n in OBJECTIVES.names() if critic_kind(n) in cls.critics]
        raise ConfigError(f"objective '{cfg.objective.name}' needs {need}, which recipe '{cfg.recipe}' cannot use; "
                          f"use recipe=unconditional or one of these objectives: {', '.join(ok)}")
    if cls.separable_only and not getattr(OBJECTIVES.get(cfg.objective.name), "separable", False):
        ok = [n for n in OBJECTIVES.names() if getattr(OBJECTIVES.get(n), "separable", False)]
        raise ConfigError(f"objective '{cfg.objective.name}' does not split into a real and a fake term, which recipe "
                          f"'{cfg.recipe}' needs (its D weighs several kinds of negatives); use one of: {', '.join(ok)}")
    if info.pairing not in cls.pairings:
        layouts = {"paired": "paired (A, B) images", "unpaired": "unpaired A and B images",
                   "domains": "images with domain attributes", "captioned": "captioned images", None: "plain examples"}
        want = " or ".join(layouts[p] for p in cls.pairings)
        fits = [r for r, c in RECIPES.items() if info.pairing in c.pairings]
        raise ConfigError(f"recipe '{cfg.recipe}' trains on {want}, but dataset '{cfg.data.name}' holds "
                          f"{layouts[info.pairing]}; use recipe {' or '.join(fits)} with it, or another dataset")
    return cls(cfg, info, objective)


__all__ = ["DataInfo", "Phase", "Recipe", "build_recipe", "recipes_declaring", "serving"]
