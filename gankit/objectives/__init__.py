"""Objectives axis: how D's outputs become two losses, and what regularises D. Select with ``objective.name``."""
from ..registry import OBJECTIVES
from . import classic, energy, ipm, margin, mmd, wasserstein  # noqa: F401  (registers the objectives)
from .base import Objective
from .penalties import PENALTIES, build_penalty


def build_objective(cfg, label_smoothing: float = 0.0) -> Objective:
    return OBJECTIVES.get(cfg.name)(cfg, label_smoothing)


def critic_kind(name: str) -> str:
    """What D objective ``name`` needs: "scalar", "features", "autoencoder" or "none" (see Objective.critic)."""
    return OBJECTIVES.get(name).critic


__all__ = ["Objective", "PENALTIES", "build_objective", "build_penalty", "critic_kind"]
