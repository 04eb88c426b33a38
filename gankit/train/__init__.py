"""The trainer: loop, n_critic, optimisers per network, EMA of G, schedules, checkpoints, logging."""
from .trainer import Trainer, resolve_device, train

__all__ = ["Trainer", "resolve_device", "train"]
