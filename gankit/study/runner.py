"""``gankit study``: a fair, large-scale comparison of objectives in the manner of Lucic et al. 2018.

One shared architecture (a preset), one dataset, the same number of steps for every trial; for each
objective a budget of hyperparameter settings drawn at random from one range, each trained with
``seeds`` seeds and scored by FID (the mean over the seeds is the trial's value).

Optuna is the engine. Every objective is one Optuna study in one storage (an SQLite file in the study
directory by default, or any database URL), so:

- a killed study continues where it stopped: finished trials are kept and never run again; a trial that
  was running when its worker died stops sending heartbeats, is marked failed after the grace period,
  and is retried with the same setting;
- several workers (``--workers N`` locally, or processes on several machines given one ``--storage``
  URL) share the studies; each trial's setting is drawn from a generator seeded by (seed, trial number),
  so what a trial number trains does not depend on which worker ran it or on restarts.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from ..errors import ConfigError, GankitError, TrainingDiverged
from ..io import write_text
from .space import SPACES, suggest

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


def setting_slot(study, number: int) -> int:
    """The index of a trial's setting in the study's one sequence of settings: the number of first-try trials
    before it. A trial retried after its worker died (Optuna gives it a new number) keeps the slot of the
    trial it retries, so a kill neither skips a setting nor shifts the sequence that every objective shares."""
    trials = study.get_trials(deepcopy=False)
    this = next((t for t in trials if t.number == number), None)
    first = this.system_attrs.get("failed_trial", number) if this is not None else number
    return sum(1 for t in trials if t.number < first and "failed_trial" not in t.system_attrs)


class TrialSeededRandomSampler(optuna.samplers.RandomSampler):
    """Optuna's RandomSampler, reseeded before each trial from (seed, setting slot): a trial's setting is
    the same whichever worker draws it and however often the study is restarted or a trial retried."""

    def __init__(self, seed: int):
        super().__init__(seed)
        self.base_seed = seed

    def before_trial(self, study, trial):
        self._rng.rng.seed((self.base_seed * 1_000_003 + setting_slot(study, trial.number)) % 2**32)


def make_sampler(settings: StudySettings):
    if settings.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=settings.seed)
    return TrialSeededRandomSampler(settings.seed)


def trial_config(settings: StudySettings, objective: str, params: list[str], seed: int):
    from ..config import load_config

    steps = settings.steps
    return load_config(settings.config, [
        f"data.name={settings.dataset}", f"objective.name={objective}", *params, *settings.overrides,
        f"train.steps={steps}", f"train.seed={seed}", "train.ema_decay=0", f"train.checkpoint_every={steps}",
        f"train.sample_every={steps}", f"train.log_every={min(100, steps)}", "train.eval_every=none",
    ])


def run_trial(settings: StudySettings, out: Path, objective: str, trial) -> float:
    """Train the trial's setting with each seed and return the mean FID (inf when a seed diverges)."""
    from ..metrics.evaluate import evaluate_run
    from ..train import train

    params = suggest(trial, settings.space, objective)
    slot = setting_slot(trial.study, trial.number)
    trial.set_user_attr("overrides", params)
    trial.set_user_attr("slot", slot)
    fids = []
    for s in range(settings.seeds):
        seed = settings.seed + s
        run_dir = out / "runs" / objective / f"trial_{slot:04d}" / f"seed_{seed}"
        cfg = trial_config(settings, objective, params, seed)
        try:
            run = train(cfg, run_dir, overwrite=True, progress=False, tensorboard=False)
        except TrainingDiverged as e:
            trial.set_user_attr(f"diverged_seed_{seed}", str(e))
            fids.append(float("inf"))
            continue
        report = evaluate_run(run, ("fid",), n=settings.n_eval, backbone=settings.fid_backbone, seed=0)
        fids.append(float(next(v for k, v in report["scores"].items() if k.startswith("fid"))))
    trial.set_user_attr("fids", fids)
    trial.set_user_attr("run_dir", str(out / "runs" / objective / f"trial_{slot:04d}"))
    return sum(fids) / len(fids)


def _counts(study):
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return states.count(TrialState.COMPLETE), states.count(TrialState.RUNNING)


def work(out: str | Path, storage_url: str | None = None, threads: int | None = None) -> None:
    """One worker: for each objective in order, run trials until the study holds ``budget`` finished ones."""
    import torch

    out = Path(out)
    settings = read_settings(out)
    if threads:
        torch.set_num_threads(threads)
    storage = storage_for(storage_url or default_storage(out))
    for objective in settings.objectives:
        study = optuna.create_study(storage=storage, study_name=objective, load_if_exists=True,
                                    sampler=make_sampler(settings), direction="minimize")
        optuna.storages.fail_stale_trials(study)
        done, running = _counts(study)
        remaining = settings.budget - done - running
        if remaining <= 0:
            continue
        study.optimize(lambda t: run_trial(settings, out, objective, t), n_trials=remaining,
                       callbacks=[MaxTrialsCallback(settings.budget, states=(TrialState.COMPLETE,))],
                       catch=(), gc_after_trial=True)


def _worker_main(out, storage_url, threads):
    work(out, storage_url, threads)


def run_study(settings: StudySettings, out: str | Path, storage_url: str | None = None, workers: int = 1) -> dict:
    """Create or continue the study in ``out``, run it with ``workers`` local processes, write the report."""
    from ..metrics.classifier import ensure_classifier
    from .report import write_report

    out = Path(out)
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    settings.validate()
    if storage_url:
        storage_for(storage_url)  # a bad URL fails before anything is written
    open_settings(out, settings)
    storage_for(storage_url or default_storage(out))  # creates the tables once, before several workers open it
    if settings.fid_backbone.startswith("classifier:"):
        ensure_classifier(settings.fid_backbone.split(":", 1)[1])
    if workers == 1:
        work(out, storage_url)
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_worker_main, args=(str(out), storage_url, threads)) for _ in range(workers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        bad = [p.exitcode for p in procs if p.exitcode]
        if bad:
            raise GankitError(f"{len(bad)} of {workers} study workers failed (exit code {bad[0]}); run the same "
                              "command again to continue the study")
    return write_report(out, storage_url)
