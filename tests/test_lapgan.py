"""LAPGAN (issue 21): the pyramid, the recipe's wiring, the coarse-to-fine sampler, the Parzen estimate."""
import numpy as np
import pytest
import torch
from scipy import ndimage

from conftest import built_recipe
from gankit import load_config, load_run, train
from gankit.cli import main
from gankit.data.pyramid import (blur, check_size, gaussian_pyramid, laplacian_pyramid, pyr_down, pyr_up,
                                 reconstruct)
from gankit.errors import ConfigError
from gankit.metrics.parzen import log_likelihoods, parzen_score, split_reference, unit_pixels

KERNEL = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
SMALL = ["data.name=digits", "data.image_size=16", "g.name=mlp", "d.name=mlp", "g.width=16", "d.width=16",
         "latent.dim=8", "lapgan.levels=2", "lapgan.width=4", "train.batch_size=8", "train.n_samples=8"]


def scipy_down(x):
    """ProGAN's pyramid step, written with scipy: mirror-padded 5x5 binomial blur, every other pixel."""
    return ndimage.convolve(x, KERNEL, mode="mirror")[::2, ::2]


def scipy_up(x):
    up = np.zeros((2 * x.shape[0], 2 * x.shape[1]))
    up[::2, ::2] = x
    return ndimage.convolve(up, KERNEL * 4, mode="mirror")


def test_pyramid_steps_match_a_scipy_reference():
    x = torch.rand(2, 3, 16, 12, dtype=torch.float64)
    down, up = pyr_down(x), pyr_up(x)
    assert down.shape == (2, 3, 8, 6) and up.shape == (2, 3, 32, 24)
    for n in range(2):
        for c in range(3):
            np.testing.assert_allclose(down[n, c].numpy(), scipy_down(x[n, c].numpy()), atol=1e-12)
            np.testing.assert_allclose(up[n, c].numpy(), scipy_up(x[n, c].numpy()), atol=1e-12)


def test_constant_images_stay_constant_and_blur_keeps_the_mean_inside():
    x = torch.full((1, 1, 8, 8), 0.37)
    assert torch.allclose(pyr_down(x), torch.full((1, 1, 4, 4), 0.37))
    assert torch.allclose(pyr_up(x), torch.full((1, 1, 16, 16), 0.37))
    y = torch.rand(1, 1, 8, 8) * 2 - 1
    assert pyr_up(y).abs().max() <= 1 + 1e-6  # a convex combination of the inputs: stays in the data range
    assert torch.allclose(blur(torch.ones(1, 2, 5, 5)), torch.ones(1, 2, 5, 5))


@pytest.mark.parametrize("size,levels", [(28, 2), (32, 3), (16, 1)])
def test_the_laplacian_pyramid_rebuilds_the_image(size, levels):
    x = torch.rand(4, 3, size, size) * 2 - 1
    coarse, residuals = laplacian_pyramid(x, levels)
    assert coarse.shape[-1] == size // 2**levels
    assert [h.shape[-1] for h in residuals] == [size // 2 ** (levels - k) for k in range(1, levels + 1)]
    assert (reconstruct(coarse, residuals) - x).abs().max() <= 1e-5
    images = gaussian_pyramid(x, levels)
    assert torch.equal(images[-1], x) and torch.allclose(images[0], coarse)


def test_pyramid_sizes_are_checked_in_one_line():
    assert check_size(28, 2) == 7 and check_size(32, 3) == 4
    with pytest.raises(ConfigError, match="cannot be halved 3 times"):
        check_size(28, 3)
    with pytest.raises(ConfigError, match="at least 4 px"):
        check_size(8, 2)


def small_recipe(name="lapgan", extra=(), with_objective=True):
    return built_recipe([f"recipe={name}", *SMALL, *extra], with_objective)


def test_levels_sizes_networks_and_latent_parts():
    recipe, cfg = small_recipe()
    assert recipe.sizes == [4, 8, 16]
    assert recipe.generators == ("g0", "g1", "g2")
    assert set(recipe.nets) == {"g0", "d0", "g1", "d1", "g2", "d2"}
    parts = recipe.sampling().parts
    assert [(p.name, p.stop - p.start, p.kind) for p in parts] == [("z", 8, "noise"), ("z1", 64, "noise"),
                                                                    ("z2", 256, "noise")]
    assert recipe.sampling().codes == ()  # noise planes are not interpretable codes
    assert recipe.latent(5).shape == (5, 8 + 64 + 256)
    opt = recipe.optimizer_params()
    assert len(opt["g"]) == sum(len(list(recipe.nets[g].parameters())) for g in recipe.generators)


def test_with_zero_residual_generators_a_sample_is_the_upsampled_coarse_sample():
    recipe, _ = small_recipe()
    for k in (1, 2):
        last = recipe.nets[f"g{k}"].net.net[-1]
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)
    recipe.eval()
    code = recipe.latent(6, torch.Generator().manual_seed(3))
    with torch.no_grad():
        x = recipe.generate(code)
        base = recipe.nets["g0"](code[:, :8])
    assert torch.allclose(x, pyr_up(pyr_up(base)).clamp(-1, 1), atol=1e-6)
    stages = recipe.stages(code)
    assert [name for name, _ in stages] == ["I0", "l1", "h1", "I1", "l2", "h2", "I2"]
    assert torch.equal(stages[1][1], pyr_up(stages[0][1])) and stages[2][1].abs().max() == 0


