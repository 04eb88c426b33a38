"""`gankit study`: the Lucic et al. protocol on a tiny budget, resuming without repeating a trial, the
budget curve against brute force, and the refusals."""
import json

import numpy as np
import pytest

from gankit.cli import main
from gankit.study import expected_min


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    assert main(["classifier", "train", "digits", "--epochs", "2", "--no-progress"]) == 0
    return tmp_path / "cache"


TINY = ["data.image_size=16", "g.width=8", "d.width=8", "latent.dim=8", "train.batch_size=16"]


def study_args(out, *extra, objectives="ns,gmmn", budget="2"):
    return ["study", "--objectives", objectives, "--dataset", "digits", "--budget", budget, "--steps", "3",
            "--n-eval", "40", "--out", str(out), *extra, *TINY]


def trials(out, name):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")
    return [(t.number, t.state.name, t.params) for t in study.trials]


def test_study_runs_reports_and_resumes_without_repeating(cache, tmp_path, capsys):
    out = tmp_path / "st"
    assert main(study_args(out)) == 0
    printed = capsys.readouterr().out
    assert "| ns | 2 | 0 |" in printed and "| gmmn | 2 | 0 |" in printed
    assert "6.8 (quoted)" not in printed  # Lucic et al. rows are quoted for MNIST / Fashion-MNIST only
    report = json.loads((out / "report.json").read_text())
    for name in ("ns", "gmmn"):
        row = report["objectives"][name]
        assert row["trials"] == 2 and row["min"] <= row["median"] <= row["max"]
        assert len(report["budget_curve"][name]) == 2
        assert report["budget_curve"][name][1] <= report["budget_curve"][name][0]
        assert (out / "best" / f"{name}.yaml").exists()
    for f in ("table.md", "fid_boxplot.png", "fid_vs_budget.png"):
        assert (out / f).exists()
    before = trials(out, "ns")
    assert [s for _, s, _ in before] == ["COMPLETE", "COMPLETE"]
    # the same command again: everything is finished, nothing is retrained
    assert main(study_args(out)) == 0
    assert trials(out, "ns") == before
    # a larger budget extends the study with new settings; the finished trials stay as they were
    assert main(study_args(out, budget="3")) == 0
    after = trials(out, "ns")
    assert after[:2] == before and len(after) == 3 and after[2][1] == "COMPLETE"
    # the best config is a runnable preset
    from gankit.config import load_config

    cfg = load_config(str(out / "best" / "ns.yaml"))
    assert cfg.objective.name == "ns" and cfg.train.steps == 3


def test_trial_settings_depend_only_on_the_trial_number(cache, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(study_args(a, objectives="ns")) == 0
    assert main(study_args(b, objectives="lsgan")) == 0
    assert [p for *_, p in trials(a, "ns")] == [p for *_, p in trials(b, "lsgan")]


def test_study_dir_with_other_settings_is_not_mixed(cache, tmp_path, capsys):
    out = tmp_path / "st"
    assert main(study_args(out, objectives="ns", budget="1")) == 0
    capsys.readouterr()
    assert main(study_args(out, "--space", "narrow", objectives="ns", budget="1")) == 2
    err = capsys.readouterr().err
    assert "was created with space = 'wide', not 'narrow'" in err and "\n" == err[-1] and err.count("\n") == 1
    assert len(trials(out, "ns")) == 1


@pytest.mark.parametrize("args, message", [
    (["--budget", "0"], "--budget must be at least 1"),
    (["--steps", "-5"], "--steps must be at least 1"),
    (["--objectives", "ns,wgan-pg"], "unknown objective 'wgan-pg' (did you mean 'wgan-gp'?); choose one of: began"),
    (["--storage", "sqlite:////nonexistent/dir/study.db"], "cannot open the study storage"),
    (["--space", "huge"], "unknown --space 'huge'; choose one of: wide, narrow"),
])
def test_bad_study_input_is_one_line(tmp_path, capsys, args, message):
    argv = ["study", "--objectives", "ns", "--out", str(tmp_path / "st"), "--dataset", "digits"] + args
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "st").exists()


def test_expected_min_matches_brute_force_resampling():
    values = [3.0, 1.0, 7.0, 2.5, 9.0]
    exact = expected_min(values, 4)
    rng = np.random.default_rng(0)
    draws = rng.choice(values, size=(200_000, 4))
    sim = np.minimum.accumulate(draws, axis=1).mean(0)
    assert np.allclose(exact, sim, rtol=0.01)
    assert exact[0] == pytest.approx(np.mean(values))
    assert expected_min([4.0], 3) == [4.0, 4.0, 4.0]


@pytest.mark.slow
def test_mnist_study_killed_midway_resumes_without_losing_or_repeating(tmp_path):
    """The issue's bar: 2 objectives, budget 3, MNIST-5k; killed during a trial, then resumed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import optuna

    from gankit.study.runner import GRACE_S

    out = tmp_path / "st"
    cmd = [sys.executable, "-m", "gankit", "study", "--objectives", "ns,lsgan", "--budget", "3", "--steps", "150",
           "--n-eval", "500", "--out", str(out), "g.width=16", "d.width=16"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = f"sqlite:///{out / 'study.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def finished():
        try:
            study = optuna.load_study(study_name="ns", storage=db)
        except Exception:
            return []
        return [(t.number, t.value, t.params) for t in study.trials if t.state.name == "COMPLETE"]

    deadline = time.time() + 900
    while len(finished()) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(1)
    time.sleep(2)  # let the next trial start, so that the kill lands mid-trial
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = finished()
    assert 1 <= len(before) < 3
    time.sleep(GRACE_S + 2)  # the dead worker's trial is stale after the grace period
    assert subprocess.run(cmd, capture_output=True, timeout=1800).returncode == 0
    after = finished()
    assert after[: len(before)] == before  # finished trials kept, not retrained
    assert len(after) == 3
    assert len({tuple(sorted(p.items())) for _, _, p in after}) == 3  # no setting trained twice
    lsgan = optuna.load_study(study_name="lsgan", storage=db)
    assert sum(t.state.name == "COMPLETE" for t in lsgan.trials) == 3
    assert "| ns | 3 | " in (out / "table.md").read_text()
