"""cGAN, AC-GAN, projection D, InfoGAN: exact pieces, composition with every objective, the CLI."""
import pytest
import torch
import torch.nn.functional as F

from gankit import load_config, load_run, train
from gankit.cli import main
from gankit.config import NetConfig
from gankit.errors import ConfigError
from gankit.nets import build_discriminator
from gankit.nets.conditional import ConditionalBatchNorm, ProjectionDiscriminator, concat_labels
from gankit.objectives import critic_kind
from gankit.registry import OBJECTIVES

RECIPES = ["cgan", "acgan", "projection", "infogan"]


def _cfg(tiny, recipe, *extra):
    return load_config("mnist-dcgan", tiny + [f"recipe={recipe}", *extra])


def test_concat_labels_appends_features_or_constant_maps():
    y = F.one_hot(torch.tensor([2, 0]), 3).float()
    v = concat_labels(torch.zeros(2, 4), y)
    assert v.shape == (2, 7) and torch.equal(v[:, 4:], y)
    img = concat_labels(torch.zeros(2, 1, 5, 5), y)
    assert img.shape == (2, 4, 5, 5)
    assert torch.equal(img[1, 1], torch.ones(5, 5)) and torch.equal(img[1, 2], torch.zeros(5, 5))


def test_conditional_batch_norm_starts_as_plain_bn_and_shifts_per_class():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm(torch.nn.BatchNorm2d(4), num_classes=3)
    x = torch.randn(6, 4, 3, 3)
    cbn.labels = F.one_hot(torch.arange(6) % 3, 3).float()
    ref = torch.nn.functional.batch_norm(x, None, None, training=True, eps=1e-5)
    assert torch.allclose(cbn(x), ref, atol=1e-6)
    with torch.no_grad():
        cbn.beta.weight[:, 1] = 5.0  # class 1 gets beta = 5
        cbn.gamma.weight[:, 2] = 1.0  # class 2 gets gamma = 2
    out = cbn(x)
    assert torch.allclose(out[1], ref[1] + 5, atol=1e-5)
    assert torch.allclose(out[2], 2 * ref[2], atol=1e-5)


def test_projection_discriminator_is_head_plus_inner_product():
    torch.manual_seed(0)
    d = build_discriminator(NetConfig(name="mlp", width=8, depth=2), (5,))
    proj = ProjectionDiscriminator(d, num_classes=3)
    x, labels = torch.randn(4, 5), torch.tensor([0, 1, 2, 1])
    y = F.one_hot(labels, 3).float()
    phi = d.features(x)
    expected = d.head(phi).squeeze(1) + (proj.embed.weight.T[labels] * phi).sum(1)
    assert torch.allclose(proj(x, y).squeeze(1), expected, atol=1e-6)


SCALAR_CRITIC_OBJECTIVES = [n for n in OBJECTIVES.names() if critic_kind(n) == "scalar"]


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("objective", SCALAR_CRITIC_OBJECTIVES)
def test_every_recipe_trains_with_every_scalar_critic_objective(tmp_path, tiny_overrides, recipe, objective):
    extra = [f"objective.name={objective}", "train.steps=2", "train.sample_every=2", "train.checkpoint_every=2"]
    if objective in ("wgan-gp", "dragan", "ns-r1"):
        extra.append("d.batch_norm=false")  # per-example penalties refuse batch norm in D
    cfg = _cfg(tiny_overrides, recipe, *extra)
    train(cfg, tmp_path / "run", progress=False, tensorboard=False)
    run = load_run(tmp_path / "run")
    x = run.sample(4, seed=0, labels=3)
    assert x.shape == (4, 1, 16, 16) and torch.isfinite(x).all()
    rows = run.metrics()
    assert any("d_loss" in r for r in rows) and any("g_loss" in r for r in rows)


