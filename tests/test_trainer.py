"""The trainer on real (short) runs: determinism, exact resume, quality on a toy, failure paths."""
import json

import pytest
import torch

from gankit import load_config, load_run, train
from gankit.errors import ConfigError, RunDirError, TrainingDiverged
from gankit.train import Trainer
from gankit.train.checkpoint import read_weights


def weights(run_dir):
    nets, ema, step, _ = read_weights(run_dir / "checkpoints")
    return nets, ema, step


def test_run_directory_layout(tmp_path, tiny_overrides):
    run = train(load_config("mnist-dcgan", tiny_overrides), tmp_path / "r", progress=False)
    d = run.path
    for f in ("config.yaml", "metrics.jsonl", "losses.png", "samples/final.png", "samples/step_0000003.png",
              "checkpoints/last.safetensors", "checkpoints/last.state.pt"):
        assert (d / f).exists(), f
    assert list((d / "tb").glob("events.out.tfevents.*"))
    rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "grad_norm/d", "grad_norm/g", "lr/g", "lr/d"):
        assert key in rows[-1], key
    assert 0 < rows[-1]["d_real"] < 1 and 0 < rows[-1]["d_fake"] < 1  # probabilities for the ns objective
    assert run.step == 6


def test_same_seed_same_weights(tmp_path, tiny_overrides):
    a = weights(train(load_config("mnist-dcgan", tiny_overrides), tmp_path / "a", progress=False).path)
    b = weights(train(load_config("mnist-dcgan", tiny_overrides), tmp_path / "b", progress=False).path)
    c = weights(train(load_config("mnist-dcgan", tiny_overrides + ["train.seed=1"]), tmp_path / "c",
                      progress=False).path)
    assert all(torch.equal(a[0][k], b[0][k]) for k in a[0])
    assert any(not torch.equal(a[0][k], c[0][k]) for k in a[0] if a[0][k].is_floating_point())


@pytest.mark.parametrize("extra", [
    [],
    ["objective.name=wgan-gp", "d.batch_norm=false", "train.n_critic=2", "train.ema_decay=0.9",
     "tricks.instance_noise=0.1", "optim.g.schedule=linear", "optim.d.schedule=cosine", "g.dropout=0.2"],
    ["objective.name=wgan", "train.n_critic=3", "optim.d.type=rmsprop", "d.spectral_norm=true"],
    ["train.ema_decay=0.9", "train.ema_start=3", "train.ema_standing_stats=2", "g.dropout=0.2"],
])
def test_resume_is_bit_identical(tmp_path, tiny_overrides, extra):
    """Stop after step 4 (as Ctrl-C does), resume to 6: every weight and EMA equals an uninterrupted run's."""
    full = tiny_overrides + extra
    straight = train(load_config("mnist-dcgan", full), tmp_path / "straight", progress=False)

    class StopsAfterFour(Trainer):
        def train_step(self):
            logs = super().train_step()
            if self.step == 4:
                self.request_stop()
            return logs

    stopped = StopsAfterFour(load_config("mnist-dcgan", full), tmp_path / "resumed", progress=False)
    stopped.fit()
    assert stopped.interrupted and weights(tmp_path / "resumed")[2] == 4
    assert not (tmp_path / "resumed" / "samples" / "final.png").exists()
    resumed = Trainer(load_config("mnist-dcgan", full), tmp_path / "resumed", resume=True, progress=False).fit()
    a, b = weights(straight.path), weights(resumed.path)
    assert a[2] == b[2] == 6
    assert a[0].keys() == b[0].keys() and a[1].keys() == b[1].keys()
    assert all(torch.equal(a[0][k], b[0][k]) for k in a[0])
    assert all(torch.equal(a[1][k], b[1][k]) for k in a[1])
    steps = [r["step"] for r in resumed.metrics()]
    assert steps == sorted(set(steps)) and steps[-1] == 6


def test_n_critic_updates_d_that_many_times(tmp_path, tiny_overrides):
    cfg = load_config("mnist-dcgan", tiny_overrides + ["train.n_critic=4", "train.steps=2"])
    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    t.train_step()
    states = {k: o.state_dict()["state"] for k, o in t.optimizers.items()}
    assert int(states["d"][0]["step"]) == 4 and int(states["g"][0]["step"]) == 1


