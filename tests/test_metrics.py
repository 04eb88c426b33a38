"""Metrics against exact values and the scipy.linalg.sqrtm reference."""
import numpy as np
import pytest
import torch

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
    # a set against itself: subsets overlap, so exact self-pairs bias the cross term (about -0.02 here);
    # "about 0" means small next to a real difference
    self_mean, _ = kernel_inception_distance(x, x, subsets=50, subset_size=200)
    far, _ = kernel_inception_distance(x, y + 1.0, subsets=10, subset_size=200)
    assert far > 0.1 and abs(self_mean) < 0.25 * far


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
    from gankit.metrics.extractors import build_backbone

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
    assert main(["fid", str(tmp_path / "a.npz"), str(tmp_path / "b"), "--resize", "64"]) == 2
    assert "statistics at 224 px" in capsys.readouterr().err
    assert main(["fid", str(tmp_path / "a"), str(tmp_path / "b"), "--resize", "64"]) == 0


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


def test_inception_network_keys_and_shapes():
    """The FID Inception's module names and shapes match the pt_inception-2015-12-05 state dict."""
    import torch

    from gankit.metrics.inception import InceptionBackbone

    net = InceptionBackbone(load=False)
    sd = net.net.state_dict()
    expected = {"Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3), "Conv2d_1a_3x3.bn.running_var": (32,),
                "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1), "Mixed_6e.branch7x7dbl_5.conv.weight":
                (192, 192, 1, 7), "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
                "Mixed_7c.branch3x3dbl_1.conv.weight": (448, 2048, 1, 1), "fc.weight": (1008, 2048),
                "fc.bias": (1008,)}
    for k, shape in expected.items():
        assert tuple(sd[k].shape) == shape, k
    n_params = sum(p.numel() for p in net.parameters())
    # torchvision's Inception-v3: 27,161,264 parameters with the aux head; the aux head has 3,326,696
    # (1x1 conv + BN 98,560; 5x5 conv + BN 2,459,136; fc 769,000); the FID graph has 1008 classes, not 1000.
    assert n_params == 27_161_264 - 3_326_696 + 8 * 2049
    feats, probs = net.extract(torch.rand(2, 1, 28, 28) * 2 - 1)
    assert feats.shape == (2, 2048) and probs.shape == (2, 1008)


def test_inception_without_weights_says_where_to_put_them(monkeypatch, tmp_path, capsys):
    from gankit.cli import main

    monkeypatch.delenv("GANKIT_INCEPTION_WEIGHTS", raising=False)
    assert main(["fid", "digits:test", "digits:train", "--backbone", "inception"]) == 2
    err = capsys.readouterr().err
    assert "pt_inception-2015-12-05-6726825d.pth" in err and "GANKIT_INCEPTION_WEIGHTS" in err
    monkeypatch.setenv("GANKIT_INCEPTION_WEIGHTS", str(tmp_path / "nope.pth"))
    assert main(["fid", "digits:test", "digits:train", "--backbone", "inception"]) == 2
    assert "nope.pth does not exist" in capsys.readouterr().err


def _prdc_density_coverage(real, fake, k):
    """Naeem et al.'s official prdc formulas, written out in numpy (strict '<' on the ball's radius)."""
    d_rr = np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1))
    radii = np.sort(d_rr, axis=1)[:, k]  # the k+1-th smallest, the point itself included
    d_rf = np.sqrt(((real[:, None] - fake[None]) ** 2).sum(-1))
    density = (1.0 / k) * (d_rf < radii[:, None]).sum(0).mean()
    coverage = (d_rf.min(1) < radii).mean()
    return density, coverage


def test_density_coverage_follow_the_official_code_on_ties():
    """Issue 23, item 2: a lattice has many distances tied with the k-th neighbour's; the official code counts
    them as outside the ball. A tie-free set against itself has density exactly 1."""
    lattice = np.stack(np.meshgrid(np.arange(6.0), np.arange(6.0)), -1).reshape(-1, 2)
    shifted = lattice + np.array([0.5, 0.0])
    for real, fake in ((lattice, lattice), (lattice, shifted), (lattice, lattice[::2])):
        ours = density_coverage(real, fake, k=5)
        ref = _prdc_density_coverage(real, fake, 5)
        assert ours[0] == pytest.approx(ref[0], abs=1e-12) and ours[1] == pytest.approx(ref[1], abs=1e-12)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 5))
    assert density_coverage(x, x, k=5) == (pytest.approx(1.0, abs=1e-12), 1.0)
    assert density_coverage(lattice, lattice, k=5)[0] != pytest.approx(1.2)


