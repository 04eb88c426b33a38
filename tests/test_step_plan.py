"""Training that changes over time (issue 17, item 2) and recipe state (item 3): phases with a cadence and a
gain, StyleGAN2's lazy-regularisation correction, a per-step plan (lr multipliers, optimiser resets, batch
size, resolution), and state that the recipe saves itself, all resuming exactly, also mid-change."""
import pytest
import torch

from gankit import load_config, train
from gankit.recipes.base import Phase, StepPlan
from gankit.recipes.unconditional import Unconditional
from gankit.registry import RECIPES
from gankit.train import Trainer
from gankit.train.checkpoint import read_weights


class Changing(Unconditional):
    """The plain game plus what later families need: a lazy R1 phase every 2 steps with gain 2, D's lr halved
    from step 3, Adam's state of G reset at step 4, batches of 8 from step 2 at 8 x 8 pixels from step 5 on
    (G's 16 x 16 fakes are pooled to match), and a counter kept as recipe state."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.seen = 0.0
        self.calls = []

    def phases(self):
        d, g = super().phases()
        return [d, Phase("d_reg", "d", every=2, gain=2.0, lazy=True, frozen=("g",)), g]

    def plan(self, step):
        return StepPlan(lr_scale={"d": 0.5} if step >= 3 else {}, reset=("g",) if step == 4 else (),
                        batch_size=8 if step >= 2 else None, resolution=8 if step >= 5 else None)

    def loss(self, phase, batch):
        self.calls.append((self.step, phase, None if batch is None else tuple(batch[0].shape)))
        if phase == "d_reg":
            real = batch[0].detach().requires_grad_(True)
            out = self.nets["d"](torch.nn.functional.interpolate(real, size=16)).sum()
            (grad,) = torch.autograd.grad(out, real, create_graph=True)
            return grad.pow(2).flatten(1).sum(1).mean(), {"r1": grad.pow(2).sum().detach()}
        if phase == "d":
            self.seen += 0.5
            if batch[0].shape[-1] != 16:
                batch = (torch.nn.functional.interpolate(batch[0], size=16), batch[1])
        return super().loss(phase, batch)

    def extra_state(self):
        return {"seen": self.seen}

    def load_extra_state(self, state):
        self.seen = state["seen"]


@pytest.fixture
def changing():
    RECIPES.register("test-changing")(Changing)
    yield
    RECIPES._items.pop("test-changing")


def config(extra=()):
    return load_config(None, ["recipe=test-changing", "data.name=digits", "data.image_size=16", "g.width=8",
                              "d.width=8", "latent.dim=8", "d.batch_norm=false", "train.batch_size=16",
                              "train.steps=7", "train.log_every=1", "train.checkpoint_every=1",
                              "train.sample_every=100", *extra])


def test_cadence_gain_plan_and_recipe_state(changing, tmp_path):
    cfg = config()
    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    d_opt = t.optimizers["d"].param_groups[0]
    c = 2 / 3  # StyleGAN2's correction for the lazy phase every 2 steps
    assert d_opt["lr"] == pytest.approx(cfg.optim["d"].lr * c)
    assert d_opt["betas"] == pytest.approx(tuple(b**c for b in cfg.optim["d"].betas))
    assert t.optimizers["g"].param_groups[0]["lr"] == pytest.approx(cfg.optim["g"].lr)
    rows = []
    for _ in range(7):
        logs = t.train_step()
        rows.append(logs)
        if t.step == 5:  # step 4 (0-based) done
            g_state = t.optimizers["g"].state_dict()["state"]
            assert int(g_state[0]["step"]) == 1  # reset at the start of step 4 (0-based), then one update
    t.close()
    reg_steps = sorted({s for s, p, _ in t.recipe.calls if p == "d_reg"})
    assert reg_steps == [0, 2, 4, 6]
    shapes = {s: shape for s, p, shape in t.recipe.calls if p == "d"}
    assert shapes[0] == (16, 1, 16, 16) and shapes[2] == (8, 1, 16, 16) and shapes[5] == (8, 1, 8, 8)
    assert [r["lr/d"] for r in rows[2:4]] == pytest.approx([cfg.optim["d"].lr * c, cfg.optim["d"].lr * c * 0.5])
    assert t.recipe.seen == 3.5  # 7 D losses of 0.5


def test_lazy_gain_multiplies_the_phase_loss(changing, tmp_path):
    t = Trainer(config(), tmp_path / "r", progress=False, tensorboard=False)
    got = {}
    update = t._update

    def spy(phase, batch, logs):
        if phase.name == "d_reg":
            loss, _ = t.recipe.loss("d_reg", batch)
            t.recipe.zero_grad()
            (loss * 2.0).backward()
            got["expected"] = [None if p.grad is None else p.grad.clone() for p in t.recipe.nets["d"].parameters()]
            t.recipe.zero_grad()
        update(phase, batch, logs)

    t._update = spy
    opt = t.optimizers["d"]
    grads = {}
    step = opt.step

    def capture(*a, **k):
        grads["last"] = [None if p.grad is None else p.grad.clone() for p in t.recipe.nets["d"].parameters()]
        return step(*a, **k)

    opt.step = capture
    t.train_step()
    t.close()
    # the last D update of step 0 is the lazy phase's: its gradient is 2 x the gradient of its loss
    pairs = [(g, e) for g, e in zip(grads["last"], got["expected"]) if e is not None]
    assert pairs and all(torch.allclose(g, e, atol=1e-6) for g, e in pairs)


def test_resume_in_the_middle_of_a_change_is_exact(changing, tmp_path):
    straight = train(config(["train.ema_decay=0.9"]), tmp_path / "straight", progress=False, tensorboard=False)

    class StopsAtFour(Trainer):
        def train_step(self):
            logs = super().train_step()
            if self.step == 4:
                self.request_stop()
            return logs

    StopsAtFour(config(["train.ema_decay=0.9"]), tmp_path / "resumed", progress=False, tensorboard=False).fit()
    resumed = Trainer(config(["train.ema_decay=0.9"]), tmp_path / "resumed", resume=True, progress=False,
                      tensorboard=False)
    assert resumed.recipe.seen == 2.0  # the recipe's own state came back
    resumed.fit()
    a, b = read_weights(straight.path / "checkpoints"), read_weights(tmp_path / "resumed" / "checkpoints")
    assert a[2] == b[2] == 7
    assert all(torch.equal(a[0][k], b[0][k]) for k in a[0])
    assert all(torch.equal(a[1][k], b[1][k]) for k in a[1])


def test_streams_that_cannot_change_refuse_in_one_line(tmp_path):
    from gankit.data import build_dataset
    from gankit.errors import ConfigError

    toy = build_dataset(load_config("ring-ns").data)
    with pytest.raises(ConfigError, match="cannot change batch size or resolution"):
        toy.stream(8, 0).next(batch_size=4)


class Scaled(Unconditional):
    """A recipe with one generation option: its samples times ``scale``."""

    generation_options = ("scale",)

    def generate(self, z, nets=None, scale=1.0, **cond):
        return super().generate(z, nets) * scale


def test_generation_options_reach_the_recipe_and_others_are_refused(tmp_path, capsys):
    from gankit import load_run
    from gankit.cli import main

    RECIPES.register("test-scaled")(Scaled)
    try:
        cfg = load_config(None, ["recipe=test-scaled", "data.name=digits", "data.image_size=16", "g.width=8",
                                 "d.width=8", "latent.dim=8", "train.steps=1", "train.batch_size=8"])
        run = load_run(train(cfg, tmp_path / "r", progress=False, tensorboard=False).path)
        assert run.sampling.options == ("scale",)
        assert torch.allclose(run.sample(4, options={"scale": 0.5}), 0.5 * run.sample(4))
        assert main(["sample", str(run.path), "--opt", "scale=0.25", "--out", str(tmp_path / "x.png")]) == 0
        assert main(["sample", str(run.path), "--opt", "scal=0.25"]) == 2
        assert "has no generation option 'scal' (did you mean 'scale'?); it takes: scale" in capsys.readouterr().err
    finally:
        RECIPES._items.pop("test-scaled")
