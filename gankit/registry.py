"""Name -> class registries, one per axis (networks, objectives, recipes) and one for datasets.

Configs select implementations by name; an unknown name is a one-line error that suggests the
closest registered one.
"""
from __future__ import annotations

import difflib
from typing import Callable, Dict, Iterable, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def closest(name: str, candidates: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest candidate, or '' if none is close."""
    candidates = list(candidates)
    same_letters = [c for c in candidates if str(c).lower() == str(name).lower()]
    match = same_letters or difflib.get_close_matches(str(name), candidates, n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


class Registry:
    """A named mapping from string keys to classes or factories."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, Callable] = {}
        self._aliases: Dict[str, str] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return add

    def alias(self, alias: str, name: str) -> None:
        """Let ``alias`` select the item registered as ``name`` (e.g. 'mm' for 'minimax')."""
        self._aliases[alias] = name

    def canonical(self, name: str) -> str:
        return self._aliases.get(name, name)

    def get(self, name: str) -> Callable:
        name = self.canonical(name)
        if name not in self._items:
            raise ConfigError(
                f"unknown {self.kind} '{name}'{closest(name, self._items)}; "
                f"choose one of: {', '.join(sorted(self._items))}"
            )
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def aliases_of(self, name: str) -> list[str]:
        return sorted(a for a, n in self._aliases.items() if n == name)

    def __contains__(self, name: str) -> bool:
        return self.canonical(name) in self._items

    def items(self):
        return sorted(self._items.items())


NETWORKS = Registry("network")
OBJECTIVES = Registry("objective")
RECIPES = Registry("recipe")
DATASETS = Registry("dataset")