def test_acgan_class_loss_is_cross_entropy_in_both_steps(tiny_overrides):
    from gankit.data import build_dataset
    from gankit.objectives import build_objective
    from gankit.recipes import DataInfo, build_recipe

    cfg = _cfg(tiny_overrides, "acgan", "cond.class_weight=2.0")
    info = DataInfo.of(build_dataset(cfg.data))
    torch.manual_seed(0)
    recipe = build_recipe(cfg, info, build_objective(cfg.objective))
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    labels = torch.arange(8) % 10
    torch.manual_seed(1)
    loss, logs = recipe.loss("d", (real, labels))
    torch.manual_seed(1)
    code = torch.cat([torch.randn(8, cfg.latent.dim), F.one_hot(labels, 10).float()], 1)
    with torch.no_grad():
        fake = recipe.nets["g"](code)
    out_r, out_f = recipe.nets["d"](real), recipe.nets["d"](fake)
    adv = F.softplus(-out_r[:, 0]).mean() + F.softplus(out_f[:, 0]).mean()
    cls = 2.0 * (F.cross_entropy(out_r[:, 1:], labels) + F.cross_entropy(out_f[:, 1:], labels))
    assert torch.allclose(loss, adv + cls, atol=1e-5)
    assert torch.allclose(logs["d_class_loss"], cls, atol=1e-5)


def test_infogan_info_loss_is_the_weighted_lower_bound(tiny_overrides):
    from gankit.data import build_dataset
    from gankit.recipes import DataInfo, build_recipe

    cfg = _cfg(tiny_overrides, "infogan", "cond.categorical=4", "cond.continuous=2", "cond.info_weight=1.5",
               "cond.info_weight_continuous=0.2")
    recipe = build_recipe(cfg, DataInfo.of(build_dataset(cfg.data)))
    code = recipe.latent(6, torch.Generator().manual_seed(0), labels=torch.tensor([0, 1, 2, 3, 0, 1]))
    assert code.shape == (6, cfg.latent.dim + 6)
    assert torch.equal(code[:, cfg.latent.dim:cfg.latent.dim + 4].argmax(1), torch.tensor([0, 1, 2, 3, 0, 1]))
    cont = code[:, -2:]
    assert (cont.abs() <= 1).all()
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    features = recipe.nets["d"].features(x)
    loss, _ = recipe.info_loss(features, code)
    q = recipe.nets["q"](features)
    expected = 1.5 * F.cross_entropy(q[:, :4], torch.tensor([0, 1, 2, 3, 0, 1])) + \
        0.2 * 0.5 * (q[:, 4:] - cont).pow(2).sum(1).mean()
    assert torch.allclose(loss, expected, atol=1e-6)
    assert recipe.sampling().codes == ("c1", "c2", "c3")
    assert recipe.sampling().part("c3").columns == slice(cfg.latent.dim + 5, cfg.latent.dim + 6)


@pytest.mark.parametrize("q_optimizer", ["g", "d"])
def test_infogan_q_head_trains_with_the_chosen_optimiser(tmp_path, tiny_overrides, q_optimizer):
    """cond.q_optimizer=d is the authors' code (Q's variables in D's scope): the D step moves Q, the G step
    does not; with g it is the other way round. cond.q_batch_norm gives the paper's FC-BN-lReLU-FC head."""
    from gankit.train import Trainer

    cfg = _cfg(tiny_overrides, "infogan", f"cond.q_optimizer={q_optimizer}", "cond.q_batch_norm=true")
    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    q = t.recipe.nets["q"]
    assert [type(m).__name__ for m in q] == ["Linear", "BatchNorm1d", "LeakyReLU", "Linear"]
    moved = {}
    for phase in t.recipe.phases():
        before = [p.clone() for p in q.parameters()]
        t._update(phase, t.stream.next() if phase.needs_data else None, {})
        moved[phase.name] = any(not torch.equal(a, b) for a, b in zip(before, q.parameters()))
    assert moved == {"d": q_optimizer == "d", "g": q_optimizer == "g"}


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    tiny = ["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8", "latent.dim=8",
            "train.batch_size=16", "train.steps=4", "train.sample_every=4", "train.checkpoint_every=4"]
    out = tmp_path_factory.mktemp("cgan") / "run"
    train(load_config("mnist-cgan", tiny), out, progress=False, tensorboard=False)
    return out