def test_each_critic_sees_the_low_pass_image_plus_the_residual():
    """D_k judges l_k + h: on a real batch, that is the real image at level k itself (a D that saw h alone
    would get the band-pass residual, whose low-pass part is about zero)."""
    recipe, _ = small_recipe()
    seen = {}
    for k in (0, 1, 2):
        recipe.nets[f"d{k}"].register_forward_hook(lambda m, inp, out, k=k: seen.setdefault(k, inp[0].detach()))
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    recipe.loss("d", (real, torch.zeros(8, dtype=torch.long)))
    images = gaussian_pyramid(real, 2)
    for k in (0, 1, 2):
        assert torch.allclose(seen[k], images[k], atol=1e-6), k
    h = images[2] - pyr_up(images[1])
    assert not torch.allclose(seen[2], h, atol=1e-2)


def test_levels_have_their_own_objective_state_which_is_saved():
    recipe, _ = small_recipe(extra=["objective.name=fisher"])
    objs = recipe.level_objectives
    assert len(objs) == 3 and objs[1] is not objs[0] and objs[2] is not objs[1]
    from gankit.recipes.base import Phase

    pairs = recipe.critic_objectives(Phase("d", "d", critics=("d0", "d1", "d2")))
    assert [o for o, _ in pairs] == objs and [n for _, (n,) in pairs] == [recipe.nets["d0"], recipe.nets["d1"],
                                                                          recipe.nets["d2"]]
    for i, o in enumerate(objs[1:], 1):
        o.load_state_dict({"lambda": float(i)})
    state = recipe.extra_state()
    fresh, _ = small_recipe(extra=["objective.name=fisher"])
    fresh.load_extra_state(state)
    assert [o.state_dict()["lambda"] for o in fresh.level_objectives[1:]] == [1.0, 2.0]


def test_cc_lapgan_conditions_every_level_on_the_class():
    recipe, _ = small_recipe("cc-lapgan")
    declared = recipe.sampling()
    assert declared.condition == "class" and declared.classes == 10 and declared.class_part.name == "y"
    code = recipe.latent(4, labels=torch.tensor([0, 3, 3, 9]))
    assert torch.equal(code[:, declared.class_part.columns].argmax(1), torch.tensor([0, 3, 3, 9]))
    recipe.eval()
    with torch.no_grad():
        a = recipe.generate(code)
        other = code.clone()
        other[:, declared.class_part.columns] = torch.nn.functional.one_hot(torch.tensor([1, 1, 1, 1]), 10).float()
        b = recipe.generate(other)
    assert not torch.allclose(a, b)
    for k in (1, 2):  # one label plane of the level's size on every finer G and D
        assert recipe.nets[f"g{k}"].plane.linear.out_features == recipe.sizes[k] ** 2
        assert recipe.nets[f"d{k}"].plane.linear.out_features == recipe.sizes[k] ** 2


def test_bad_settings_are_refused_in_one_line(tmp_path, capsys):
    for argv, needle in ((["recipe=lapgan", "data.name=digits", "data.image_size=16", "lapgan.levels=3"],
                          "cannot be halved"),
                         (["recipe=lapgan", "lapgan.levels=2"], "use g.name=mlp d.name=mlp"),
                         (["recipe=lapgan", "data.name=ring8"], "holds points"),
                         (["recipe=unconditional", "lapgan.width=8"], "lapgan.width is read by recipe")):
        code = main(["train", "--run-dir", str(tmp_path / "run"), "--no-progress", *argv])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and needle in err, (argv, err)
        assert not (tmp_path / "run").exists()


