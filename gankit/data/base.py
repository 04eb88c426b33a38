"""What every dataset gives the trainer: examples as tensors, and a resumable batch stream.

Small datasets live in memory as one uint8 tensor (converted to [-1, 1] floats per batch), so
there is no DataLoader and no worker process. A stream's position and random state are part of
the checkpoint, so a resumed run sees exactly the batches an uninterrupted one would.
"""
from __future__ import annotations

from typing import Optional

import torch


def quantise(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] as the 8-bit values a saved PNG holds (uint8, same shape)."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def from_bytes(x: torch.Tensor) -> torch.Tensor:
    """8-bit images as floats in [-1, 1] (the inverse of :func:`quantise` on its values)."""
    return x.float() / 127.5 - 1.0


class BatchStream:
    """An endless stream of batches; ``state_dict`` captures its exact position."""

    def next(self, batch_size: Optional[int] = None, resolution: Optional[int] = None) -> tuple:
        """The next batch; ``batch_size`` and ``resolution`` change what this one call delivers (a recipe's
        :class:`~gankit.recipes.base.StepPlan`); streams that cannot do so refuse in one line."""
        raise NotImplementedError

    def _refuse_changes(self, batch_size, resolution) -> None:
        if batch_size is not None or resolution is not None:
            from ..errors import ConfigError

            raise ConfigError(f"this dataset's batches ({type(self).__name__}) cannot change batch size or "
                              "resolution during a run; use an image dataset with this recipe")

    def state_dict(self) -> dict:
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError


class Dataset:
    """Base of all datasets. ``shape`` is one example's shape; ``num_classes`` is None when unlabelled."""

    kind = "image"  # "image" (C, H, W in [-1, 1]) or "points" (D-dim vectors)
    shape: tuple = ()
    num_classes: Optional[int] = None
    class_names: Optional[list] = None
    #: how gankit scores translations of this data (``gankit eval --metrics transfer``, gankit.metrics.translation):
    #: ("paired", classifier), ("sides", classifier, (class of A, class of B)), ("attributes", digit classifier),
    #: or None when it cannot judge them (the user's folders, and every dataset that is not translated)
    judge: Optional[tuple] = None

    def stream(self, batch_size: int, seed: int, device: torch.device | str = "cpu") -> BatchStream:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{type(self).__name__} shape={self.shape}"


class _EpochStream(BatchStream):
    """Shuffled epochs over an in-memory tensor; the last incomplete batch of an epoch is dropped."""

    def __init__(self, data: "TensorDataset", batch_size: int, seed: int, device):
        if batch_size > len(data):
            from ..errors import ConfigError

            raise ConfigError(
                f"train.batch_size = {batch_size} is larger than the dataset ({len(data)} examples); lower it"
            )
        self.data, self.batch_size, self.device = data, batch_size, torch.device(device)
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(len(data), generator=self.gen)
        self.pos = 0
        self.x = data.x.to(self.device)
        self.y = None if data.y is None else data.y.to(self.device)

    def next(self, batch_size=None, resolution=None):
        n = batch_size or self.batch_size
        if n > len(self.data):
            from ..errors import ConfigError

            raise ConfigError(f"a batch of {n} is larger than the dataset ({len(self.data)} examples)")
        if self.pos + n > len(self.perm):
            self.perm = torch.randperm(len(self.data), generator=self.gen)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + n].to(self.device)
        self.pos += n
        x = self.x[idx].float().div_(127.5).sub_(1.0)
        if resolution is not None and resolution != x.shape[-1]:
            x = downsample(x, resolution)
        return x, (None if self.y is None else self.y[idx])

    def state_dict(self):
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state):
        self.gen.set_state(state["gen"])
        self.perm = state["perm"].clone()
        self.pos = int(state["pos"])


def downsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """Images at ``size`` x ``size``: box filtering (the mean of each k x k block) when the size divides,
    as ProGAN's reals at a lower level of detail; antialiased bilinear otherwise."""
    import torch.nn.functional as F

    k = x.shape[-1] // size
    if k * size == x.shape[-1] and x.shape[-2] == x.shape[-1]:
        return F.avg_pool2d(x, k)
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class TensorDataset(Dataset):
    """Images held as uint8 (N, C, H, W), labels as int64 (N,) or None."""

    def __init__(self, x: torch.Tensor, y: Optional[torch.Tensor] = None, num_classes: Optional[int] = None,
                 class_names: Optional[list] = None, name: str = "images"):
        assert x.dtype == torch.uint8 and x.dim() == 4, "images are stored as uint8 (N, C, H, W)"
        self.x, self.y, self.name = x, y, name
        self.shape = tuple(x.shape[1:])
        self.num_classes = num_classes
        self.class_names = class_names

    def __len__(self):
        return self.x.shape[0]

    def images(self) -> torch.Tensor:
        """All examples as floats in [-1, 1]."""
        return from_bytes(self.x)

    def stream(self, batch_size, seed, device="cpu"):
        return _EpochStream(self, batch_size, seed, device)

    def describe(self):
        labels = f", {self.num_classes} classes" if self.num_classes else ", unlabelled"
        c, h, w = self.shape
        return f"{self.name}: {len(self)} images {c}x{h}x{w}{labels}"
