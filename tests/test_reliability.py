"""Nothing lost, nothing silently wrong (issue 16): run-directory safety, kill-safe checkpoints, non-finite
guards, state that survives, and one-line errors for hostile input. Each test failed on the code before."""
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import load_config, train
from gankit.cli import main
from gankit.errors import TrainingDiverged
from gankit.io import load_tensors, save_tensors
from gankit.train import Trainer
from gankit.train.checkpoint import first_nonfinite, read_weights
from gankit.train.rundir import RunLock

ISSUE_TOY = ["--config", "ring-ns", "--no-progress", "train.plot_samples=false", "train.sample_every=1000"]
TOY = ISSUE_TOY + ["train.batch_size=32", "g.width=16", "d.width=16"]  # the same, smaller and faster


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code, err, fragment=""):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in err and "weights_only" not in err


def tree(path: Path) -> dict:
    """Every file under ``path`` with its bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def tensors_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A user's project folder with a thesis and one earlier run, as the issue's reproduction has it."""
    root = tmp_path / "project"
    (root / "runs" / "precious").mkdir(parents=True)
    (root / "thesis.tex").write_text("work")
    (root / "runs" / "precious" / "config.yaml").write_text("name: p\n")
    monkeypatch.chdir(root)
    return root


# ----------------------------------------------------------------------------- 1. names and --overwrite


@pytest.mark.parametrize("argv,fragment", [
    (["--overwrite", "--name", ".."], "unsafe part '..'"),
    (["--overwrite", "--name", "."], "unsafe part '.'"),
    (["--overwrite", "name="], "the run name is empty"),
    (["--overwrite", "--name", ""], "the run name is empty"),
    (["--name", "../escape"], "unsafe part '..'"),
    (["--name", "/abs"], "absolute path"),
    (["--name", "a/../../b"], "unsafe part '..'"),
    (["--overwrite", "--run-dir", "."], "holds the current folder"),
    (["--overwrite", "--run-dir", ".."], "holds the current folder"),
])
def test_names_and_overwrite_never_touch_what_is_not_a_run(project, capsys, argv, fragment):
    before = tree(project.parent)
    code, _, err = run_cli(capsys, "train", *TOY, "train.steps=2", *argv)
    assert_one_line_error(code, err, fragment)
    assert tree(project.parent) == before
    assert not (project.parent / "escape").exists() and not Path("/abs").exists()


def test_a_yaml_name_cannot_leave_the_runs_folder(project, capsys):
    (project / "bad.yaml").write_text("name: ../..\ndata: {name: ring8}\n")
    code, _, err = run_cli(capsys, "train", "--config", project / "bad.yaml", "--no-progress", "train.steps=2")
    assert_one_line_error(code, err, "unsafe part '..'")


def test_overwrite_refuses_folders_that_are_not_one_run(project, capsys):
    notes = project.parent / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("notes")
    code, _, err = run_cli(capsys, "train", *TOY, "train.steps=2", "--overwrite", "--run-dir", notes)
    assert_one_line_error(code, err, "is not a gankit run directory (no config.yaml)")
    assert (notes / "a.txt").read_text() == "notes"
    # a folder with a config.yaml that holds another run is not one run either
    (project / "runs" / "config.yaml").write_text("name: x\n")
    code, _, err = run_cli(capsys, "train", *TOY, "train.steps=2", "--overwrite", "--run-dir", project / "runs")
    assert_one_line_error(code, err, "holds another run")
    assert (project / "runs" / "precious" / "config.yaml").exists()


def test_run_dir_that_is_a_file_is_refused(project, capsys):
    (project / "afile").write_text("x")
    code, _, err = run_cli(capsys, "train", *TOY, "train.steps=2", "--run-dir", project / "afile")
    assert_one_line_error(code, err, "is a file, not a folder")
    assert (project / "afile").read_text() == "x"