def test_a_run_samples_stages_and_logs_every_level(tmp_path, capsys):
    cfg = load_config(None, ["recipe=lapgan", *SMALL, "train.steps=3", "train.log_every=1", "train.ema_decay=0.9"])
    run = train(cfg, tmp_path / "run", progress=False, tensorboard=False)
    row = run.metrics()[-1]
    for k in (0, 1, 2):
        for key in ("d_loss", "d_real", "d_fake", "g_loss"):
            assert f"level{k}/{key}" in row, (k, key)
    assert main(["sample", str(run.path), "--stages", "--n", "4", "--out", str(tmp_path / "stages.png")]) == 0
    out = capsys.readouterr().out
    assert "I0, l1, h1, I1, l2, h2, I2" in out and (tmp_path / "stages.png").exists()
    from PIL import Image

    w, h = Image.open(tmp_path / "stages.png").size
    assert w > h  # one row per sample, one column per stage: 7 columns, 4 rows
    loaded = load_run(run.path)
    stages = loaded.stages(2, seed=5)
    assert torch.equal(stages[-1][1].clamp(-1, 1), loaded.sample(2, seed=5))


def test_stages_are_refused_for_a_family_that_draws_in_one_step(tmp_path, capsys):
    cfg = load_config(None, ["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8", "latent.dim=8",
                             "train.steps=1", "train.batch_size=8", "train.n_samples=8"])
    run = train(cfg, tmp_path / "plain", progress=False, tensorboard=False)
    code = main(["sample", str(run.path), "--stages"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "lapgan" in err, err


# -- the Parzen window ---------------------------------------------------------------------------------------
def test_parzen_agrees_with_scikit_learn_kernel_density():
    from sklearn.neighbors import KernelDensity

    rng = np.random.default_rng(0)
    samples, x = rng.random((300, 12)), rng.random((50, 12))
    for sigma in (0.2, 0.3, 1.0):
        ours = log_likelihoods(samples, x, (sigma,), block=64)[0]
        ref = KernelDensity(kernel="gaussian", bandwidth=sigma).fit(samples).score_samples(x)
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-8)


def test_parzen_stays_exact_where_every_kernel_underflows():
    """At sigma 0.1 most exp terms underflow double precision; scikit-learn's tree sums then drift by up to
    14 nats on this data, while the log-sum-exp written out in scipy agrees with ours to rounding."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(0)
    samples, x = rng.random((300, 12)), rng.random((50, 12))
    d2 = ((x[:, None] - samples[None]) ** 2).sum(-1)
    ref = logsumexp(-d2 / (2 * 0.1**2), 1) - np.log(300) - 6 * np.log(2 * np.pi * 0.1**2)
    np.testing.assert_allclose(log_likelihoods(samples, x, (0.1, 0.5), block=64)[0], ref, rtol=1e-10)


def test_parzen_chooses_sigma_on_validation_and_reports_a_standard_error():
    rng = np.random.default_rng(1)
    samples = rng.normal(0, 0.3, (2000, 4))
    validation, test = rng.normal(0, 0.3, (200, 4)), rng.normal(0, 0.3, (200, 4))
    res = parzen_score(samples, validation, test, sigmas=(0.01, 0.1, 10.0))
    assert res["parzen_sigma"] == 0.1
    ll = log_likelihoods(samples, test, (0.1,))[0]
    assert res["parzen_ll"] == pytest.approx(ll.mean()) and res["parzen_ll_se"] == pytest.approx(ll.std(ddof=1) / np.sqrt(200))
    # the density of the true model, N(0, 0.3^2 I), bounds a good estimate from above on average
    true_ll = (-0.5 * (test / 0.3) ** 2 - np.log(0.3 * np.sqrt(2 * np.pi))).sum(1).mean()
    assert res["parzen_ll"] < true_ll + 0.3


def test_parzen_helpers_scale_and_split():
    assert torch.equal(unit_pixels(torch.tensor([0, 255], dtype=torch.uint8)), torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert torch.allclose(unit_pixels(torch.tensor([-1.0, 0.0, 1.0])), torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    a, b = split_reference(torch.arange(11))
    assert len(a) == 5 and len(b) == 6 and set(a.tolist()) | set(b.tolist()) == set(range(11))


def test_parzen_through_gankit_eval(tmp_path):
    from gankit.metrics.evaluate import evaluate_run, write_report

    cfg = load_config(None, ["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8", "latent.dim=8",
                             "train.steps=1", "train.batch_size=8", "train.n_samples=8"])
    run = train(cfg, tmp_path / "plain", progress=False, tensorboard=False)
    report = evaluate_run(run, ("parzen",), n=64)
    assert set(report["scores"]) >= {"parzen_ll", "parzen_ll_se", "parzen_sigma"}
    assert np.isfinite(report["scores"]["parzen_ll"]) and "backbone" not in report["protocol"]
    assert write_report(run, report).name.endswith("_pixels.json")