@pytest.mark.parametrize("n", [999, 1001, 25])
def test_inception_score_chunks_where_the_original_code_does(n):
    """Issue 23, item 3: chunk i is [floor(i N / s), floor((i + 1) N / s)), as in openai/improved-gan."""
    rng = np.random.default_rng(n)
    logits = rng.normal(size=(n, 7)) * 3
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    s = 10
    scores = []
    for i in range(s):
        part = p[i * n // s : (i + 1) * n // s]
        py = part.mean(0, keepdims=True)
        scores.append(np.exp((part * (np.log(part) - np.log(py))).sum(1).mean()))
    mean, std = inception_score(p, splits=s)
    assert mean == pytest.approx(np.mean(scores), rel=1e-12) and std == pytest.approx(np.std(scores), rel=1e-9)


def test_inception_logits_leave_out_the_bias():
    """Issue 23, item 3: IS's logits are pool3 . W, without the softmax layer's bias (the original code)."""
    import torch

    from gankit.metrics.inception import FIDInceptionV3

    torch.manual_seed(0)
    net = FIDInceptionV3().eval()
    torch.nn.init.normal_(net.fc.bias, 0, 5.0)
    with torch.no_grad():
        feats, logits = net(torch.rand(2, 3, 75, 75))
    assert torch.allclose(logits, feats @ net.fc.weight.T)
    assert not torch.allclose(logits, net.fc(feats), atol=1e-3)


def test_eval_records_the_kid_subset_and_warns_when_fid_has_fewer_samples_than_dimensions(tmp_path):
    """Issue 23, item 5."""
    from gankit import load_config, train
    from gankit.metrics.evaluate import evaluate_run, format_table

    cfg = load_config(None, ["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8", "latent.dim=8",
                             "train.steps=1", "train.batch_size=8", "train.n_samples=8"])
    run = train(cfg, tmp_path / "run", progress=False, tensorboard=False)
    report = evaluate_run(run, ("fid", "kid"), n=40, backbone="effnet-lite0")
    protocol = report["protocol"]
    assert protocol["kid_subset_size"] == 40
    assert protocol["preprocessing"].startswith("bilinear") and protocol["comparable_with_papers"] is False
    assert any("fewer samples than dimensions" in w and "1280" in w for w in protocol["warnings"])
    assert "warning: FID from 40 samples" in format_table(report)


@pytest.mark.parametrize("backbone", ["effnet-lite0", "classifier:digits"])
def test_a_split_saved_as_png_scores_fd_zero_against_the_split_itself(tmp_path, backbone, monkeypatch):
    """Issue 23, item 1: every source goes through one preprocessing path (native size, then the backbone's
    resize); before, a folder was resized by PIL while loading and a dataset by the backbone (FD 9.46 on MNIST)."""
    from PIL import Image

    from gankit.config import DataConfig
    from gankit.data import build_dataset
    from gankit.metrics.extractors import build_backbone
    from gankit.metrics.fid_cli import save_stats, stats_for
    from gankit.metrics.frechet import frechet_distance
    from gankit.viz.grid import to_uint8

    if backbone.startswith("classifier"):
        from gankit.metrics.classifier import train_classifier

        monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))  # a one-epoch classifier, not the user's

        train_classifier("digits", epochs=1, progress=False)
    images = build_dataset(DataConfig(name="digits", split="test", limit=120)).images()
    folder = tmp_path / "png"
    folder.mkdir()
    for i, arr in enumerate(to_uint8(images)):
        Image.fromarray(arr[..., 0]).save(folder / f"{i:04d}.png")
    bb = build_backbone(backbone)
    ref = stats_for("digits:test", bb, limit=120)
    from_folder = stats_for(str(folder), bb)
    assert from_folder[2] == ref[2] == 120
    fd = frechet_distance(ref[0], ref[1], from_folder[0], from_folder[1])
    assert abs(fd) <= 1e-6 * max(1.0, float(np.trace(ref[1])))
    save_stats(tmp_path / "s.npz", *from_folder[:2], bb, 120, str(folder))
    mu, sigma, _ = stats_for(str(tmp_path / "s.npz"), bb)
    assert abs(frechet_distance(ref[0], ref[1], mu, sigma)) <= 1e-6 * max(1.0, float(np.trace(ref[1])))