def test_nested_names_stay_inside_runs(project, capsys):
    code, _, err = run_cli(capsys, "train", *TOY, "train.steps=2", "--name", "sweep/lr-1e-3")
    assert code == 0, err
    assert (project / "runs" / "sweep" / "lr-1e-3" / "config.yaml").exists()


def test_overwrite_moves_the_old_run_aside_until_the_new_one_has_started(project, capsys, monkeypatch):
    run = project / "runs" / "r"
    assert run_cli(capsys, "train", *TOY, "train.steps=2", "--name", "r")[0] == 0
    old = tree(run)

    def fails(self):
        raise RuntimeError("the new run broke before its first step")

    with monkeypatch.context() as m:
        m.setattr(Trainer, "train_step", fails)
        with pytest.raises(RuntimeError, match="broke before"):
            main(["train", *TOY, "train.steps=2", "train.seed=5", "--name", "r", "--overwrite"])
    assert tree(run) == old  # put back exactly
    assert sorted(p.name for p in (project / "runs").iterdir()) == ["precious", "r"]
    code, _, err = run_cli(capsys, "train", *TOY, "train.steps=2", "train.seed=5", "--name", "r", "--overwrite")
    assert code == 0, err
    assert tree(run) != old and sorted(p.name for p in (project / "runs").iterdir()) == ["precious", "r"]


def test_overwrite_never_deletes_an_earlier_set_aside_run(project, capsys):
    """A run kept aside by an earlier --overwrite that was killed (named like gankit's, even by this very
    process id) is neither reused nor deleted by the next --overwrite."""
    run = project / "runs" / "r"
    assert run_cli(capsys, "train", *TOY, "train.steps=2", "--name", "r")[0] == 0
    kept = project / "runs" / f".r.replaced-{os.getpid()}"
    (kept / "checkpoints").mkdir(parents=True)
    (kept / "config.yaml").write_text("name: r\n")
    (kept / "checkpoints" / "last.safetensors").write_bytes(b"an earlier run")
    before = tree(kept)
    assert run_cli(capsys, "train", *TOY, "train.steps=2", "train.seed=3", "--name", "r", "--overwrite")[0] == 0
    assert tree(kept) == before
    assert "seed: 3" in (run / "config.yaml").read_text()  # the run itself was replaced
    assert sorted(p.name for p in (project / "runs").iterdir()) == [kept.name, "precious", "r"]


def test_overwrite_through_a_symlink_replaces_the_link_not_its_target(project, capsys, tmp_path):
    target = tmp_path / "elsewhere" / "run"
    assert run_cli(capsys, "train", *TOY, "train.steps=2", "--run-dir", target)[0] == 0
    before = tree(target)
    link = project / "runs" / "linked"
    link.symlink_to(target, target_is_directory=True)
    assert run_cli(capsys, "train", *TOY, "train.steps=2", "train.seed=3", "--run-dir", link, "--overwrite")[0] == 0
    assert tree(target) == before  # the user's folder behind the link is untouched
    assert link.is_dir() and not link.is_symlink() and (link / "config.yaml").exists()
    assert sorted(p.name for p in (project / "runs").iterdir()) == ["linked", "precious"]


# ----------------------------------------------------------------------------- 2. kill-safe checkpoints

KILLER = r"""
import os, sys
import torch
torch.set_num_threads(int(sys.argv[1]))
from gankit import load_config
from gankit.train import Trainer

boundary, run_dir, overrides = int(sys.argv[2]), sys.argv[3], sys.argv[4:]
seen = {"armed": False, "n": 0}
real_replace = os.replace

def replace(src, dst):
    # boundary 2k: killed just before the (k+1)-th rename of the checkpoint; 2k+1: just after it
    if seen["armed"] and seen["n"] * 2 == boundary:
        os._exit(137)
    real_replace(src, dst)
    if seen["armed"]:
        seen["n"] += 1
        if seen["n"] * 2 - 1 == boundary:
            os._exit(137)

os.replace = replace
real_save = Trainer.save_checkpoint

def save(self):
    seen["armed"] = self.step == 2
    real_save(self)
    if seen["armed"]:
        os._exit(0)  # the checkpoint completed: more boundaries than it has

Trainer.save_checkpoint = save
Trainer(load_config("mnist-dcgan", overrides), run_dir, progress=False, tensorboard=False).fit()
"""


