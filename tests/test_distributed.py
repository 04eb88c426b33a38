"""Multi-process training on torchrun (gloo, 2 CPU processes): the same update as one process on the global
batch, exact resume after kill -9, only rank 0 writes, and a failing rank stops the other."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gankit.config import load_config
from gankit.train import checkpoint as ckpt
from gankit.train.distributed import RANK_SEED_OFFSET, ShardedStream, local_batch
from gankit.errors import ConfigError

WORKER = Path(__file__).parent / "fixtures" / "dist_worker.py"
#: a batch-norm-free DCGAN (batch-norm statistics are per rank on the CPU), small and quick
SMALL = ["g.batch_norm=false", "d.batch_norm=false", "g.width=8", "d.width=8", "latent.dim=16",
         "train.batch_size=16", "train.ema_decay=0", "train.quality_n=0", "train.log_every=5",
         "train.sample_every=1000"]


def torchrun(args: list, run_dir: Path, env: dict | None = None, wait: bool = True, nproc: int = 2):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           str(WORKER), "train", *args]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    if not wait:
        return subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                cwd=run_dir.parent, start_new_session=True)
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, cwd=run_dir.parent, timeout=300)


def weights(run_dir: Path) -> dict:
    nets, _, step, _ = ckpt.read_weights(run_dir / "checkpoints")
    return step, dict(nets)


# -- without processes --------------------------------------------------------------------------
def test_a_batch_that_does_not_split_is_refused_in_one_line():
    assert local_batch(64, 2) == 32
    with pytest.raises(ConfigError, match=r"train.batch_size = 63 does not split evenly over 2 processes.*62 or 64"):
        local_batch(63, 2)


def test_the_shards_of_the_ranks_are_the_global_batch_and_resume_alike():
    from gankit.data import build_dataset

    cfg = load_config("mnist-dcgan", [])
    data = build_dataset(cfg.data)
    one = data.stream(16, 3)
    ranks = [ShardedStream(data.stream(16, 3), r, 2) for r in range(2)]
    for _ in range(400):  # past an epoch boundary (5,000 / 16)
        x, y = one.next()
        parts = [s.next() for s in ranks]
        assert torch.equal(torch.cat([p[0] for p in parts]), x) and torch.equal(torch.cat([p[1] for p in parts]), y)
    state = ranks[1].state_dict()
    a = ranks[1].next()[0]
    ranks[1].load_state_dict(state)
    assert torch.equal(ranks[1].next()[0], a)
    with pytest.raises(ConfigError, match="the batch size of this step = 15 does not split evenly"):
        ranks[0].next(batch_size=15)


# -- torchrun, 2 processes ----------------------------------------------------------------------
def test_two_processes_take_the_one_process_step_on_the_global_batch(tmp_path):
    """After 20 steps the 2-process run's weights equal those of one process on the same global batches and
    latents (rank 0's latents from the run's RNG stream, rank 1's from its own seed) within 1e-5."""
    from gankit.train.trainer import Trainer

    steps, seed = 20, 7
    overrides = SMALL + [f"train.steps={steps}", f"train.seed={seed}", f"train.checkpoint_every={steps}"]
    for attempt in range(2):
        # KNOWN BUG (session 14 note): about 1 launch in 4 on 2 cores, a rank aborts at exit with "terminate called
        # without an active exception" (a gloo thread still running at teardown). Retried once, on that signature
        # only, until shutdown is fixed.
        two, spy = tmp_path / f"two{attempt}", tmp_path / f"spy{attempt}"
        spy.mkdir()
        done = torchrun(["--config", "mnist-dcgan", "--run-dir", str(two), "--no-progress", *overrides], two,
                        env={"SPY_ROOT": str(two), "SPY_DIR": str(spy)})
        if done.returncode == 0 or "terminate called without an active exception" not in done.stdout + done.stderr:
            break
    assert done.returncode == 0, done.stdout + done.stderr

    cfg = load_config("mnist-dcgan", overrides)
    trainer = Trainer(cfg, tmp_path / "one", progress=False, tensorboard=False)
    rank1 = torch.Generator().manual_seed(seed + RANK_SEED_OFFSET)
    draw = trainer.recipe.latent

    def both_ranks(n, generator=None, device=None):
        if generator is not None:
            return draw(n, generator, device)
        return torch.cat([draw(n // 2), draw(n // 2, rank1)])

    trainer.recipe.latent = both_ranks
    trainer.fit()
    step, got = weights(two)
    _, want = weights(tmp_path / "one")
    assert step == steps and got.keys() == want.keys()
    worst = max(float((got[k] - want[k]).abs().max()) for k in want)
    assert worst < 1e-5, worst
    # only rank 0 touched the run directory
    changes = {r: json.loads((spy / f"rank{r}.json").read_text()) for r in (0, 1)}
    assert changes[1] == [] and any(p.endswith("last.safetensors") or "checkpoints" in p for _, p in changes[0])
    log = [json.loads(line) for line in (two / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [5, 10, 15, 20]


@pytest.mark.slow  # 25 s: three torchrun launches
def test_a_run_killed_with_sigkill_resumes_bit_for_bit_and_a_dead_rank_stops_the_other(tmp_path):
    """Rank 1 kills itself (SIGKILL) at step 25; torchrun stops rank 0 within seconds; the checkpoint of step 20 is
    intact, and the resumed run ends with exactly the weights of an uninterrupted 2-process run."""
    overrides = SMALL + ["train.steps=40", "train.checkpoint_every=10", "train.seed=3"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = torchrun(["--config", "mnist-dcgan", "--run-dir", str(straight), "--no-progress", *overrides], straight)
    assert done.returncode == 0, done.stdout + done.stderr

    t0 = time.monotonic()
    dead = torchrun(["--config", "mnist-dcgan", "--run-dir", str(killed), "--no-progress", *overrides], killed,
                    env={"FAIL_RANK": "1", "FAIL_STEP": "25", "FAIL_HOW": "kill"})
    took = time.monotonic() - t0
    assert dead.returncode != 0 and took < 120, (took, dead.stdout[-2000:])
    assert "rank      : 1" in dead.stdout + dead.stderr  # torchrun's summary names the dead rank
    assert weights(killed)[0] == 20

    resumed = torchrun(["--resume", str(killed), "--no-progress"], killed)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    (s1, a), (s2, b) = weights(straight), weights(killed)
    assert s1 == s2 == 40 and all(torch.equal(a[k], b[k]) for k in a)

    one = subprocess.run([sys.executable, "-m", "gankit", "train", "--resume", str(killed), "train.steps=50"],
                         capture_output=True, text=True)
    assert one.returncode == 2 and one.stderr.count("\n") == 1, one.stderr
    assert "trained by 2 process(es)" in one.stderr and "--nproc-per-node 2" in one.stderr


@pytest.mark.parametrize("how", ["nan", pytest.param("raise", marks=pytest.mark.slow)])
def test_a_failing_rank_stops_every_rank(tmp_path, how):
    """A NaN loss in rank 1 stops both ranks with a one-line error naming rank 1; an exception in rank 1
    makes torchrun stop rank 0. Either way within seconds, and the last checkpoint is kept."""
    run = tmp_path / "run"
    overrides = SMALL + ["train.steps=400", "train.checkpoint_every=5"]
    t0 = time.monotonic()
    done = torchrun(["--config", "mnist-dcgan", "--run-dir", str(run), "--no-progress", *overrides], run,
                    env={"FAIL_RANK": "1", "FAIL_STEP": "7", "FAIL_HOW": how})
    took = time.monotonic() - t0
    out = done.stdout + done.stderr
    assert done.returncode != 0 and took < 120, (took, out[-2000:])
    if how == "nan":
        errors = [line for line in out.splitlines() if line.startswith("gankit: error:")]
        assert errors, out[-3000:]  # every rank raises; torchrun may stop rank 0 before it prints its line
        assert all("d loss of rank 1 became nan at step 8" in line for line in errors), errors
    else:
        assert "injected failure in rank 1" in out
    assert weights(run)[0] == 5


def test_an_uneven_batch_is_refused_on_every_rank_before_anything_is_written(tmp_path):
    run = tmp_path / "run"
    done = torchrun(["--config", "mnist-dcgan", "--run-dir", str(run), *SMALL, "train.batch_size=15"], run)
    errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("gankit: error:")]
    assert len(errors) == 2 and all("train.batch_size = 15 does not split evenly over 2 processes" in e
                                    for e in errors), done.stdout + done.stderr
    assert not run.exists()


@pytest.mark.slow  # 7 s; the refusal path is in the default suite through the uneven batch
def test_rank_0s_run_directory_errors_reach_every_rank(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    done = torchrun(["--config", "mnist-dcgan", "--run-dir", str(run), *SMALL, "train.steps=5"], run)
    errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("gankit: error:")]
    assert len(errors) == 2 and all("rank" in e and "exists" in e for e in errors), done.stdout + done.stderr
    assert (run / "keep.txt").read_text() == "mine"


@pytest.mark.slow  # 8 s
def test_ctrl_c_stops_every_rank_after_the_same_step_with_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    proc = torchrun(["--config", "mnist-dcgan", "--run-dir", str(run), "--no-progress", *SMALL, "train.steps=100000",
                     "train.checkpoint_every=100000"], run, wait=False)
    deadline = time.monotonic() + 120
    log = run / "metrics.jsonl"
    while not (log.exists() and log.read_text().count("\n") >= 2) and time.monotonic() < deadline:  # both training
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to torchrun and its workers
    out = proc.communicate(timeout=120)[0].decode()
    step = weights(run)[0]
    assert 0 < step < 100000, out[-2000:]
    assert f"stopped at step {step}; resume with: torchrun --nproc-per-node 2 -m gankit train --resume" in out


@pytest.mark.slow  # 11 s
def test_periodic_evaluation_scores_the_samples_of_every_rank_as_one_process_would(tmp_path):
    """Each rank draws and embeds its chunks of the evaluation samples; rank 0 joins the features in order, so the
    scores equal `gankit eval` of the same checkpoint in one process."""
    from gankit.metrics.evaluate import fake_images, fake_share, join_shares
    from gankit.run import Run

    run = tmp_path / "run"
    overrides = SMALL + ["train.steps=10", "train.checkpoint_every=10", "train.seed=5", "train.eval_every=10",
                         "train.eval_metrics=fid,kid", "train.eval_n=1200", "train.eval_backbone=classifier:mnist5k"]
    done = torchrun(["--config", "mnist-dcgan", "--run-dir", str(run), "--no-progress", *overrides], run)
    assert done.returncode == 0, done.stdout + done.stderr
    shared = json.loads(next((run / "eval").glob("step_0000010_*.json")).read_text())["scores"]

    from gankit.metrics.evaluate import evaluate_run

    alone = evaluate_run(Run(run), ("fid", "kid"), n=1200, backbone="classifier:mnist5k", seed=5)["scores"]
    assert shared.keys() == alone.keys()
    assert {"fid_classifier_mnist5k", "kid_classifier_mnist5k", "classes"} <= alone.keys()
    for k, v in alone.items():
        if isinstance(v, float):
            assert abs(shared[k] - v) <= 1e-4 * max(1.0, abs(v)), (k, shared[k], v)
        else:
            assert shared[k] == v, k
    # the ranks' chunks (0 and 1000 on rank 0, 500 on rank 1) are exactly the one-process samples
    images, (features, _) = join_shares([fake_share(Run(run), 1200, 5, "classifier:mnist5k", r, 2) for r in (0, 1)])
    assert torch.equal(images, fake_images(Run(run), 1200, 5)) and features.shape[0] == 1200


def test_a_stateful_objective_stays_equal_on_every_rank(tmp_path):
    """BEGAN's k_t follows each D step's losses; the ranks see different shards, so only the objective's sync hook
    (the trainer averages its statistics across ranks) keeps their k_t equal."""
    run, dump = tmp_path / "run", tmp_path / "dump"
    dump.mkdir()
    done = torchrun(["--config", "mnist-dcgan", "--run-dir", str(run), "--no-progress", *SMALL, "objective.name=began",
                     "train.steps=15"], run, env={"DUMP_OBJECTIVE": str(dump)})
    assert done.returncode == 0, done.stdout + done.stderr
    states = [torch.load(dump / f"objective{r}.pt", weights_only=True) for r in (0, 1)]
    assert states[0].keys() == states[1].keys() and states[0]
    for key in states[0]:
        assert torch.equal(torch.as_tensor(states[0][key]), torch.as_tensor(states[1][key])), key
    assert float(torch.as_tensor(states[0]["k"])) != 0.0


@pytest.mark.parametrize("env, message", [
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not a process number"),
    ({"WORLD_SIZE": "0"}, "WORLD_SIZE=0 must be at least 1"),
    ({"WORLD_SIZE": "2"}, "RANK=None is not a process number"),
    ({"WORLD_SIZE": "2", "RANK": "5"}, "RANK=5 is outside 0..1"),
    ({"WORLD_SIZE": "2", "RANK": "0", "GANKIT_DIST_TIMEOUT": "soon"}, "GANKIT_DIST_TIMEOUT='soon' must be a positive"),
    ({"WORLD_SIZE": "2", "RANK": "0", "GANKIT_DIST_TIMEOUT": "-3"}, "GANKIT_DIST_TIMEOUT='-3' must be a positive"),
])
def test_a_broken_launch_environment_is_one_line_before_any_process_group(monkeypatch, tmp_path, capsys, env, message):
    from gankit.cli import main
    from gankit.train import distributed

    monkeypatch.setattr(distributed, "_GROUP", None)
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "GANKIT_DIST_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["train", "--run-dir", str(tmp_path / "r"), *SMALL, "train.steps=2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "r").exists() and not torch.distributed.is_initialized()
    monkeypatch.setattr(distributed, "_GROUP", None)
