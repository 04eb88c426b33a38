"""Options belong to what reads them. Every recipe, objective and network family declares the settings only it
reads (its ``options``); a setting changed from its default that none of the chosen components reads is
refused in one line that names the component that would read it. ``gankit train --dry-run g.name=mlp
g.fc=1024`` used to exit 0 and ignore ``g.fc``; now it says that ``g.fc`` is read by network 'dcgan'.

Settings no component claims (``train.*``, ``optim.*``, ``g.width``...) are read by every run. Run directories
are never checked: a run written before a component declared its options still loads and resumes.
"""
from __future__ import annotations

import dataclasses

from ..config import SECTIONS, Config
from ..errors import ConfigError
from ..registry import NETWORKS, OBJECTIVES, RECIPES

#: fields of g.* / d.* that only a discriminator reads, whatever its family
DISCRIMINATOR_ONLY = ("minibatch_std", "minibatch_std_group", "pack")


def changed_settings(cfg: Config) -> list[str]:
    """Dotted keys whose value differs from the field's default (``optim`` entries excepted)."""
    default = Config()
    out = []
    for section in [f.name for f in dataclasses.fields(cfg)] + list(SECTIONS):
        value, base = getattr(cfg, section), getattr(default, section)
        if not dataclasses.is_dataclass(value):
            continue
        for f in dataclasses.fields(value):
            if getattr(value, f.name) != getattr(base, f.name):
                out.append(f"{section}.{f.name}")
    return out


def _owners(registry, attribute: str, key: str, role: str | None = None) -> list[str]:
    """Components that declare ``key``; for networks, only families that can play ``role`` (g or d)."""
    return [name for name, item in registry.items() if key in getattr(item, attribute, ())
            and getattr(item, "role", role) == role]


def check_settings_are_read(cfg: Config) -> None:
    """Refuse, in one line, the first changed setting that the chosen recipe, objective and networks do not read."""
    for key in changed_settings(cfg):
        section, _, field = key.partition(".")
        if section in ("g", "d"):
            _check_network_setting(cfg, section, field)
            continue
        if section in SECTIONS and SECTIONS[section][1][0] is not None:  # a section one component owns
            kind, owner = SECTIONS[section][1]
            chosen = {"recipe": cfg.recipe, "objective": cfg.objective.name}.get(kind)
            if chosen != owner:
                setting = "recipe" if kind == "recipe" else f"{kind}.name"
                raise ConfigError(f"{key} is read by {kind} '{owner}', not by this run's {kind} '{chosen}'; "
                                  f"remove it, or set {setting}={owner}")
            continue
        for registry, chosen, what in ((RECIPES, cfg.recipe, "recipe"), (OBJECTIVES, cfg.objective.name, "objective")):
            owners = _owners(registry, "options", key)
            chosen = registry.canonical(chosen)
            if owners and chosen not in owners:
                setting = "recipe" if what == "recipe" else "objective.name"
                raise ConfigError(f"{key} is read by {what} {' / '.join(repr(o) for o in owners)}, not by this run's "
                                  f"{what} '{chosen}'; remove it, or set {setting}={owners[0]}")


def _check_network_setting(cfg: Config, role: str, field: str) -> None:
    key, family = f"{role}.{field}", getattr(cfg, role).name
    if field in DISCRIMINATOR_ONLY and role == "g":
        raise ConfigError(f"{key} is read by discriminators only; did you mean d.{field}?")
    owners = _owners(NETWORKS, "options", field, role)
    if role == "d":
        d_owners = _owners(NETWORKS, "discriminator_options", field, role)
        if d_owners and family not in d_owners:
            raise ConfigError(f"{key} is read by the discriminator of network {' / '.join(map(repr, d_owners))}, "
                              f"not by d.name = {family}; remove it, or set d.name={d_owners[0]}")
    if owners and family not in owners:
        raise ConfigError(f"{key} is read by network {' / '.join(map(repr, owners))}, not by {role}.name = {family}; "
                          f"remove it, or set {role}.name={owners[0]}")


def options_of(kind: str, name: str) -> list[tuple[str, object]]:
    """The settings only component ``name`` of ``kind`` (recipe, objective, network) reads, with defaults."""
    default = Config()
    if kind == "network":
        family = NETWORKS.get(name)
        keys = [f"g.{f}" for f in family.options] + [f"d.{f}" for f in family.options + family.discriminator_options]
    else:
        keys = list(({"recipe": RECIPES, "objective": OBJECTIVES}[kind]).get(name).options)
        for section, (cls, owner) in SECTIONS.items():
            if owner == (kind, name):
                keys += [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
    out = []
    for key in keys:
        section, _, field = key.partition(".")
        out.append((key, getattr(getattr(default, section), field)))
    return out