def test_adam_for_g_sgd_for_d(tmp_path, tiny_overrides):
    """The slides' trick: Adam for G, SGD for D, each with its own lr."""
    cfg = load_config("mnist-dcgan", tiny_overrides + ["optim.d.type=sgd", "optim.d.lr=0.01",
                                                        "optim.d.momentum=0.9"])
    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    assert isinstance(t.optimizers["g"], torch.optim.Adam) and isinstance(t.optimizers["d"], torch.optim.SGD)
    assert t.optimizers["d"].param_groups[0]["lr"] == 0.01 and t.optimizers["d"].param_groups[0]["momentum"] == 0.9
    t.fit()


def test_g_step_leaves_d_untouched_and_d_step_leaves_g(tmp_path, tiny_overrides):
    cfg = load_config("mnist-dcgan", tiny_overrides)
    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    d0 = {k: v.clone() for k, v in t.recipe.nets["d"].state_dict().items()}
    g0 = {k: v.clone() for k, v in t.recipe.nets["g"].state_dict().items()}
    d_phase, g_phase = t.recipe.phases()
    t._update(d_phase, t.stream.next(), {})
    assert all(torch.equal(g0[k], v) for k, v in t.recipe.nets["g"].state_dict().items() if "running" not in k
               and "num_batches" not in k)
    d1 = {k: v.clone() for k, v in t.recipe.nets["d"].state_dict().items()}
    assert any(not torch.equal(d0[k], d1[k]) for k in d0)
    t._update(g_phase, None, {})
    assert all(torch.equal(d1[k], v) for k, v in t.recipe.nets["d"].state_dict().items() if "running" not in k
               and "num_batches" not in k)


def test_shared_fake_gives_the_same_g_gradient_as_a_fresh_pass(tmp_path, tiny_overrides):
    """With n_critic = 1 the G step reuses the D step's G(z); the gradient must equal a fresh forward."""
    cfg = load_config("mnist-dcgan", tiny_overrides + ["g.batch_norm=false"])
    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    d_phase, g_phase = t.recipe.phases()
    torch.manual_seed(5)
    t._update(d_phase, t.stream.next(), {})
    pending = t.recipe._pending_fake
    assert pending is not None and pending.requires_grad
    loss, _ = t.recipe.loss("g", None)
    grads_shared = torch.autograd.grad(loss, list(t.recipe.nets["g"].parameters()))
    # recompute from scratch with the same z
    torch.manual_seed(5)
    z = t.recipe.latent(16)
    fresh = t.recipe.nets["g"](z)
    loss2 = t.objective.g_loss(t.recipe.nets["d"](fresh))
    grads_fresh = torch.autograd.grad(loss2, list(t.recipe.nets["g"].parameters()))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads_shared, grads_fresh))


def test_ema_tracks_generator(tmp_path, tiny_overrides):
    cfg = load_config("mnist-dcgan", tiny_overrides + ["train.ema_decay=0.5", "train.steps=1"])
    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    before = [p.clone() for p in t.ema["g"].parameters()]
    t.train_step()
    for e0, e1, p in zip(before, t.ema["g"].parameters(), t.recipe.nets["g"].parameters()):
        assert torch.allclose(e1, 0.5 * e0 + 0.5 * p)


def test_ema_start_keeps_the_copy_equal_to_g_until_then(tmp_path, tiny_overrides):
    cfg = load_config("mnist-dcgan", tiny_overrides + ["train.ema_decay=0.5", "train.ema_start=2"])
    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    for _ in range(2):
        t.train_step()
        assert all(torch.equal(e, p) for e, p in zip(t.ema["g"].parameters(), t.recipe.nets["g"].parameters()))
    before = [p.clone() for p in t.ema["g"].parameters()]
    t.train_step()
    for e0, e1, p in zip(before, t.ema["g"].parameters(), t.recipe.nets["g"].parameters()):
        assert torch.allclose(e1, 0.5 * e0 + 0.5 * p)


