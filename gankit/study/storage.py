"""A study's settings and its Optuna storage: what both the runner and the report read (so neither imports
the other). ``study.json`` holds the settings; the storage (SQLite by default) holds the trials."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna

from ..errors import ConfigError, GankitError
from ..io import write_text
from .space import SPACES

SETTINGS_FILE = "study.json"
HEARTBEAT_S = 5
GRACE_S = 20


@dataclass
class StudySettings:
    """Everything that defines a study; a study directory refuses to mix trials of different settings."""

    objectives: list
    dataset: str = "mnist5k"
    config: str = "mnist-dcgan"
    budget: int = 20
    seeds: int = 1
    steps: int = 1000
    space: str = "wide"
    sampler: str = "random"
    backbone: str | None = None  # None: the dataset's own classifier (classifier:DATASET)
    n_eval: int = 1000
    seed: int = 0
    overrides: tuple = ()

    def validate(self) -> None:
        from ..objectives import OBJECTIVES

        if not self.objectives:
            raise ConfigError("--objectives is empty; give e.g. --objectives ns,lsgan,wgan-gp")
        for name in self.objectives:
            OBJECTIVES.get(name)  # unknown names list the valid ones
        if len(set(self.objectives)) != len(self.objectives):
            raise ConfigError(f"--objectives names an objective twice: {','.join(self.objectives)}")
        for key in ("budget", "seeds", "steps"):
            if getattr(self, key) < 1:
                raise ConfigError(f"--{key.replace('_', '-')} must be at least 1, got {getattr(self, key)}")
        if self.n_eval < 2:
            raise ConfigError(f"--n-eval must be at least 2, got {self.n_eval}")
        if self.space not in SPACES:
            raise ConfigError(f"unknown --space '{self.space}'; choose one of: {', '.join(SPACES)}")
        if self.sampler not in ("random", "tpe"):
            raise ConfigError(f"unknown --sampler '{self.sampler}'; choose random (the Lucic protocol) or tpe")
        for name in self.objectives:  # the preset and every override, checked before anything is written
            trial_config(self, name, [], self.seed)

    @property
    def fid_backbone(self) -> str:
        return self.backbone or f"classifier:{self.dataset}"

    def to_json(self) -> dict:
        d = asdict(self)
        d["overrides"] = list(self.overrides)
        return d


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'study.db').resolve()}"


def open_settings(out: Path, settings: StudySettings) -> StudySettings:
    """Write ``study.json`` for a new study dir, or check that an existing one has the same settings
    (a larger budget is allowed: it extends the study)."""
    settings.validate()
    path = out / SETTINGS_FILE
    if path.exists():
        old = _read_json(path)
        new = settings.to_json()
        diff = [k for k in new if k != "budget" and old.get(k) != new[k]]
        if diff:
            k = diff[0]
            raise ConfigError(f"study dir {out} was created with {k} = {old.get(k)!r}, not {new[k]!r}; use those "
                              "settings to continue it, or choose another --out")
        if new["budget"] != old.get("budget"):
            write_text(path, json.dumps(new, indent=2))
        return settings
    out.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(settings.to_json(), indent=2))
    return settings


def read_settings(out: Path) -> StudySettings:
    path = Path(out) / SETTINGS_FILE
    if not path.exists():
        raise GankitError(f"{out} is not a study directory (no {SETTINGS_FILE}); start one with gankit study --out {out} ...")
    d = _read_json(path)
    try:
        d["overrides"] = tuple(d.get("overrides", ()))
        return StudySettings(**d)
    except TypeError as e:
        raise GankitError(f"{path} is not a gankit study file ({e}); restore it or start a new study with --out") from None


def _read_json(path: Path) -> dict:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GankitError(f"{path} is corrupt ({str(e).splitlines()[0]}); restore it or start a new study with "
                          "another --out") from None
    if not isinstance(d, dict):
        raise GankitError(f"{path} is corrupt (not a JSON object); restore it or start a new study with another --out")
    return d


def quiet_optuna() -> None:
    """No per-trial log lines, and no warnings that heartbeats are an experimental Optuna feature."""
    import warnings

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def storage_for(url: str):
    """Optuna storage with heartbeats, so that trials of a dead worker are failed and retried."""
    quiet_optuna()
    storages = optuna.storages
    if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):  # optuna >= 4.9
        retry = {"heartbeat_stale_trial_callback": storages.RetryHeartbeatStaleTrialCallback(max_retry=3)}
    else:
        retry = {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=3)}
    try:
        return storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S, **retry)
    except Exception as e:  # SQLAlchemy raises many kinds; the message names the cause
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GankitError(f"cannot open the study storage {url!r}: {reason}") from None


def trial_config(settings: StudySettings, objective: str, params: list[str], seed: int):
    from ..config import load_config

    steps = settings.steps
    return load_config(settings.config, [
        f"data.name={settings.dataset}", f"objective.name={objective}", *params, *settings.overrides,
        f"train.steps={steps}", f"train.seed={seed}", "train.ema_decay=0", f"train.checkpoint_every={steps}",
        f"train.sample_every={steps}", f"train.log_every={min(100, steps)}", "train.eval_every=none",
    ])
