import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import fashion_available
from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.errors import DataError


def test_mnist5k_shapes_ranges_labels():
    ds = build_dataset(DataConfig(name="mnist5k", split="all"))
    assert len(ds) == 5000 and ds.shape == (1, 28, 28) and ds.num_classes == 10
    assert torch.bincount(ds.y).tolist() == [500] * 10
    x = ds.images()
    assert x.min() >= -1 and x.max() <= 1 and float(x.min()) == -1.0 and float(x.max()) == 1.0
    train, test = (build_dataset(DataConfig(name="mnist5k", split=s)) for s in ("train", "test"))
    assert len(train) == 4500 and len(test) == 500
    assert torch.bincount(test.y).tolist() == [50] * 10


@pytest.mark.skipif(not fashion_available(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_shapes_and_labels():
    ds = build_dataset(DataConfig(name="fashion-mnist", split="test"))
    assert len(ds) == 10000 and ds.shape == (1, 28, 28)
    assert torch.bincount(ds.y).tolist() == [1000] * 10
    assert ds.class_names[9] == "ankle boot"
    ds = build_dataset(DataConfig(name="fashion-mnist", split="train", image_size=32, limit=100))
    assert ds.x.shape == (100, 1, 32, 32)


def test_fashion_mnist_missing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        build_dataset(DataConfig(name="fashion-mnist"))


def test_truncated_idx_file_is_reported(tmp_path, monkeypatch):
    for stem, header in (("train-images-idx3-ubyte", b"\x00\x00\x08\x03" + (10).to_bytes(4, "big") +
                          (28).to_bytes(4, "big") * 2), ("train-labels-idx1-ubyte", b"\x00\x00\x08\x01" +
                                                          (10).to_bytes(4, "big"))):
        with gzip.open(tmp_path / f"{stem}.gz", "wb") as f:
            f.write(header + b"\x00" * 5)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(DataError, match="truncated"):
        build_dataset(DataConfig(name="fashion-mnist"))


def test_digits_upsampled_with_labels():
    ds = build_dataset(DataConfig(name="digits", split="all"))
    assert len(ds) == 1797 and ds.shape == (1, 32, 32) and ds.num_classes == 10
    assert float(ds.images().max()) == 1.0


@pytest.mark.parametrize("name,n_modes", [("ring8", 8), ("grid25", 25)])
def test_toy_mixtures(name, n_modes):
    ds = build_dataset(DataConfig(name=name, radius=2.0, std=0.02))
    x = ds.sample(4000, torch.Generator().manual_seed(0))
    assert x.shape == (4000, 2)
    stats = ds.mode_stats(x)
    # P(||x - mu|| <= 3 std) for a 2-D isotropic Gaussian is 1 - exp(-9/2) = 0.98889
    assert stats["modes_covered"] == n_modes and abs(stats["high_quality"] - (1 - np.exp(-4.5))) < 0.005
    assert stats["mode_kl"] < 0.02
    if name == "ring8":
        angles = torch.atan2(ds.centers[:, 1], ds.centers[:, 0])
        assert torch.allclose(torch.sort(torch.remainder(angles, 2 * np.pi)).values,
                              torch.arange(8, dtype=torch.float64) * 2 * np.pi / 8)
        assert torch.allclose(ds.centers.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    else:
        assert sorted(set(ds.centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_mode_stats_sees_collapse():
    ds = build_dataset(DataConfig(name="ring8", std=0.02))
    collapsed = ds.centers[:1].float().repeat(500, 1)
    stats = ds.mode_stats(collapsed)
    assert stats["modes_covered"] == 1 and stats["high_quality"] == 1.0
    assert abs(stats["mode_kl"] - np.log(8)) < 1e-9


def test_toy_density_integrates_to_one():
    ds = build_dataset(DataConfig(name="ring8", std=0.1))
    t = torch.linspace(-3, 3, 601)
    gx, gy = torch.meshgrid(t, t, indexing="ij")
    dens = ds.density(torch.stack([gx.flatten(), gy.flatten()], 1))
    assert abs(float(dens.sum()) * (6 / 600) ** 2 - 1.0) < 1e-3


def test_spiral_samples():
    ds = build_dataset(DataConfig(name="spiral", radius=2.0, std=0.02))
    x = ds.sample(1000, torch.Generator().manual_seed(0))
    assert x.shape == (1000, 2) and float(x.norm(dim=1).max()) < 2.2


def test_stream_is_resumable_and_seeded():
    ds = build_dataset(DataConfig(name="digits"))
    a = ds.stream(32, seed=3)
    for _ in range(50):  # crosses an epoch boundary (1437 / 32)
        a.next()
    state = a.state_dict()
    expected = [a.next()[1] for _ in range(5)]
    b = ds.stream(32, seed=3)
    b.load_state_dict(state)
    assert all(torch.equal(e, b.next()[1]) for e in expected)
    c = ds.stream(32, seed=4)
    assert not torch.equal(ds.stream(32, seed=3).next()[1], c.next()[1])


def _write_images(root):
    (root / "cats").mkdir(parents=True)
    (root / "dogs").mkdir()
    Image.fromarray(np.full((40, 60), 100, np.uint8), "L").save(root / "cats" / "gray_wide.png")
    rgba = np.zeros((30, 20, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:15, :, 3] = 255  # top half opaque red, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(root / "dogs" / "rgba_tall.png")
    Image.fromarray(np.full((16, 16, 3), 7, np.uint8), "RGB").save(root / "dogs" / "rgb.jpg")


def test_image_folder_rules(tmp_path):
    _write_images(tmp_path)
    ds = build_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=16))
    assert ds.x.shape == (3, 3, 16, 16)  # one colour image makes the set RGB
    assert ds.class_names == ["cats", "dogs"] and ds.y.tolist() == [0, 1, 1]
    rgba = ds.x[1]  # dogs/rgb.jpg sorts before dogs/rgba_tall.png
    rgba = ds.x[2]
    # transparent pixels composite over white; the centre crop of the tall image keeps its middle
    assert rgba[:, 0, 8].tolist() == [255, 0, 0] and rgba[:, -1, 8].tolist() == [255, 255, 255]
    gray = build_dataset(DataConfig(name="folder", root=str(tmp_path / "cats"), image_size=8))
    assert gray.x.shape == (1, 1, 8, 8) and gray.y is None and int(gray.x[0, 0, 4, 4]) == 100


def test_image_folder_names_an_unreadable_file(tmp_path):
    _write_images(tmp_path)
    good = (tmp_path / "cats" / "gray_wide.png").read_bytes()
    (tmp_path / "cats" / "broken.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="broken.png"):
        build_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=16))
    (tmp_path / "cats" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.png"):
        build_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=16))


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="data.root"):
        build_dataset(DataConfig(name="folder"))
    with pytest.raises(DataError, match="no PNG/JPEG"):
        build_dataset(DataConfig(name="folder", root=str(tmp_path)))
