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

import copy
import multiprocessing as mp
import os
import socket
import time
from pathlib import Path
from typing import Optional

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from ..errors import ConfigError, GankitError, TrainingDiverged
from .space import suggest
from .storage import (GRACE_S, HEARTBEAT_S, SETTINGS_FILE, StudySettings, default_storage,  # noqa: F401
                      open_settings, quiet_optuna, read_settings, storage_for, trial_config)

def setting_slot(study, number: int) -> int:
    """The index of a trial's setting in the study's one sequence of settings: the number of first-try trials
    before it. A trial retried after its worker died (Optuna gives it a new number) keeps the slot of the
    trial it retries, so a kill neither skips a setting nor shifts the sequence that every objective shares; a
    surplus trial (started by a worker when the other workers' trials already took the budget, and given up at
    once) takes no slot."""
    trials = study.get_trials(deepcopy=False)
    this = next((t for t in trials if t.number == number), None)
    first = this.system_attrs.get("failed_trial", number) if this is not None else number
    return sum(1 for t in trials if t.number < first and "failed_trial" not in t.system_attrs
               and not t.user_attrs.get("surplus"))


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


def this_worker() -> dict:
    """Who runs a trial: host, process id and the process's start time (so that a reused pid is not mistaken
    for the worker that died)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _process_start(os.getpid())}


def _process_start(pid: int) -> Optional[str]:
    """The start time of a process in clock ticks since boot (/proc/PID/stat, field 22), or None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def _is_dead(worker: dict) -> bool:
    """True when ``worker`` ran on this host and its process is gone (or its pid now belongs to another one)."""
    if worker.get("host") != socket.gethostname():
        return False  # another machine's worker: only its heartbeat can tell (Optuna's grace period)
    pid = int(worker.get("pid", 0))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    started = _process_start(pid)
    return started is not None and worker.get("started") is not None and started != worker["started"]


def retry_dead_trials(study) -> None:
    """Fail the running trials of this host's dead workers at once, and queue each again with the same setting
    (Optuna's heartbeat-stale retry, which otherwise waits for the grace period). A worker restarted within the
    grace period thus retries the trial it was killed in, instead of counting it as running elsewhere and drawing
    another setting."""
    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.user_attrs.get("worker")
        if not isinstance(worker, dict) or not _is_dead(worker):
            continue
        try:
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker got there first
        callback = storage.get_heartbeat_stale_trial_callback() if hasattr(
            storage, "get_heartbeat_stale_trial_callback") else storage.get_failed_trial_callback()
        if callback is not None:
            callback(study, copy.deepcopy(storage.get_trial(t._trial_id)))


def run_trial(settings: StudySettings, out: Path, objective: str, trial) -> float:
    """Train the trial's setting with each seed and return the mean FID (inf when a seed diverges)."""
    from ..metrics.evaluate import evaluate_run
    from ..train import train

    trial.set_user_attr("worker", this_worker())
    slot = setting_slot(trial.study, trial.number)
    if slot >= settings.budget:  # workers that started trials at once overshot the budget: this one is not needed
        trial.set_user_attr("surplus", True)
        trial.study.stop()
        raise optuna.TrialPruned(f"the budget of {settings.budget} settings is taken by other trials")
    params = suggest(trial, settings.space, objective)
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
    """One worker: for each objective in order, run trials until the study holds ``budget`` finished ones. It
    returns when every study is complete, or when what is left is another worker's running trial and that
    worker is alive: a trial whose worker dies is retried (at once when it died on this host, after the
    heartbeat grace period otherwise), by this worker if it is still waiting."""
    import torch

    out = Path(out)
    settings = read_settings(out)
    if threads:
        torch.set_num_threads(threads)
    storage = storage_for(storage_url or default_storage(out))
    while True:
        others_running = False
        for objective in settings.objectives:
            study = optuna.create_study(storage=storage, study_name=objective, load_if_exists=True,
                                        sampler=make_sampler(settings), direction="minimize")
            retry_dead_trials(study)
            optuna.storages.fail_stale_trials(study)
            done, running = _counts(study)
            remaining = settings.budget - done - running
            if remaining > 0:
                study.optimize(lambda t: run_trial(settings, out, objective, t), n_trials=remaining,
                               callbacks=[MaxTrialsCallback(settings.budget, states=(TrialState.COMPLETE,))],
                               catch=(), gc_after_trial=True)
                done, running = _counts(study)
            others_running |= done < settings.budget and running > 0
        if not others_running:
            return
        time.sleep(HEARTBEAT_S)  # another worker's trial: wait for it to finish, or to go stale and be retried


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
