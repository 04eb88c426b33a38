"""2-D toy distributions for seeing GAN training and mode collapse.

Ring of 8 Gaussians (Metz et al. 2017, unrolled GAN; modes at angles 2*pi*k/8, k = 0..7), the
5x5 grid of 25 Gaussians (Dumoulin et al. 2017 / VEEGAN / PacGAN) and a noisy spiral. Samples are
drawn fresh for every batch from a seeded generator, so a toy never runs out and never repeats.
"""
from __future__ import annotations

import math

import torch

from ..registry import DATASETS
from .base import BatchStream, Dataset


class _ToyStream(BatchStream):
    def __init__(self, toy: "ToyDataset", batch_size: int, seed: int, device):
        self.toy, self.batch_size, self.device = toy, batch_size, torch.device(device)
        self.gen = torch.Generator().manual_seed(seed)

    def next(self, batch_size=None, resolution=None):
        self._refuse_changes(batch_size, resolution)
        return self.toy.sample(self.batch_size, self.gen).to(self.device), None

    def state_dict(self):
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state):
        self.gen.set_state(state["gen"])


class ToyDataset(Dataset):
    kind = "points"
    shape = (2,)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def density(self, xy: torch.Tensor) -> torch.Tensor:
        """p_data at points ``xy`` (N, 2), for contour plots and the optimal discriminator."""
        raise NotImplementedError

    def extent(self) -> float:
        """Half-width of a square that holds nearly all of the mass (for plots)."""
        raise NotImplementedError

    def stream(self, batch_size, seed, device="cpu"):
        return _ToyStream(self, batch_size, seed, device)


class GaussianMixture2D(ToyDataset):
    """An equal-weight mixture of isotropic Gaussians with std ``std`` at ``centers`` (K, 2)."""

    def __init__(self, centers: torch.Tensor, std: float, name: str):
        self.centers, self.std, self.name = centers.double(), float(std), name

    def sample(self, n, generator=None):
        k = torch.randint(len(self.centers), (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64) * self.std
        return (self.centers[k] + noise).float()

    def density(self, xy):
        d2 = ((xy.double()[:, None, :] - self.centers[None]) ** 2).sum(-1)
        comp = torch.exp(-d2 / (2 * self.std**2)) / (2 * math.pi * self.std**2)
        return comp.mean(1)

    def extent(self):
        return float(self.centers.abs().max()) + 4 * self.std + 0.5

    def mode_stats(self, samples: torch.Tensor) -> dict:
        from ..metrics.modes import mode_stats

        return mode_stats(samples, self.centers, self.std)

    def describe(self):
        return f"{self.name}: {len(self.centers)} Gaussians, std {self.std}"


def ring_centers(n: int, radius: float) -> torch.Tensor:
    angles = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], 1)


def grid_centers(side: int, spacing: float) -> torch.Tensor:
    ticks = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], 1)


class Spiral2D(ToyDataset):
    """Points on an Archimedean spiral r = radius * t / (3 pi), t ~ U(0, 3 pi), plus Gaussian noise."""

    def __init__(self, radius: float, std: float):
        self.radius, self.std, self.name = float(radius), float(std), "spiral"
        self.turns = 3 * math.pi

    def _curve(self, t):
        r = self.radius * t / self.turns
        return torch.stack([r * torch.cos(t), r * torch.sin(t)], -1)

    def sample(self, n, generator=None):
        t = torch.rand(n, generator=generator, dtype=torch.float64) * self.turns
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64) * self.std
        return (self._curve(t) + noise).float()

    def density(self, xy):
        # A mixture of many small Gaussians along the curve: exact enough for contours.
        t = torch.linspace(0, self.turns, 400, dtype=torch.float64)
        return GaussianMixture2D(self._curve(t), self.std, "spiral").density(xy)

    def extent(self):
        return self.radius + 4 * self.std + 0.5

    def describe(self):
        return f"spiral: radius {self.radius}, std {self.std}"


@DATASETS.register("ring8")
def ring8(cfg) -> GaussianMixture2D:
    """8 Gaussians on a circle of radius ``data.radius`` (default 2), std ``data.std``."""
    return GaussianMixture2D(ring_centers(8, cfg.radius), cfg.std, "ring8")


@DATASETS.register("grid25")
def grid25(cfg) -> GaussianMixture2D:
    """25 Gaussians on a 5x5 grid with spacing ``data.radius`` (radius 2: centres at {-4,-2,0,2,4}^2)."""
    return GaussianMixture2D(grid_centers(5, cfg.radius), cfg.std, "grid25")


@DATASETS.register("spiral")
def spiral(cfg) -> Spiral2D:
    """A noisy spiral of outer radius ``data.radius`` (one continuous mode)."""
    return Spiral2D(cfg.radius, cfg.std)