def test_standing_stats_re_estimate_the_ema_batch_norm_and_leave_training_alone(tmp_path, tiny_overrides):
    """The EMA G's batch-norm statistics are the plain mean over train.ema_standing_stats batches of its own
    latents (seed + 2,000,003 + step), not G's running statistics; training itself is unchanged."""
    from gankit.train.trainer import STANDING_STATS_SEED_OFFSET

    on = load_config("mnist-dcgan", tiny_overrides + ["train.ema_decay=0.9", "train.ema_standing_stats=3"])
    off = load_config("mnist-dcgan", tiny_overrides + ["train.ema_decay=0.9"])
    t = Trainer(on, tmp_path / "on", progress=False, tensorboard=False)
    t.fit()
    plain = weights(train(off, tmp_path / "off", progress=False).path)
    nets, ema, _ = weights(tmp_path / "on")
    assert all(torch.equal(nets[k], plain[0][k]) for k in nets)  # the global RNG did not move
    assert all(torch.equal(ema[k], plain[1][k]) for k in ema if "running" not in k and "num_batches" not in k)

    expected = Trainer(off, tmp_path / "by_hand", progress=False, tensorboard=False).recipe
    expected.nets["g"].load_state_dict(t.ema["g"].state_dict())
    g = expected.nets["g"]
    norms = [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    sums = [torch.zeros_like(m.running_mean) for m in norms]

    def accumulate(k):
        def hook(module, inputs, output):
            sums[k].add_(inputs[0].mean((0, 2, 3)) / 3)
        return hook

    hooks = [m.register_forward_hook(accumulate(k)) for k, m in enumerate(norms)]
    gen = torch.Generator().manual_seed(on.train.seed + STANDING_STATS_SEED_OFFSET + on.train.steps)
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(expected.latent(on.train.batch_size, gen))
    for h in hooks:
        h.remove()
    keys = sorted(k for k in ema if k.endswith("running_mean"))
    assert len(keys) == len(norms) >= 2
    for k, mean in zip(keys, sums):
        assert torch.allclose(ema[k], mean, atol=1e-6), k
        assert not torch.allclose(ema[k], nets[k], atol=1e-4), k  # G's own statistics were replaced


def test_standing_stats_are_refused_for_translation(tmp_path):
    cfg = load_config("colordigits-stargan", ["train.ema_decay=0.9", "train.ema_standing_stats=2"])
    with pytest.raises(ConfigError, match="ema_standing_stats=0"):
        Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    assert not (tmp_path / "r").exists()


def test_instance_noise_anneals_to_zero(tmp_path, tiny_overrides):
    cfg = load_config("mnist-dcgan", tiny_overrides + ["tricks.instance_noise=0.4", "train.steps=10"])
    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    stds = []
    for s in (0, 5, 10):
        t.recipe.set_step(s)
        stds.append(t.recipe.instance_noise_std())
    assert stds == pytest.approx([0.4, 0.2, 0.0])


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, tiny_overrides):
    cfg = load_config("mnist-dcgan", tiny_overrides)
    train(cfg, tmp_path / "r", progress=False)
    good = (tmp_path / "r" / "checkpoints" / "last.safetensors").read_bytes()
    cfg = load_config("mnist-dcgan", tiny_overrides + ["train.steps=12"])
    t = Trainer(cfg, tmp_path / "r", resume=True, progress=False)
    with torch.no_grad():
        for p in t.recipe.nets["d"].parameters():
            p.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"d loss became nan at step 7"):
        t.fit()
    assert (tmp_path / "r" / "checkpoints" / "last.safetensors").read_bytes() == good


def test_existing_run_dir_is_refused(tmp_path, tiny_overrides):
    cfg = load_config("mnist-dcgan", tiny_overrides)
    train(cfg, tmp_path / "r", progress=False)
    before = (tmp_path / "r" / "checkpoints" / "last.safetensors").read_bytes()
    with pytest.raises(RunDirError, match="already exists; use --resume"):
        train(cfg, tmp_path / "r", progress=False)
    assert (tmp_path / "r" / "checkpoints" / "last.safetensors").read_bytes() == before


