"""Every preset trains; the default one produces recognisable digits (slow)."""
import numpy as np
import pytest

from conftest import fashion_available
from gankit import load_config, preset_names, train


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_trains_a_few_steps(name, tmp_path):
    cfg = load_config(name)
    if cfg.data.name in ("fashion-mnist", "edges2fashion", "sneaker2boot") and not fashion_available():
        pytest.skip("apt-get install dataset-fashion-mnist")
    cfg = load_config(name, ["train.steps=3", "train.batch_size=16", "data.limit=64", "train.log_every=1"])
    run = train(cfg, tmp_path / name, progress=False, tensorboard=False)
    rows = [r for r in run.metrics() if "d_loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(isinstance(rows[-1][k], float) for k in ("d_loss", "g_loss"))
    if cfg.data.name in ("ring8", "grid25"):  # toy runs also log mode coverage with their samples
        assert any("toy/modes_covered" in r for r in run.metrics())
    assert (run.path / "samples" / "final.png").exists()


@pytest.mark.slow
def test_default_preset_makes_recognisable_digits(tmp_path):
    """Full `mnist-dcgan` (about 3 minutes). A classifier trained on real MNIST-5k (about 95 % held-out
    accuracy) reads the samples: measured mean confidence 0.88 on generated digits (0.97 on real test
    digits, 0.47 on uniform noise) and every class present. The bar is set below that."""
    from sklearn.neural_network import MLPClassifier

    from gankit.config import DataConfig
    from gankit.data import build_dataset

    run = train(load_config("mnist-dcgan"), tmp_path / "mnist", progress=False, tensorboard=False)
    real = build_dataset(DataConfig(name="mnist5k", split="train"))
    clf = MLPClassifier(hidden_layer_sizes=(256,), max_iter=60, random_state=0)
    clf.fit(real.images().flatten(1).numpy(), real.y.numpy())
    probs = clf.predict_proba(run.sample(1000, seed=0).flatten(1).numpy())
    hist = np.bincount(probs.argmax(1), minlength=10) / len(probs)
    assert probs.max(1).mean() >= 0.8, probs.max(1).mean()
    assert hist.min() >= 0.02, hist  # no digit class is dropped (no mode collapse)
