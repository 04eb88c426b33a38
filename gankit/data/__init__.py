"""Datasets: 2-D toys, MNIST-5k, Fashion-MNIST, sklearn digits and image folders, by name."""
from ..registry import DATASETS
from . import captions, images, toys, translation  # noqa: F401  (registers the datasets)
from .base import BatchStream, Dataset, TensorDataset
from .toys import ToyDataset


def build_dataset(cfg):
    """The dataset named by a :class:`~gankit.config.DataConfig`."""
    return DATASETS.get(cfg.name)(cfg)


__all__ = ["BatchStream", "Dataset", "TensorDataset", "ToyDataset", "build_dataset"]