def test_penalty_with_batch_norm_in_d_is_refused(tmp_path, tiny_overrides):
    cfg = load_config("mnist-dcgan", tiny_overrides + ["objective.name=wgan-gp"])
    with pytest.raises(ConfigError, match="d.batch_norm=false"):
        Trainer(cfg, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_g_dropout_at_sample_time(tmp_path, tiny_overrides):
    cfg = load_config("mnist-dcgan", tiny_overrides + ["g.dropout=0.5", "tricks.g_dropout_at_sample=true"])
    run = train(cfg, tmp_path / "r", progress=False)
    z = run.latent(4, seed=0)
    torch.manual_seed(0)
    a = run.generate(z)
    torch.manual_seed(1)
    b = run.generate(z)
    assert not torch.equal(a, b)  # dropout is on: same z, different samples
    assert torch.equal(run.generate(z, dropout=False), run.generate(z, dropout=False))


def test_uniform_latent(tmp_path, tiny_overrides):
    run = train(load_config("mnist-dcgan", tiny_overrides + ["latent.dist=uniform"]), tmp_path / "r", progress=False)
    z = run.latent(1000, seed=0)
    assert float(z.min()) >= -1 and float(z.max()) <= 1 and float(z.std()) == pytest.approx(1 / 3**0.5, abs=0.03)


def test_sampling_a_run_needs_no_trainer(tmp_path, tiny_overrides):
    train(load_config("mnist-dcgan", tiny_overrides + ["train.ema_decay=0.9"]), tmp_path / "r", progress=False)
    run = load_run(tmp_path / "r")
    x = run.sample(10, seed=3)
    assert x.shape == (10, 1, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, load_run(tmp_path / "r").sample(10, seed=3))
    assert not torch.equal(run.sample(10, seed=3, ema=False), x)


def test_ring_wgan_gp_covers_the_modes(tmp_path):
    """The ring-wgan-gp preset (1,000 steps, about 50 s on 2 cores) puts samples within 3 std of >= 7 of 8 modes."""
    from gankit.data import build_dataset

    cfg = load_config("ring-wgan-gp", ["train.sample_every=100000"])
    run = train(cfg, tmp_path / "ring", progress=False, tensorboard=False)
    stats = build_dataset(cfg.data).mode_stats(run.sample(2500, seed=1))
    assert stats["modes_covered"] >= 7, stats


def test_periodic_eval_logs_scores_and_keeps_best(tmp_path, tiny_overrides):
    """Toy run evaluated every 2 steps: eval/ scores in metrics.jsonl, best checkpoint and report files."""
    cfg = load_config("ring-ns", ["train.steps=6", "train.eval_every=2", "train.best_metric=high_quality",
                                  "train.log_every=2"])
    run = train(cfg, tmp_path / "r", progress=False, tensorboard=False)
    rows = [r for r in run.metrics() if "eval/modes_covered" in r]
    assert [r["step"] for r in rows] == [2, 4, 6]
    best = json.loads((run.path / "checkpoints" / "best.json").read_text())
    values = [r["eval/high_quality"] for r in rows]
    assert best["metric"] == "high_quality" and best["value"] == max(values)
    assert (run.path / "checkpoints" / "best.safetensors").exists()
    assert len(list((run.path / "eval").glob("step_*.json"))) == 3


def test_periodic_eval_does_not_change_training(tmp_path):
    plain = train(load_config("ring-ns", ["train.steps=4"]), tmp_path / "a", progress=False, tensorboard=False)
    evald = train(load_config("ring-ns", ["train.steps=4", "train.eval_every=1"]), tmp_path / "b", progress=False,
                  tensorboard=False)
    a, b = weights(plain.path), weights(evald.path)
    assert all(torch.equal(a[0][k], b[0][k]) for k in a[0])


def test_unknown_best_metric_is_reported(tmp_path):
    cfg = load_config("ring-ns", ["train.steps=2", "train.eval_every=1", "train.best_metric=fid"])
    with pytest.raises(ConfigError, match="best_metric = 'fid' is not among the scores"):
        train(cfg, tmp_path / "r", progress=False, tensorboard=False)