def test_a_kill_at_every_checkpoint_write_boundary_leaves_a_run_that_resumes_exactly(tmp_path, tiny_overrides):
    """Kill (os._exit, no clean-up) before and after each rename of the second checkpoint; every time the run
    resumes from step 1 or 2 and ends bit-identical to an uninterrupted run."""
    over = tiny_overrides + ["train.steps=4", "train.checkpoint_every=1", "train.ema_decay=0.9"]
    straight = train(load_config("mnist-dcgan", over), tmp_path / "straight", progress=False, tensorboard=False)
    want = read_weights(straight.path / "checkpoints")
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    resumed_from = []
    for boundary in range(7):
        run_dir = tmp_path / f"k{boundary}"
        r = subprocess.run([sys.executable, str(script), str(torch.get_num_threads()), str(boundary), str(run_dir),
                            *over], capture_output=True, text=True)
        assert r.returncode in (0, 137), r.stderr
        step = read_weights(run_dir / "checkpoints")[2]
        resumed_from.append(step)
        t = Trainer(load_config("mnist-dcgan", over), run_dir, resume=True, progress=False, tensorboard=False)
        got = read_weights(t.fit().path / "checkpoints")
        assert got[2] == 4 and tensors_equal(got[0], want[0]) and tensors_equal(got[1], want[1]), boundary
        leftovers = [p.name for p in (run_dir / "checkpoints").iterdir()]
        assert sorted(leftovers) == ["last.safetensors", "last.state.pt"], (boundary, leftovers)
    assert resumed_from == [1, 1, 1, 2, 2, 2, 2]


def test_resume_removes_temporaries_a_kill_left(tmp_path, tiny_overrides):
    cfg = load_config("mnist-dcgan", tiny_overrides)
    run = train(cfg, tmp_path / "r", progress=False, tensorboard=False)
    import tempfile

    stale = []  # named exactly as gankit.io.atomic_path names its temporary files
    for folder, name in ((run.path / "checkpoints", "last.safetensors"), (run.path, "metrics.jsonl"),
                         (run.path / "samples", "final.png")):
        fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        os.write(fd, b"half")
        os.close(fd)
        stale.append(Path(path))
    # files gankit did not write, and a folder reached through a link, are left alone
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".notes.abc12345.tmp").write_text("a user's")
    (run.path / "linked").symlink_to(outside, target_is_directory=True)
    users = [run.path / ".my.tmp", run.path / "samples" / ".draft.png.tmp", run.path / "notes.abcdefgh.tmp"]
    for p in users:
        p.write_text("a user's")
    Trainer(load_config("mnist-dcgan", tiny_overrides + ["train.steps=7"]), run.path, resume=True,
            progress=False, tensorboard=False).fit()
    assert not any(p.exists() for p in stale)
    assert all(p.read_text() == "a user's" for p in users + [outside / ".notes.abc12345.tmp"])


# ----------------------------------------------------------------------------- 3. non-finite guards


def test_a_checkpoint_whose_generator_overflows_is_never_kept(tmp_path, capsys):
    """The issue's case: SGD at lr 1e8 breaks G in the update of step 2; that state must not become the
    "last good checkpoint"."""
    run = tmp_path / "p1"
    code, _, err = run_cli(capsys, "train", *ISSUE_TOY, "--run-dir", run, "train.steps=50", "train.checkpoint_every=1",
                           "optim.g.type=sgd", "optim.g.lr=1e8")
    assert_one_line_error(code, err, "non-finite")
    nets, ema, step, _ = read_weights(run / "checkpoints")
    assert first_nonfinite(list(nets.items()) + list(ema.items())) is None
    code, _, err = run_cli(capsys, "sample", run, "--out", tmp_path / "s.png")
    assert code == 0, err