def test_sample_class_and_class_grid_from_the_cli(cgan_run, capsys):
    run = load_run(cgan_run)
    z = run.latent(5, seed=0, labels=7)
    assert torch.equal(z[:, 8:].argmax(1), torch.full((5,), 7))
    assert main(["sample", str(cgan_run), "--class", "3", "--n", "8"]) == 0
    assert (cgan_run / "sample_class3_seed0.png").exists()
    assert main(["sample", str(cgan_run), "--class-grid", "--n", "6"]) == 0
    from PIL import Image

    with Image.open(cgan_run / "class_grid_seed0.png") as im:
        w, h = im.size
    assert abs(w / h - (6 * 18 + 2) / (10 * 18 + 2)) < 0.01  # 10 rows (classes) x 6 columns
    # the same z in a column: rows differ only in the label part of the code
    assert main(["arithmetic", str(cgan_run), "--classes", "1,2,3", "--n", "40"]) == 0
    assert (cgan_run / "arithmetic" / "arithmetic.png").exists()
    assert main(["arithmetic", str(cgan_run), "--indices", "0,1;2;3,4"]) == 0
    assert main(["interpolate", str(cgan_run), "--classes", "1,7", "--pairs", "2", "--steps", "3",
                 "--out", str(cgan_run / "interp")]) == 0
    assert (cgan_run / "interp" / "interpolation.png").exists()
    capsys.readouterr()


def test_class_interpolation_keeps_z_and_moves_the_label(cgan_run):
    from gankit.viz.interpolate import endpoints, lerp

    run = load_run(cgan_run)
    z0, z1 = endpoints(run, 2, seed=0, classes=(1, 7))
    assert torch.equal(z0[:, :8], z1[:, :8])
    assert torch.equal(z0[:, 8:].argmax(1), torch.ones(2, dtype=torch.long))
    assert torch.equal(z1[:, 8:].argmax(1), torch.full((2,), 7))
    mid = lerp(z0, z1, torch.tensor([0.5]))[0]
    assert torch.allclose(mid[:, 8 + 1], torch.full((2,), 0.5)) and torch.allclose(mid[:, 8 + 7], torch.full((2,), 0.5))


def test_conditional_bad_input_is_one_line(cgan_run, tmp_path, tiny_overrides, capsys):
    assert main(["sample", str(cgan_run), "--class", "10"]) == 2
    assert "class 10 is out of range; this run has classes 0..9" in capsys.readouterr().err
    assert main(["traverse", str(cgan_run), "--code", "c1"]) == 2
    assert "traverse needs an infogan run" in capsys.readouterr().err
    assert main(["arithmetic", str(cgan_run), "--indices", "1,2;3"]) == 2
    assert "three non-empty groups" in capsys.readouterr().err
    assert main(["arithmetic", str(cgan_run), "--indices", "1;2;99", "--n", "10"]) == 2
    assert "sample index 99 is outside the sheet of 10 samples" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="recipe 'cgan' needs class labels, but data.name = 'ring8' has none"):
        train(load_config("ring8-pacgan", ["recipe=cgan", "train.steps=1"]), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_traverse_varies_one_code(tmp_path, tiny_overrides, capsys):
    out = tmp_path / "info"
    train(_cfg(tiny_overrides, "infogan", "cond.categorical=3", "cond.continuous=1"), out, progress=False,
          tensorboard=False)
    assert main(["traverse", str(out), "--code", "c1", "--rows", "2"]) == 0
    assert main(["traverse", str(out), "--code", "c2", "--rows", "2", "--steps", "5"]) == 0
    assert (out / "traverse_c1.png").exists() and (out / "traverse_c2.png").exists()
    assert main(["traverse", str(out), "--code", "c3"]) == 2
    assert "unknown code 'c3' (did you mean 'c2'?); this run has: c1, c2" in capsys.readouterr().err
    run = load_run(out)
    assert run.num_classes == 3
    x = run.sample(3, labels=[0, 1, 2])
    assert x.shape == (3, 1, 16, 16)


def test_unconditional_run_refuses_a_class(tmp_path, tiny_overrides, capsys):
    train(load_config("mnist-dcgan", tiny_overrides), tmp_path / "u", progress=False, tensorboard=False)
    assert main(["sample", str(tmp_path / "u"), "--class", "1"]) == 2
    assert "is unconditional (recipe 'unconditional')" in capsys.readouterr().err
