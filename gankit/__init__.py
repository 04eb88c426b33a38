"""gankit: train, evaluate, compare and explore Generative Adversarial Networks.

    from gankit import load_config, train, load_run
    cfg = load_config("ring-ns", ["train.steps=500"])
    run = train(cfg, "runs/ring")
    x = load_run("runs/ring").sample(64, seed=0)
"""
from .config import Config, load_config, preset_names
from .errors import GankitError
from .run import Run, load_run
from .train import Trainer, train

__version__ = "0.1.0"

__all__ = ["Config", "GankitError", "Run", "Trainer", "load_config", "load_run", "preset_names", "train"]