def _inf_gradient_once(trainer, at_step):
    """Make D's gradient infinite in the D update of ``at_step`` (a hook on one weight)."""
    p = next(trainer.recipe.nets["d"].parameters())

    def hook(grad):
        return grad * float("inf") if trainer.step + 1 == at_step else grad

    p.register_hook(hook)


def test_an_infinite_gradient_stops_training_or_is_skipped_on_request(tmp_path, tiny_overrides):
    over = tiny_overrides + ["train.log_every=1"]
    t = Trainer(load_config("mnist-dcgan", over), tmp_path / "stop", progress=False, tensorboard=False)
    _inf_gradient_once(t, 5)
    with pytest.raises(TrainingDiverged, match=r"gradient norm of optim.d became inf in the d update of step 5"):
        t.fit()
    assert read_weights(tmp_path / "stop" / "checkpoints")[2] == 3

    t = Trainer(load_config("mnist-dcgan", over + ["train.skip_nonfinite=true"]), tmp_path / "skip",
                progress=False, tensorboard=False)
    _inf_gradient_once(t, 5)
    t.fit()
    rows = [json.loads(line) for line in (tmp_path / "skip" / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("skipped/d") for r in rows if r["step"] >= 5] == [1, 1]
    assert all("skipped/d" not in r for r in rows if r["step"] < 5)
    nets, _, step, _ = read_weights(tmp_path / "skip" / "checkpoints")
    assert step == 6 and first_nonfinite(nets.items()) is None
    assert int(t.optimizers["d"].state_dict()["state"][0]["step"]) == 5  # 6 D updates, one skipped


def test_adam_at_a_huge_lr_stops_instead_of_training_on_infinities(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", *ISSUE_TOY, "--run-dir", tmp_path / "p2", "train.steps=200",
                           "optim.d.lr=1e6", "optim.g.lr=1e6")
    assert_one_line_error(code, err, "the gradient norm of optim.d became inf in the d update of step 2")
    assert not (tmp_path / "p2" / "checkpoints" / "last.safetensors").exists()  # it stopped before any save


def _forge(run: Path, change):
    """Rewrite the run's weights file with ``change(tensors, meta)`` applied."""
    path = run / "checkpoints" / "last.safetensors"
    tensors, meta = load_tensors(path)
    change(tensors, meta)
    save_tensors(path, tensors, meta)


def test_sample_eval_translate_refuse_non_finite_weights(tmp_path, capsys, tiny_overrides):
    run = train(load_config("mnist-dcgan", tiny_overrides), tmp_path / "r", progress=False).path

    def poison(tensors, meta):
        key = next(k for k in tensors if k.startswith("ema.") and tensors[k].is_floating_point())
        tensors[key][...] = float("inf")

    _forge(run, poison)
    for argv in (["sample", run, "--out", tmp_path / "x.png"], ["eval", run, "--n", "10", "--metrics", "fid"],
                 ["translate", run, "--input", tmp_path, "--out", tmp_path / "o"]):
        code, _, err = run_cli(capsys, *argv)
        assert_one_line_error(code, err, "non-finite weights")
    assert not (tmp_path / "x.png").exists()


# ----------------------------------------------------------------------------- 4. state that survives


def test_resume_overrides_are_written_to_config_yaml(tmp_path, capsys, tiny_overrides):
    run = tmp_path / "r"
    assert run_cli(capsys, "train", "--run-dir", run, "--no-progress", *tiny_overrides)[0] == 0
    assert run_cli(capsys, "train", "--resume", run, "--no-progress", "train.steps=8")[0] == 0
    assert "steps: 8" in (run / "config.yaml").read_text()
    code, out, err = run_cli(capsys, "train", "--resume", run, "--no-progress")
    assert code == 0 and "step 8" in out, err


def test_resume_refuses_an_override_that_changes_the_networks(tmp_path, capsys, tiny_overrides):
    run = tmp_path / "r"
    assert run_cli(capsys, "train", "--run-dir", run, "--no-progress", *tiny_overrides)[0] == 0
    before = (run / "config.yaml").read_text()
    code, _, err = run_cli(capsys, "train", "--resume", run, "--no-progress", "g.width=12", "train.steps=8")
    assert_one_line_error(code, err, "does not fit this config")
    assert (run / "config.yaml").read_text() == before


def test_a_run_in_use_is_refused(tmp_path, capsys, tiny_overrides):
    run = tmp_path / "r"
    assert run_cli(capsys, "train", "--run-dir", run, "--no-progress", *tiny_overrides)[0] == 0
    rows = (run / "metrics.jsonl").read_text()
    lock = RunLock(run).acquire()  # what a training process holds
    try:
        code, _, err = run_cli(capsys, "train", "--resume", run, "--no-progress", "train.steps=8")
        assert_one_line_error(code, err, f"is in use by process {os.getpid()}")
        code, _, err = run_cli(capsys, "train", "--run-dir", run, "--overwrite", "--no-progress", *tiny_overrides)
        assert_one_line_error(code, err, "is in use")
    finally:
        lock.release()
    assert (run / "metrics.jsonl").read_text() == rows
    assert run_cli(capsys, "train", "--resume", run, "--no-progress", "train.steps=8")[0] == 0


def test_sigterm_saves_a_checkpoint_like_ctrl_c(tmp_path):
    run = tmp_path / "r"
    cmd = [sys.executable, "-m", "gankit", "train", *TOY, "--run-dir", str(run), "train.steps=1000000",
           "train.log_every=1", "train.checkpoint_every=1000000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text().strip():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    step = read_weights(run / "checkpoints")[2]
    assert step >= 1 and f"stopped at step {step}" in err + out


def test_resuming_a_finished_run_adds_no_rows(tmp_path, capsys):
    run = tmp_path / "r"
    assert run_cli(capsys, "train", *TOY, "--run-dir", run, "train.steps=4", "train.log_every=2")[0] == 0
    before = (run / "metrics.jsonl").read_text()
    assert run_cli(capsys, "train", "--resume", run, "--no-progress")[0] == 0
    assert (run / "metrics.jsonl").read_text() == before


def test_metrics_rewrite_on_resume_is_atomic(tmp_path, capsys, monkeypatch, tiny_overrides):
    run = tmp_path / "r"
    assert run_cli(capsys, "train", "--config", "mnist-dcgan", "--run-dir", run, "--no-progress", *tiny_overrides)[0] == 0
    before = (run / "metrics.jsonl").read_text()
    real = Path.write_text

    def dies_half_way(self, text, *a, **k):  # a kill while the new file is being written
        real(self, text[: len(text) // 2], *a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        Trainer(load_config("mnist-dcgan", tiny_overrides + ["train.steps=8"]), run, resume=True,
                progress=False, tensorboard=False).fit()
    monkeypatch.undo()
    assert (run / "metrics.jsonl").read_text() == before


# ----------------------------------------------------------------------------- 4. studies


def test_study_checks_overrides_before_writing_anything(tmp_path, capsys):
    out = tmp_path / "s"
    code, _, err = run_cli(capsys, "study", "--objectives", "ns", "--out", out, "g.widht=8")
    assert_one_line_error(code, err, "did you mean 'g.width'?")
    assert not out.exists()


def test_corrupt_study_file_is_one_line(tmp_path, capsys):
    out = tmp_path / "s"
    out.mkdir()
    (out / "study.json").write_text("{not json")
    code, _, err = run_cli(capsys, "study", "--objectives", "ns", "--out", out)
    assert_one_line_error(code, err, "study.json is corrupt")
    code, _, err = run_cli(capsys, "study", "--report-only", "--out", out)
    assert_one_line_error(code, err, "study.json is corrupt")
    (out / "study.json").write_text('{"objectives": ["ns"], "colour": 1}')
    code, _, err = run_cli(capsys, "study", "--report-only", "--out", out)
    assert_one_line_error(code, err, "is not a gankit study file")


def test_a_retried_trial_keeps_its_setting_and_the_shared_sequence(tmp_path):
    """Objective A runs four settings without trouble; objective B's second trial dies (its worker stops
    sending heartbeats) and Optuna retries it under a new number. B must still train exactly A's settings."""
    import optuna
    from gankit.study.runner import TrialSeededRandomSampler, quiet_optuna
    from gankit.study.space import suggest

    quiet_optuna()
    storage = optuna.storages.InMemoryStorage()

    def objective(trial):
        return float(len(suggest(trial, "wide", "ns")))

    a = optuna.create_study(storage=storage, study_name="a", sampler=TrialSeededRandomSampler(0))
    a.optimize(objective, n_trials=4)
    b = optuna.create_study(storage=storage, study_name="b", sampler=TrialSeededRandomSampler(0))
    b.optimize(objective, n_trials=1)
    dying = b.ask()
    suggest(dying, "wide", "ns")
    b.tell(dying, state=optuna.trial.TrialState.FAIL)
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or optuna.storages.RetryFailedTrialCallback
    retry()(b, b.trials[-1])
    b.optimize(objective, n_trials=3)
    done = lambda s: sorted(tuple(sorted(t.params.items())) for t in s.trials if t.state.name == "COMPLETE")  # noqa: E731
    assert done(a) == done(b)
    assert len(b.trials) == 5 and b.trials[2].system_attrs["failed_trial"] == 1


# ----------------------------------------------------------------------------- 5. one-line errors


@pytest.mark.parametrize("override,fragment", [
    ("optim.g.lr=nan", "optim.g.lr = nan must be a finite number"),
    ("train.ema_decay=nan", "train.ema_decay = nan must be a finite number"),
    ("optim.g.lr=inf", "must be a finite number"),
    ("optim.g.lr=1e300", "must be a finite number of magnitude at most"),
    ("optim.d.betas=nan,0.9", "must be a finite number"),
    ("train.seed=99999999999999999999999", "train.seed = 99999999999999999999999"),
    ("train.n_critic=1000000000000", "train.n_critic = 1000000000000 must be <= 1000"),
    ("data.image_size=100000", "data.image_size = 100000 must be <= 2048"),
])
def test_non_finite_and_huge_settings_are_refused(capsys, tmp_path, monkeypatch, override, fragment):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "train", *TOY, "train.steps=2", override)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "runs").exists()


def test_yaml_nan_and_inf_are_refused(capsys, tmp_path):
    (tmp_path / "c.yaml").write_text("optim: {g: {lr: .nan}}\n")
    assert_one_line_error(*run_cli(capsys, "train", "--config", tmp_path / "c.yaml", "--dry-run")[::2],
                          "optim.g.lr = nan")
    (tmp_path / "c.yaml").write_text("tricks: {instance_noise: .inf}\n")
    assert_one_line_error(*run_cli(capsys, "train", "--config", tmp_path / "c.yaml", "--dry-run")[::2],
                          "tricks.instance_noise = inf")


@pytest.mark.parametrize("override", ["train.batch_size=1000000000", "g.width=1000000", "latent.dim=1000000000",
                                      "train.n_samples=1000000000"])
def test_sizes_that_cannot_fit_are_refused_before_allocating(capsys, tmp_path, monkeypatch, override):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "train", "--no-progress", "data.name=digits", "data.image_size=16", override)
    assert_one_line_error(code, err, "of memory but")
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("toy") / "r"
    assert main(["train", *TOY, "--run-dir", str(run), "train.steps=2"]) == 0
    return run


