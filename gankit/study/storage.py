"""A study's settings and its Optuna storage: what both the runner and the report read (so neither imports
the other). ``study.json`` holds the settings; the storage (SQLite by default) holds the trials."""
from __future__ import annotations

import json
import random
import time
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
    for attempt in range(10):
        try:
            return storages.RDBStorage(_with_driver(url), heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S, **retry)
        except Exception as e:  # SQLAlchemy raises many kinds; the message names the cause
            if attempt < 9 and _lost_creation_race(e):
                time.sleep(0.2 + 0.3 * random.random())  # another worker is creating the tables: open them after it
                continue
            raise _storage_error(url, e) from None


def _storage_error(url: str, e: Exception) -> GankitError:
    if "Failed to import DB access module" in str(e):  # Optuna's words for a missing database driver
        hint = " pip install -e '.[postgres]' (psycopg 3)" if url.startswith("postgres") else " the URL's driver"
        return GankitError(f"cannot open the study storage {url!r}: its database driver is not installed; install{hint}")
    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return GankitError(f"cannot open the study storage {url!r}: {reason}")


def _lost_creation_race(e: Exception) -> bool:
    """Two workers that open a new database at once both create Optuna's tables; on PostgreSQL the slower one
    fails with a duplicate type or key. It only has to open the tables the other one made."""
    text = str(e)
    return any(w in text for w in ("already exists", "DuplicateObject", "UniqueViolation", "duplicate key"))


def _with_driver(url: str) -> str:
    """``postgresql://`` as ``postgresql+psycopg://``: the driver the ``postgres`` extra installs (psycopg 3), whatever
    SQLAlchemy's default for the bare scheme is (psycopg2 before SQLAlchemy 2.1)."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare):]
    return url


def trial_config(settings: StudySettings, objective: str, params: list[str], seed: int):
    from ..config import load_config

    steps = settings.steps
    return load_config(settings.config, [
        f"data.name={settings.dataset}", f"objective.name={objective}", *params, *settings.overrides,
        f"train.steps={steps}", f"train.seed={seed}", "train.ema_decay=0", f"train.checkpoint_every={steps}",
        f"train.sample_every={steps}", f"train.log_every={min(100, steps)}", "train.eval_every=none",
    ])
