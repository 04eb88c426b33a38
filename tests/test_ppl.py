"""Perceptual path length (StyleGAN, sec. 4.2): the estimator on a generator whose answer is known, the outlier
rejection against numpy, the paths the recipes walk, and `gankit eval --metrics ppl_z,ppl_w`."""
import json

import numpy as np
import pytest
import torch

from conftest import built_recipe
from gankit import load_config, train
from gankit.cli import main
from gankit.metrics.ppl import path_lengths, robust_mean
from gankit.recipes.paths import lerp_rows, slerp_rows
from gankit.viz import slerp
from test_study import cache  # noqa: F401  (a digits classifier in a temporary cache)

STYLE = ["recipe=stylegan", "data.name=digits", "data.image_size=16", "latent.dim=8", "stylegan.w_dim=8",
         "stylegan.mapping_layers=2", "stylegan.width=4", "stylegan.max_width=8", "train.batch_size=8",
         "train.n_samples=8", "train.quality_n=0"]


def test_a_linear_generator_has_the_squared_length_of_its_image_step():
    """G(c) = A c walked linearly and d = squared L2: each scaled distance is |A (b - a)|^2 exactly, at any t."""
    torch.manual_seed(0)
    A = torch.randn(12, 5, dtype=torch.float64)
    a, b = torch.randn(40, 5, dtype=torch.float64), torch.randn(40, 5, dtype=torch.float64)
    pairs = iter([(a[:25], b[:25]), (a[25:], b[25:])])
    got = path_lengths(lambda x, y, t: lerp_rows(x, y, t.to(x)) @ A.T, lambda k: next(pairs), 40,
                       lambda x, y: (x - y).pow(2).sum(1), sampling="full", batch=25,
                       generator=torch.Generator().manual_seed(1))
    want = ((b - a) @ A.T).pow(2).sum(1).numpy()
    assert np.allclose(got, want, rtol=1e-6)


def test_outlier_rejection_keeps_the_values_between_the_1st_and_99th_percentiles():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(5, 1, 1000), [1e6, -1e6]])
    lo, hi = np.percentile(values, 1, method="lower"), np.percentile(values, 99, method="higher")
    assert robust_mean(values) == pytest.approx(values[(values >= lo) & (values <= hi)].mean())
    assert abs(robust_mean(values) - 5) < 0.1  # the two outliers are gone


def test_slerp_rows_walks_the_great_circle_and_matches_the_interpolation_grid():
    torch.manual_seed(0)
    a, b = torch.randn(6, 16), torch.randn(6, 16)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)  # equal norms: the path keeps them
    t = torch.rand(6, 1)
    mid = slerp_rows(a, b, t)
    assert torch.allclose(mid.norm(dim=1), a.norm(dim=1), rtol=1e-5)
    assert torch.allclose(slerp_rows(a, b, torch.zeros(6, 1)), a, atol=1e-6)
    assert torch.allclose(slerp_rows(a, b, torch.ones(6, 1)), b, atol=1e-5)
    grid = slerp(a, b, torch.tensor([0.25, 0.5]))  # gankit interpolate's (T, N, D)
    assert torch.allclose(grid[1], slerp_rows(a, b, torch.full((6, 1), 0.5)), atol=1e-6)


def test_stylegan_walks_z_by_slerp_and_w_by_lerp_with_the_noise_of_the_first_code():
    recipe, _ = built_recipe(STYLE)
    recipe.eval()
    g = recipe.nets["g"]
    torch.manual_seed(0)
    a, b = recipe.latent(3), recipe.latent(3)
    (za, noise_a), (zb, _) = recipe.split(a), recipe.split(b)
    half = torch.full((3, 1), 0.5)
    with torch.no_grad():
        w_mid = (g.mapping(za) + g.mapping(zb)) / 2
        assert torch.allclose(recipe.path_point(a, b, half, "w"), g.synthesis(g.broadcast(w_mid), noise_a), atol=1e-6)
        z_mid = slerp_rows(za, zb, half)
        assert torch.allclose(recipe.path_point(a, b, half, "z"), g.synthesis(g.broadcast(g.mapping(z_mid)), noise_a),
                              atol=1e-6)


