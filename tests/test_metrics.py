"""Metrics against exact values and the scipy.linalg.sqrtm reference."""
import numpy as np
import pytest

from gankit.metrics import (FeatureError, density_coverage, feature_stats, frechet_distance, frechet_distance_sqrtm,
                            inception_score, kernel_inception_distance, precision_recall)


def random_spd(rng, d, n=None):
    a = rng.normal(size=(n or 2 * d, d))
    return a.T @ a / len(a)


def test_fd_of_identical_statistics_is_zero():
    rng = np.random.default_rng(0)
    s = random_spd(rng, 64)
    mu = rng.normal(size=64)
    assert abs(frechet_distance(mu, s, mu, s)) < 1e-8


@pytest.mark.parametrize("d", [1, 16, 300])
def test_fd_closed_forms(d):
    eye = np.eye(d)
    assert frechet_distance(np.zeros(d), eye, np.ones(d), eye) == pytest.approx(d, rel=1e-10)
    a, b = 0.5, 2.0
    assert frechet_distance(np.zeros(d), a**2 * eye, np.zeros(d), b**2 * eye) == pytest.approx(d * (a - b) ** 2, rel=1e-10)
    rng = np.random.default_rng(d)
    v1, v2, m1, m2 = rng.random(d) + 0.1, rng.random(d) + 0.1, rng.normal(size=d), rng.normal(size=d)
    expected = ((m1 - m2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    assert frechet_distance(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("d", [16, 128, 512, pytest.param(2048, marks=pytest.mark.slow)])
def test_eigen_fd_agrees_with_sqrtm(d):
    rng = np.random.default_rng(d)
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    ref = frechet_distance_sqrtm(m1, s1, m2, s2)
    assert abs(frechet_distance(m1, s1, m2, s2) - ref) <= 1e-6 * abs(ref)


def test_fd_with_singular_covariances():
    """Fewer samples than dimensions: rank-deficient covariances still give a finite, non-negative FD."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 100)), rng.normal(size=(20, 100)) + 0.5
    fd = frechet_distance(*feature_stats(a), *feature_stats(b))
    assert np.isfinite(fd) and fd > 0
    assert abs(frechet_distance(*feature_stats(a), *feature_stats(a))) < 1e-6


def test_fd_refuses_bad_statistics():
    with pytest.raises(FeatureError, match="different dimensions"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(FeatureError, match="NaN"):
        feature_stats(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_inception_score_exact_values():
    uniform = np.full((1000, 10), 0.1)
    assert inception_score(uniform)[0] == pytest.approx(1.0, abs=1e-9)
    onehot = np.eye(10)[np.arange(1000) % 10]
    mean, std = inception_score(onehot)
    assert mean == pytest.approx(10.0, rel=1e-6) and std < 1e-6
    with pytest.raises(FeatureError, match="at least 10 samples"):
        inception_score(onehot[:5])


def test_kid_is_zero_for_one_distribution_and_unbiased():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 32))
    y = rng.normal(size=(600, 32))
    mean_xy, std_xy = kernel_inception_distance(x, y, subsets=50, subset_size=200)
    assert abs(mean_xy) < 3 * std_xy / np.sqrt(50) + 1e-3  # unbiased: centred on 0
    far, _ = kernel_inception_distance(x, y + 1.0, subsets=10, subset_size=200)
    assert far > 0.1


def test_precision_recall_density_coverage():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8))
    assert precision_recall(x, x) == (1.0, 1.0)
    assert precision_recall(x, x + 100) == (0.0, 0.0)
    density, coverage = density_coverage(x, x)
    assert coverage == 1.0 and density >= 1.0
    assert density_coverage(x, x + 100) == (0.0, 0.0)
    # a collapsed generator: high precision, low recall and coverage
    collapsed = x[:1] + 0.01 * rng.normal(size=(300, 8))
    p, r = precision_recall(x, collapsed)
    _, cov = density_coverage(x, collapsed)
    assert p > 0.9 and r < 0.05 and cov < 0.05


@pytest.fixture(scope="module")
def effnet():
    from gankit.metrics.backbones import build_backbone

    return build_backbone("effnet-lite0")


def test_effnet_weights_are_really_loaded(effnet):
    """A natural photo shipped with scikit-image (Chelsea the cat) is classified as a cat."""
    import skimage.data
    import torch

    img = torch.from_numpy(skimage.data.chelsea()).permute(2, 0, 1).float()[None] / 127.5 - 1
    feats, probs = effnet.extract(img)
    assert feats.shape == (1, 1280) and probs.shape == (1, 1000)
    assert int(probs.argmax()) in (281, 282, 285)  # tabby, tiger cat, Egyptian cat
    assert probs.max() > 0.5


def test_fid_cli_on_folders_and_stats(tmp_path, capsys, effnet):
    from PIL import Image

    from gankit.cli import main

    rng = np.random.default_rng(0)
    for name, shift in (("a", 0), ("b", 0), ("c", 120)):
        (tmp_path / name).mkdir()
        for i in range(6):
            arr = np.clip(rng.normal(100 + shift, 30, (20, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / name / f"{i}.png")
    assert main(["fid", str(tmp_path / "a"), str(tmp_path / "a")]) == 0
    assert "fid_effnet_lite0: 0.0000" in capsys.readouterr().out
    assert main(["fid", str(tmp_path / "a"), "--save-stats", str(tmp_path / "a.npz")]) == 0
    capsys.readouterr()
    assert main(["fid", str(tmp_path / "a.npz"), str(tmp_path / "b")]) == 0
    near = float(capsys.readouterr().out.split()[1])
    assert main(["fid", str(tmp_path / "a.npz"), str(tmp_path / "c")]) == 0
    far = float(capsys.readouterr().out.split()[1])
    assert 0 < near < far


def test_fid_cli_bad_input(tmp_path, capsys):
    from gankit.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["fid", str(tmp_path / "empty"), str(tmp_path / "empty")]) == 2
    assert "needs at least 2" in capsys.readouterr().err
    np.savez(tmp_path / "other.npz", mu=np.zeros(3), sigma=np.eye(3), meta=np.array('{"backbone": "inception"}'))
    assert main(["fid", str(tmp_path / "other.npz"), "digits:test"]) == 2
    err = capsys.readouterr().err
    assert "backbone 'inception'" in err and "'effnet_lite0'" in err
    assert main(["fid", "nosuchthing", "digits"]) == 2
    assert "neither a folder" in capsys.readouterr().err