@pytest.mark.parametrize("argv,fragment", [
    (["sample", "{run}", "--n", "1000000000"], "of memory but"),
    (["sample", "{run}", "--seed", "1180591620717411303424"], "must be between 0 and"),
    (["sample", "{run}", "--n", "0"], "must be between 1 and"),
    (["sample", "{run}", "--out", "{tmp}"], "is a folder"),
    (["sample", "{run}", "--out", "{tmp}/afile/x.png"], "is not a writable folder"),
    (["eval", "{run}", "--resize", "0"], "argument --resize: must be between 32 and 1024"),
    (["classifier", "train", "digits", "--epochs", "0"], "argument --epochs: must be between 1"),
    (["lab", "optimal-d", "--steps", "0", "--out", "{tmp}/lab"], "--steps must be at least 1"),
    (["train", "--config", ""], "--config is empty"),
    (["train", "--config", "{tmp}"], "is a folder"),
    (["train", *TOY, "optim.G.lr=1e-3"], "optim.G is not an optimiser of recipe 'unconditional' (did you mean"),
    (["train", *TOY, "optim.dd.type=sgd"], "optim.dd is not an optimiser"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_command_lines_are_one_line(capsys, tmp_path, monkeypatch, toy_run, argv, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    argv = [a.format(run=toy_run, tmp=tmp_path) for a in argv]
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "lab").exists()


def test_options_may_follow_overrides(capsys):
    code, out, err = run_cli(capsys, "train", "--config", "ring-ns", "train.steps=2", "--dry-run",
                             "train.plot_samples=false")
    assert code == 0, err
    assert "steps: 2" in out and "plot_samples: false" in out


def test_yaml_that_is_not_utf8_is_one_line(capsys, tmp_path):
    (tmp_path / "c.yaml").write_bytes(b"name: caf\xe9\n")
    code, _, err = run_cli(capsys, "train", "--config", tmp_path / "c.yaml", "--dry-run")
    assert_one_line_error(code, err, "is not UTF-8")


def _header_file(path: Path, header: dict, data: bytes = b"", claim: int | None = None):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if claim is None else claim) + raw + data)


@pytest.mark.parametrize("forge", [
    lambda p: _header_file(p, {}, claim=2**62),
    lambda p: _header_file(p, {"nets.g.w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 4000]}}, b"\0" * 16),
    lambda p: _header_file(p, {"nets.g.w": {"dtype": "Q99", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16),
    lambda p: _header_file(p, {"nets.g.w": {"dtype": "F32", "shape": [5], "data_offsets": [0, 16]}}, b"\0" * 16),
    lambda p: p.write_bytes(b"\x01\x02"),
    lambda p: p.write_bytes(b"x" * 100),
    lambda p: _forge(p.parent.parent, lambda t, m: m.update(step="many")),
    lambda p: _forge(p.parent.parent, lambda t, m: m.update(data_info="{junk")),
    lambda p: _forge(p.parent.parent, lambda t, m: m.update(data_info=json.dumps(
        {"kind": "image", "shape": [3, 100000, 100000]}))),
    lambda p: _forge(p.parent.parent, lambda t, m: t.pop(next(iter(t)))),
    lambda p: _forge(p.parent.parent, lambda t, m: t.update({"nets.g.extra": torch.zeros(2)})),
    lambda p: _forge(p.parent.parent, lambda t, m: t.update({"zzz": torch.zeros(2)})),
], ids=["huge-header", "bad-offsets", "bad-dtype", "wrong-size", "tiny", "junk", "junk-step", "junk-info",
        "forged-shape", "missing-key", "extra-key", "foreign-key"])
def test_forged_or_corrupt_weights_are_one_line(tmp_path, capsys, tiny_overrides, forge):
    run = train(load_config("mnist-dcgan", tiny_overrides), tmp_path / "r", progress=False).path
    forge(run / "checkpoints" / "last.safetensors")
    for argv in (["sample", run, "--out", tmp_path / "x.png"], ["train", "--resume", run, "--no-progress"]):
        code, _, err = run_cli(capsys, *argv)
        assert_one_line_error(code, err)
        assert "corrupt or not a gankit checkpoint" in err or "does not match" in err or "does not fit" in err


def test_a_pickle_payload_in_the_state_file_never_runs(tmp_path, capsys, tiny_overrides):
    import pickle

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    run = train(load_config("mnist-dcgan", tiny_overrides), tmp_path / "r", progress=False).path
    (run / "checkpoints" / "last.state.pt").write_bytes(pickle.dumps({"step": 6, "x": Payload()}))
    code, _, err = run_cli(capsys, "train", "--resume", run, "--no-progress", "train.steps=8")
    assert_one_line_error(code, err, "last.state.pt is corrupt or not a gankit checkpoint")
    assert not marker.exists()


def test_write_failures_are_one_line_and_keep_the_last_checkpoint(tmp_path, capsys, monkeypatch, tiny_overrides):
    """A read-only folder and a full disk (simulated: tests run as root, where chmod does not stop writes)."""
    import errno

    import gankit.io

    run = tmp_path / "r"
    assert run_cli(capsys, "train", "--run-dir", run, "--no-progress", *tiny_overrides)[0] == 0
    good = tree(run / "checkpoints")
    real = gankit.io.save_tensors

    def full_disk(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    checkpoint = sys.modules["gankit.train.checkpoint"]  # gankit.train is also the name of a function
    monkeypatch.setattr(gankit.io, "save_tensors", full_disk)
    monkeypatch.setattr(checkpoint, "save_tensors", full_disk)
    code, _, err = run_cli(capsys, "train", "--resume", run, "--no-progress", "train.steps=9")
    assert_one_line_error(code, err, "No space left on device")
    assert "free some disk space" in err
    monkeypatch.setattr(checkpoint, "save_tensors", real)
    assert tree(run / "checkpoints") == good

    def read_only(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(run / "sample_seed0.png"))

    monkeypatch.setattr("gankit.viz.grid.save_grid", read_only)
    monkeypatch.setattr("gankit.cli.save_grid", read_only, raising=False)
    code, _, err = run_cli(capsys, "sample", run)
    assert_one_line_error(code, err, "Permission denied")


def _png_claiming(path: Path, w: int, h: int):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                     + chunk(b"IEND", b""))


def test_decompression_bombs_are_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "imgs" / "ok.png")
    _png_claiming(tmp_path / "imgs" / "bomb.png", 20000, 20000)
    code, _, err = run_cli(capsys, "train", "data.name=folder", f"data.root={tmp_path / 'imgs'}", "--no-progress")
    assert_one_line_error(code, err, "bomb.png")


# ----------------------------------------------------------------------------- 6. silently wrong data


def test_16_bit_pngs_are_scaled_not_clipped(tmp_path):
    from gankit.data.images import load_image

    ramp = np.linspace(0, 65535, 16 * 16).astype(np.uint16).reshape(16, 16)
    Image.fromarray(ramp).save(tmp_path / "r16.png")
    assert Image.open(tmp_path / "r16.png").mode.startswith("I")
    got = load_image(tmp_path / "r16.png", 1, 16)[0]
    np.testing.assert_array_equal(got, np.round(ramp / 257.0).astype(np.uint8))


def test_translate_writes_one_output_per_input_even_when_names_collide(tmp_path, capsys):
    from gankit.translate import output_stems

    files = [Path("a.png"), Path("a.jpg"), Path("sheet.png"), Path("b.png")]
    assert output_stems(files) == ["a_png", "a_jpg", "sheet_png", "b"]
    run = train(load_config(None, ["recipe=pix2pix", "data.name=edges2fashion", "data.limit=16", "g.name=unet",
                                   "d.name=patchgan", "g.width=4", "d.width=4", "train.steps=1",
                                   "train.batch_size=4", "train.n_samples=4"]),
                tmp_path / "p2p", progress=False, tensorboard=False)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.png", "a.jpg", "sheet.png"):
        Image.new("L", (32, 32), 128).save(inputs / name)
    code, out, err = run_cli(capsys, "translate", run.path, "--input", inputs, "--out", tmp_path / "out")
    assert code == 0, err
    assert "wrote 3 translated images" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_jpg.png", "a_png.png", "sheet.png",
                                                                    "sheet_png.png"]
