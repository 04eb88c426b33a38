"""`gankit study --storage postgresql://...` on a real PostgreSQL server: two workers share one study without
losing or repeating a trial, and a worker killed mid-trial and restarted at once retries that trial's setting."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
from pathlib import Path

import postgres_server
from test_study import TINY, cache  # noqa: F401  (the classifier fixture)


@pytest.fixture(scope="session")
def postgres():
    if os.environ.get(postgres_server.ENV):
        yield os.environ[postgres_server.ENV]
        return
    if postgres_server.server_bin() is None:
        pytest.skip("no PostgreSQL server binary here (install Debian's postgresql, as .ci/run does)")
    folder = tempfile.mkdtemp(prefix="gankit-pg-", dir=Path(tempfile.gettempdir()).resolve())
    try:
        yield postgres_server.start(folder)
    finally:
        postgres_server.stop(folder)
        postgres_server.discard(folder)  # the mkdtemp folder above: the server's data, tens of MB


@pytest.fixture
def database(postgres):
    return postgres_server.new_database(postgres, f"gankit_{uuid.uuid4().hex[:12]}")


def study_cmd(out, storage, steps=3, budget=3):
    return [sys.executable, "-m", "gankit", "study", "--objectives", "ns", "--dataset", "digits", "--budget",
            str(budget), "--steps", str(steps), "--n-eval", "40", "--out", str(out), "--storage", storage, *TINY]


def trials(storage):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name="ns", storage=storage).get_trials(deepcopy=False)


def settings(ts):
    return sorted(tuple(sorted(t.params.items())) for t in ts if t.state.name == "COMPLETE")


def test_two_workers_share_a_postgresql_study_like_one_process(cache, tmp_path, database):  # noqa: F811
    procs = [subprocess.Popen(study_cmd(tmp_path / f"w{i}", database, budget=3), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for i in range(2)]
    outs = [p.communicate(timeout=600)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outs)
    shared = trials(database)
    complete = [t for t in shared if t.state.name == "COMPLETE"]
    assert sorted(t.user_attrs["slot"] for t in complete) == [0, 1, 2]  # none lost, none repeated
    # a trial that both workers start when one setting is left is given up before it trains, by one of them
    assert all(t.state.name == "PRUNED" and t.user_attrs["surplus"] and "slot" not in t.user_attrs
               for t in shared if t not in complete)
    single = f"sqlite:///{tmp_path / 'single.db'}"
    done = subprocess.run(study_cmd(tmp_path / "single", single, budget=3), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert settings(shared) == settings(trials(single))


@pytest.mark.slow  # 35 s: a study killed mid-trial, restarted, and a reference study
def test_a_worker_killed_mid_trial_and_restarted_at_once_retries_that_setting(cache, tmp_path, database):  # noqa: F811
    from gankit.study.runner import GRACE_S

    cmd = study_cmd(tmp_path / "st", database, steps=250, budget=3)
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    victim = None
    while victim is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.3)
        try:
            ts = trials(database)
        except Exception:  # the study is not created yet
            continue
        running = [t for t in ts if t.state.name == "RUNNING" and "worker" in t.user_attrs and t.params]
        if running and any(t.state.name == "COMPLETE" for t in ts):
            victim = running[0]
    assert victim is not None, "no trial was running after the first one finished"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    restarted = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    ts = trials(database)
    failed = [t for t in ts if t.state.name == "FAIL"]
    assert [t.number for t in failed] == [victim.number]
    retry = [t for t in ts if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE" and retry[0].params == victim.params
    assert retry[0].user_attrs["slot"] == victim.user_attrs["slot"]
    assert sum(t.state.name == "COMPLETE" for t in ts) == 3
    # the restarted worker did not wait for the heartbeat's grace period to notice the dead trial
    assert retry[0].datetime_start.timestamp() - restarted < GRACE_S
    single = f"sqlite:///{tmp_path / 'single.db'}"
    # a setting depends on the seed and its slot only, not on the steps: the reference study can be short
    assert subprocess.run(study_cmd(tmp_path / "single", single, steps=3, budget=3), capture_output=True,
                          timeout=600).returncode == 0
    assert settings(ts) == settings(trials(single))


def test_a_postgresql_url_without_a_server_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "gankit", "study", "--objectives", "ns", "--out", str(tmp_path / "s"),
                           "--storage", f"postgresql://nobody@/x?host={tmp_path}&port=1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "cannot open the study storage" in done.stderr and not (tmp_path / "s").exists()


def test_discarding_a_server_folder_removes_only_a_folder_the_tests_made(tmp_path, monkeypatch):
    """The fixture and .ci/run remove their server folders; a name, '.', '..', '', a user's folder or a symlink to
    a server folder is refused and left as it is."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made = Path(tempfile.mkdtemp(prefix="gankit-pg-"))
    (made / "data").mkdir()
    user = tmp_path / "my-results"
    user.mkdir()
    (user / "keep.txt").write_text("mine")
    link = tmp_path / "gankit-pg-link"
    link.symlink_to(user)
    nested = made / "gankit-pg-inner"
    nested.mkdir()
    outside = tmp_path / "elsewhere" / "gankit-pg-x"
    outside.mkdir(parents=True)
    monkeypatch.chdir(made)
    for bad in ("", ".", "..", str(user), str(link), str(nested), str(outside), str(tmp_path / "gankit-pg-missing"),
                str(made / ".." / "my-results")):
        with pytest.raises(ValueError, match="not removing it"):
            postgres_server.discard(bad)
    assert (user / "keep.txt").read_text() == "mine" and link.is_symlink() and nested.is_dir() and outside.is_dir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="not removing it"):
        postgres_server.discard(made.name)  # a relative name, even of a server folder
    assert made.is_dir()
    postgres_server.discard(made)
    assert not made.exists() and (user / "keep.txt").exists()