def test_other_recipes_walk_z_only_and_keep_the_other_parts_of_the_code():
    recipe, _ = built_recipe(["recipe=cgan", "data.name=digits", "data.image_size=16", "g.width=8", "d.width=8",
                              "latent.dim=8"])
    recipe.eval()
    gen = torch.Generator().manual_seed(0)
    a = recipe.latent(4, gen, labels=torch.tensor([1, 2, 3, 4]))
    b = recipe.latent(4, gen, labels=torch.tensor([5, 6, 7, 8]))
    z = next(p for p in recipe.sampling().parts if p.name == "z").columns
    t = torch.full((4, 1), 0.3)
    code = a.clone()
    code[:, z] = slerp_rows(a[:, z], b[:, z], t)
    with torch.no_grad():
        assert torch.allclose(recipe.path_point(a, b, t), recipe.generate(code), atol=1e-6)  # a's classes kept
    assert recipe.latent_spaces == ("z",)


def test_eval_reports_both_path_lengths_of_a_stylegan_run_and_refuses_w_elsewhere(tmp_path, capsys):
    run = train(load_config(None, [*STYLE, "train.steps=2"]), tmp_path / "style", progress=False, tensorboard=False)
    assert main(["eval", str(run.path), "--metrics", "ppl_z,ppl_w", "--n", "40"]) == 0
    report = json.loads(next((run.path / "eval").glob("*_paths.json")).read_text())
    assert report["scores"]["ppl_z"] > 0 and report["scores"]["ppl_w"] > 0
    assert np.isfinite([report["scores"]["ppl_z"], report["scores"]["ppl_w"]]).all()
    assert "not the paper's LPIPS" in report["protocol"]["ppl_w"]

    plain = train(load_config("mnist-dcgan", ["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8",
                                              "latent.dim=8", "train.steps=2", "train.quality_n=0"]),
                  tmp_path / "plain", progress=False, tensorboard=False)
    capsys.readouterr()
    assert main(["eval", str(plain.path), "--metrics", "ppl_w", "--n", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no latent space 'w'; ppl_w needs one of: ppl_z" in err
    assert main(["eval", str(plain.path), "--metrics", "ppl_z", "--n", "20"]) == 0


# -- linear separability --------------------------------------------------------------------------
def test_conditional_entropy_against_its_definition():
    from scipy.stats import entropy

    from gankit.metrics.separability import conditional_entropy

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 2, 500), rng.integers(0, 3, 500)
    want = sum((x == v).mean() * entropy(np.bincount(y[x == v], minlength=3)) for v in (0, 1))
    assert conditional_entropy(y, x) == pytest.approx(want)
    assert conditional_entropy(x, x) == 0.0


def test_separability_is_one_for_hyperplane_labels_and_two_per_attribute_for_noise():
    """Labels set by which side of a hyperplane a point is on (with a gap of 0.5 around it, so that the soft-margin
    SVM finds it): every H(Y|X) is 0, exp(0) = 1. Labels drawn independently of the points (2 balanced
    attributes): about 1 bit each, 2^2 = 4."""
    from gankit.metrics.separability import separability

    rng = np.random.default_rng(0)
    points = rng.normal(size=(3000, 6))
    points = points[np.abs(points[:, 0] - 0.3) > 0.25][:2000]
    exact = (points[:, 0] > 0.3).astype(int)  # class 1 above the plane x0 = 0.3, class 0 below
    assert separability(points, exact, 2) == pytest.approx(1.0)
    noise = rng.integers(0, 2, 2000)
    assert separability(points, noise, 2) == pytest.approx(4.0, rel=0.03)


def test_eval_reports_separability_in_both_spaces_and_w_points_are_the_mapping(tmp_path, cache):  # noqa: F811
    run = train(load_config(None, [*STYLE, "train.steps=2"]), tmp_path / "style", progress=False, tensorboard=False)
    from gankit.run import load_run

    loaded = load_run(run.path)
    recipe, nets = loaded.recipe(), loaded.networks()
    code = loaded.latent(5, 0)
    with torch.no_grad():
        assert torch.equal(recipe.latent_point(code, "w", nets), nets["g"].mapping(recipe.split(code)[0]))
    assert torch.equal(recipe.latent_point(code, "z", nets), recipe.split(code)[0])
    assert main(["eval", str(run.path), "--metrics", "sep_z,sep_w", "--n", "200"]) == 0
    scores = json.loads(next((run.path / "eval").glob("*_paths.json")).read_text())["scores"]
    assert 1.0 <= scores["sep_z"] <= 2.0**10 and 1.0 <= scores["sep_w"] <= 2.0**10
