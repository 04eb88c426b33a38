"""Recipes axis: one file per GAN family. Select with ``recipe``."""
from ..registry import RECIPES
from . import conditional, infogan, unconditional  # noqa: F401  (registers the recipes)
from .base import DataInfo, Phase, Recipe


def build_recipe(cfg, info: DataInfo, objective=None) -> Recipe:
    return RECIPES.get(cfg.recipe)(cfg, info, objective)


__all__ = ["DataInfo", "Phase", "Recipe", "build_recipe"]
