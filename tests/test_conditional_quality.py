"""Issue 5's quality bar (slow): conditional samples are the class asked for, read by gankit's classifier.

Each run is a full preset (3,000-9,000 steps, about 4-23 minutes each on one CPU thread); 1,000 samples each.
"""
import pytest
import torch

from conftest import fashion_available
from gankit import load_config, train
from gankit.errors import GankitError
from gankit.metrics.conditional import category_accuracy, class_accuracy

pytestmark = pytest.mark.slow

# Measured on 2026-11-23 (seed 0, 1,000 samples, one CPU thread): mnist-cgan 97.1 % and mnist-acgan
# 97.4 %, mnist-projection 97.1 % (6,000 steps; at 3,500 they were 91.5 %, 94.7 % and 77.8 %),
# the old mnist-infogan 52.2 % and 40.7 % (seeds 0 and 2). Fashion-MNIST (2026-11-24, 3,000 steps, the fashion-mnist
# classifier at 91.8 % on real test images): fashion-acgan 88.6 % (241 s), fashion-cgan 77.8 % (281 s; pullover
# 27 %, shirt 54 %), 83.4 % at 6,000 steps and 86.3 % at 9,000 (the preset now, 1,295 s beside two other jobs;
# 86.4 % in 511 s with two threads alone),
# fashion-projection 50.6 % (225 s), and 88.7 % at 6,000 steps (447 s, the preset now). Every preset here now
# reaches its bar on the measured seeds.


def _classifier(dataset):
    from gankit.metrics.classifier import load_classifier, train_classifier

    try:
        load_classifier(dataset)
    except GankitError:
        train_classifier(dataset, progress=False)


CASES = [
    ("cgan", "mnist", 0.95), ("acgan", "mnist", 0.95), ("projection", "mnist", 0.95),
    ("acgan", "fashion", 0.85), ("projection", "fashion", 0.85), ("cgan", "fashion", 0.85),
]


@pytest.mark.parametrize("recipe,dataset,bar", CASES)
def test_conditional_samples_have_the_requested_class(tmp_path, recipe, dataset, bar):
    if dataset == "fashion" and not fashion_available():
        pytest.skip("apt-get install dataset-fashion-mnist")
    cfg = load_config(f"{dataset}-{recipe}")
    _classifier(cfg.data.name)
    run = train(cfg, tmp_path / "run", progress=False, tensorboard=False)
    score = class_accuracy(run, n=1000)
    print(recipe, dataset, score)
    assert score["class_accuracy"] >= bar, score


@pytest.fixture
def one_thread():
    """Run on one intra-op thread (then restore): the float order, and so the trajectory, is the measured one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_infogan_categorical_code_finds_the_digits(tmp_path, one_thread):
    """The paper: 5 % error on full MNIST. Bar: >= 90 % Hungarian-matched accuracy in 2 of 3 seeds.

    Measured on 2026-11-24 (the preset: the authors' launcher settings, 5,000 steps of batch 128, one CPU thread,
    about 23 min per seed beside another run, scoring every checkpoint): seeds 0 / 1 / 2 give 93.2 / 98.4 /
    86.7 %. The thread count changes the float order and so the trajectory, as a new seed would: seed 0 with
    two threads gave 86.4 % (89.9 % after 8,000 steps; seed 2 reached 84.5 % at 8,000). The test runs on one
    thread so that its verdict is the measured one and does not depend on the machine's core count.
    """
    _classifier("mnist5k")
    scores = []
    for seed in range(3):
        run = train(load_config("mnist-infogan", [f"train.seed={seed}"]), tmp_path / f"s{seed}", progress=False,
                    tensorboard=False)
        scores.append(category_accuracy(run, n=1000)["category_accuracy"])
    print("infogan", scores)
    assert sum(s >= 0.90 for s in scores) >= 2, scores
