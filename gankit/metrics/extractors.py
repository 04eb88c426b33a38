"""Every feature extractor by name. A module of its own above the backbones, so that the backbone
registry (:mod:`gankit.metrics.backbones`) and the modules that register into it (the classifier and
Inception) import in one direction only."""
from __future__ import annotations

from . import classifier, inception  # noqa: F401  (they register their backbones)
from .backbones import BACKBONES, Backbone
from ..errors import GankitError


def build_backbone(spec: str, **kw) -> Backbone:
    """A backbone by name; ``classifier:DATASET`` selects gankit's classifier for that dataset; ``protocol``
    picks the Inception preprocessing (``tf`` or ``pytorch-fid``)."""
    name, _, arg = spec.partition(":")
    if arg:
        kw["dataset"] = arg
    if kw.get("input_size") is None:
        kw.pop("input_size", None)
    elif name != "effnet-lite0":
        raise GankitError(f"--resize applies to effnet-lite0 only; {name} has a fixed input size")
    if kw.get("protocol") is None:
        kw.pop("protocol", None)
    elif name != "inception":
        raise GankitError(f"--protocol applies to the inception backbone only; {name} has one preprocessing")
    return BACKBONES.get(name)(**kw)