def test_statistics_made_by_another_preprocessing_path_are_refused(tmp_path, capsys):
    from gankit.cli import main

    np.savez(tmp_path / "old.npz", mu=np.zeros(3), sigma=np.eye(3),
             meta=np.array('{"backbone": "effnet_lite0", "resize": 224, "n": 10, "source": "x"}'))
    assert main(["fid", str(tmp_path / "old.npz"), "digits:test"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "another preprocessing path" in err and "--save-stats" in err


def _bilinear_reference(img, out_h, out_w, source):
    """Bilinear resize written per pixel: target index i reads source coordinate source(i, n_in, n_out), and lerps
    between its floor and floor + 1 (clamped to the last pixel)."""
    in_h, in_w = img.shape
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        y = source(i, in_h, out_h)
        y0 = int(np.floor(y))
        y1, fy = min(y0 + 1, in_h - 1), y - y0
        for j in range(out_w):
            x = source(j, in_w, out_w)
            x0 = int(np.floor(x))
            x1, fx = min(x0 + 1, in_w - 1), x - x0
            top = img[y0, x0] + (img[y0, x1] - img[y0, x0]) * fx
            bottom = img[y1, x0] + (img[y1, x1] - img[y1, x0]) * fx
            out[i, j] = top + (bottom - top) * fy
    return out


def _tf1_resize_reference(img, out_h, out_w):
    """TF 1.x resize_bilinear (align_corners=False, half_pixel_centers=False), from its documented formula:
    in = out * (in_size / out_size)."""
    return _bilinear_reference(img, out_h, out_w, lambda i, n_in, n_out: i * n_in / n_out)


def _half_pixel_reference(img, out_h, out_w):
    """pytorch-fid's resize (F.interpolate, bilinear, align_corners=False): in = (out + 0.5) * scale - 0.5,
    clamped at 0."""
    return _bilinear_reference(img, out_h, out_w, lambda i, n_in, n_out: max((i + 0.5) * n_in / n_out - 0.5, 0.0))


def test_each_inception_protocol_matches_its_reference_preprocessing():
    """Issue 23, item 4: the TF-faithful resize against TF 1.x's formula, pytorch-fid's against its own; the tf
    protocol quantises to uint8 first and scales by (u - 128) / 128."""
    import torch

    from gankit.metrics.inception import InceptionBackbone, resize_bilinear_tf1

    rng = np.random.default_rng(0)
    img = rng.random((7, 9)) * 255
    ours = resize_bilinear_tf1(torch.from_numpy(img)[None, None], (20, 13))[0, 0].numpy()
    np.testing.assert_allclose(ours, _tf1_resize_reference(img, 20, 13), atol=1e-9)

    x = torch.rand(1, 1, 28, 28, dtype=torch.float64) * 2 - 1
    tf = InceptionBackbone(load=False, protocol="tf").prepare(x.float())
    u = np.round((x[0, 0].numpy() + 1) * 127.5)
    np.testing.assert_allclose(tf[0, 0].numpy(), (_tf1_resize_reference(u, 299, 299) - 128) / 128, atol=1e-5)
    assert tf.shape == (1, 3, 299, 299) and torch.equal(tf[:, 0], tf[:, 2])
    pt = InceptionBackbone(load=False, protocol="pytorch-fid").prepare(x.float())
    np.testing.assert_allclose(pt[0, 0].numpy(), _half_pixel_reference(x[0, 0].numpy(), 299, 299), atol=1e-5)
    assert not np.allclose(tf[0, 0].numpy(), pt[0, 0].numpy(), atol=1e-3)  # the two protocols do differ


def test_protocols_are_named_recorded_and_not_mixed(tmp_path, capsys):
    from gankit.cli import main
    from gankit.metrics.fid_cli import PREPROCESSING

    assert main(["fid", "digits:test", "digits:train", "--protocol", "tf"]) == 2
    assert "--protocol applies to the inception backbone only" in capsys.readouterr().err
    meta = ('{"backbone": "inception", "resize": 299, "n": 10, "source": "x", "protocol": "pytorch-fid", '
            f'"preprocessing": "{PREPROCESSING}"}}')
    np.savez(tmp_path / "pt.npz", mu=np.zeros(3), sigma=np.eye(3), meta=np.array(meta))
    import gankit.metrics.inception as inc

    class Fake(inc.InceptionBackbone):
        def __init__(self, **kw):
            super().__init__(load=False, **kw)

    from gankit.metrics.fid_cli import stats_for
    from gankit.metrics.frechet import FeatureError

    with pytest.raises(FeatureError, match="'pytorch-fid' preprocessing"):
        stats_for(str(tmp_path / "pt.npz"), Fake(protocol="tf"))
    assert stats_for(str(tmp_path / "pt.npz"), Fake(protocol="pytorch-fid"))[2] == 10


class _CountingBackbone(torch.nn.Module):
    """A tiny deterministic backbone that counts the images it sees and can fail after some calls."""

    name, protocol, input_size, feature_dim = "counting", "default", 16, 4

    def __init__(self, fail_after=None):
        super().__init__()
        self.seen, self.calls, self.fail_after = 0, 0, fail_after

    def extract(self, images, batch_size=100, progress=False):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        self.seen += len(images)
        x = images.flatten(1).double()
        feats = torch.stack([x.mean(1), x.std(1), x[:, 0], x[:, -1]], 1)
        return feats.numpy(), torch.softmax(feats, 1).numpy()


def test_real_features_are_extracted_in_chunks_and_resume_after_an_interruption(tmp_path, monkeypatch):
    """Issue 23, item 6: an extraction interrupted after two chunks computes only the rest when run again, and
    gives the same features as one uninterrupted run; the chunks are removed once the whole set is cached."""
    from gankit import load_config
    from gankit.metrics import evaluate

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(evaluate, "FEATURE_CHUNK", 100)
    data = load_config(None, ["data.name=digits", "data.image_size=16"]).data
    straight = _CountingBackbone()
    want, _, n = evaluate.real_features(data, "test", straight, 300)
    assert n == 300 and straight.seen == 300 and straight.calls == 3
    for f in (tmp_path / "cache").rglob("*.npz"):
        f.unlink()  # start again, interrupted this time
    with pytest.raises(KeyboardInterrupt):
        evaluate.real_features(data, "test", _CountingBackbone(fail_after=2), 300)
    resumed = _CountingBackbone()
    got, _, _ = evaluate.real_features(data, "test", resumed, 300)
    assert resumed.seen == 100 and np.array_equal(got, want)
    assert not list((tmp_path / "cache").rglob("*.parts"))


def test_eval_keeps_its_samples_as_the_bytes_a_saved_image_holds(tmp_path):
    """Issue 23, item 6: `gankit eval`'s samples are uint8 (50,000 fit in memory), quantised as a PNG would be, and
    the pixel metrics read them as such."""
    from gankit import load_config, train
    from gankit.metrics.evaluate import fake_images, to_unit
    from gankit.metrics.msssim import ms_ssim_diversity

    cfg = load_config(None, ["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8", "latent.dim=8",
                             "train.steps=1", "train.batch_size=8", "train.n_samples=8"])
    run = train(cfg, tmp_path / "r", progress=False, tensorboard=False)
    fake = fake_images(run, 30, seed=2, batch=12)
    assert fake.dtype == torch.uint8 and fake.shape == (30, 1, 16, 16)
    direct = torch.cat([run.sample(12, seed=2), run.sample(12, seed=14), run.sample(6, seed=26)])
    assert torch.equal(fake, ((direct.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    assert ms_ssim_diversity(fake, pairs=50) == pytest.approx(ms_ssim_diversity(to_unit(fake), pairs=50), abs=1e-12)


def test_an_interrupted_eval_resumes_the_features_of_its_samples(tmp_path, monkeypatch):
    """The samples' features go through saved chunks too (keyed by run, step, weights file, seed and n): a run
    interrupted during their extraction computes only the missing chunks when evaluated again."""
    from gankit import load_config, train
    from gankit.metrics import evaluate

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(evaluate, "FEATURE_CHUNK", 10)
    cfg = load_config(None, ["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8", "latent.dim=8",
                             "train.steps=1", "train.batch_size=8", "train.n_samples=8"])
    run = train(cfg, tmp_path / "r", progress=False, tensorboard=False)
    calls = {"n": 0, "fail_at": None, "images": 0}
    real = _CountingBackbone()

    class Flaky(_CountingBackbone):
        def extract(self, images, batch_size=100, progress=False):
            calls["n"] += 1
            if calls["fail_at"] is not None and calls["n"] == calls["fail_at"]:
                raise KeyboardInterrupt
            calls["images"] += len(images)
            return real.extract(images)

    monkeypatch.setattr(evaluate, "build_backbone", lambda *a, **k: Flaky())
    evaluate.real_features(cfg.data, "test", Flaky(), 30)  # the reference first: only the samples are counted below
    calls.update(n=0, images=0, fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        evaluate.evaluate_run(run, ("fid",), n=30, backbone="counting")
    calls.update(n=0, images=0, fail_at=None)
    report = evaluate.evaluate_run(run, ("fid",), n=30, backbone="counting")
    # the one chunk of samples left (10), then the class histogram's pass over all 30 samples (never cached)
    assert calls["images"] == 10 + 30 and np.isfinite(report["scores"]["fid_counting"])
    assert not list((tmp_path / "cache").rglob("*.parts"))


def test_removing_saved_chunks_deletes_only_what_the_extraction_wrote(tmp_path):
    """remove_chunks deletes chunk files (and their kill-left temporaries) only: a parts folder that is a symlink to
    a user's folder, or that holds other files, keeps them; a name reaching outside ('..') is never deleted."""
    from gankit.metrics.evaluate import remove_chunks

    parts = tmp_path / "x.parts"
    parts.mkdir()
    for name in ("000000000-000000010.npz", ".000000010-000000020.npz.abc123.tmp"):
        (parts / name).write_bytes(b"chunk")
    remove_chunks(parts)
    assert not parts.exists()

    user = tmp_path / "user"
    user.mkdir()
    (user / "000000000-000000010.npz").write_bytes(b"the user's")
    (user / "notes.txt").write_text("keep")
    link = tmp_path / "y.parts"
    link.symlink_to(user, target_is_directory=True)
    remove_chunks(link)
    assert (user / "000000000-000000010.npz").read_bytes() == b"the user's" and link.is_symlink()

    mixed = tmp_path / "z.parts"
    mixed.mkdir()
    (mixed / "000000000-000000010.npz").write_bytes(b"chunk")
    (mixed / "photo.png").write_bytes(b"keep")
    (mixed / "inner").symlink_to(user, target_is_directory=True)
    remove_chunks(mixed)
    assert sorted(p.name for p in mixed.iterdir()) == ["inner", "photo.png"] and (user / "notes.txt").exists()
    for odd in (tmp_path / "..", tmp_path / ".", tmp_path / ""):
        remove_chunks(odd)  # not a parts folder of ours: nothing in it matches, and the folder stays
    assert tmp_path.exists() and user.exists()


def test_reference_features_of_two_image_folders_are_cached_apart(tmp_path, monkeypatch):
    """The cache key holds the whole data config: data.root of a folder dataset changes it."""
    from gankit import load_config
    from gankit.metrics import evaluate
    from gankit.viz.grid import make_grid, to_pil

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    for name, value in (("a", -1.0), ("b", 1.0)):
        (tmp_path / name).mkdir()
        for i in range(3):
            to_pil(make_grid(torch.full((1, 1, 8, 8), value * (0.5 + i / 10)), nrow=1, pad=0)).save(tmp_path / name / f"{i}.png")
    feats = [evaluate.real_features(load_config(None, ["data.name=folder", f"data.root={tmp_path / n}",
                                                       "data.image_size=8"]).data, "all", _CountingBackbone(), 10)[0]
             for n in ("a", "b")]
    assert not np.allclose(feats[0], feats[1])
