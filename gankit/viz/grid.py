"""Image grids with numpy and Pillow (no torchvision)."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..data.base import quantise
from ..io import atomic_path


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> (N, H, W, C) uint8."""
    return quantise(images.detach().cpu()).permute(0, 2, 3, 1).numpy()


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one uint8 picture (rows of ``nrow``), ``pad`` px apart."""
    arr = to_uint8(images)
    n, h, w, c = arr.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), fill, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = arr[i]
    return grid[..., 0] if c == 1 else grid


def to_pil(array: np.ndarray, scale: int = 1):
    from PIL import Image

    im = Image.fromarray(array)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    return im


def auto_scale(array: np.ndarray, target: int = 512) -> int:
    """An integer zoom that makes small grids (e.g. 8x8 digits) comfortable to look at."""
    return max(1, target // max(array.shape[:2]))


def save_grid(images: torch.Tensor, path, nrow: int | None = None) -> None:
    grid = make_grid(images, nrow)
    with atomic_path(path) as tmp:
        to_pil(grid, auto_scale(grid)).save(tmp, format="PNG")


def save_gif(frames: list[np.ndarray], path, duration_ms: int = 80) -> None:
    """An animated GIF that plays forwards then backwards, looping forever."""
    scale = auto_scale(frames[0])
    ims = [to_pil(f, scale) for f in frames + frames[-2:0:-1]]
    with atomic_path(path) as tmp:
        ims[0].save(tmp, format="GIF", save_all=True, append_images=ims[1:], duration=duration_ms, loop=0)


def save_stages(stages: list, path) -> None:
    """One row per sample, one column per stage [(label, (N, C, h, w))]: every stage enlarged to the last one's
    size (nearest neighbour, so each pixel stays visible); a stage whose label starts with "h" is a signed
    residual and is divided by its largest magnitude per image, so that zero is mid-grey."""
    import torch.nn.functional as F

    size = stages[-1][1].shape[-1]
    columns = []
    for label, x in stages:
        x = x.float()
        if label.startswith("h"):
            x = x / x.flatten(1).abs().amax(1).clamp_min(1e-8)[:, None, None, None]
        columns.append(F.interpolate(x, size=(size, size), mode="nearest"))
    grid = torch.stack(columns, 1).flatten(0, 1)  # sample-major: row i holds sample i's stages
    save_grid(grid, path, nrow=len(stages))
