"""Differentiable augmentation of everything D sees (DiffAugment; Zhao, Liu, Lin, Zhu and Han, NeurIPS 2020,
arXiv 2006.10738, sec. 3).

On a few thousand images D memorises the training set and its feedback to G degrades. DiffAugment applies one
random transformation T to every image D judges, real and fake alike, in D's step and in G's step, and G's
gradient flows back through T: D(T(x)) against D(T(G(z))). Because fakes are augmented too, G is not pushed to
produce augmented images (augmenting the reals alone would teach G to draw shifted, cut-out digits; the paper's
fig. 3). The policies are the paper's three, each drawn independently per image:

- ``translation``: a shift by up to 1/8 of the image's height and width, whole pixels, zero padding;
- ``cutout``: a square of half the image's side, at a random centre, set to zero;
- ``color``: brightness (add U[-0.5, 0.5]), saturation (scale each pixel's deviation from its channel mean by
  U[0, 2]) and contrast (scale the deviation from the image mean by U[0.5, 1.5]), in that order.

Images are in [-1, 1], so zero is mid-grey, as in the authors' code. ``color`` changes colours: leave it out
where the classes or attributes are colours. A stack of k images along the channels (pix2pix's (input, output)
pair) is transformed as one: the same shift and cut-out for all of them, colour per image of ``channels``.

``train.augment=translation,cutout`` is the authors' advice for small data (their README; BigGAN on 10 % of
CIFAR-10: FID 48.3 -> 23.9 as reproduced in the DAG authors' table, see ../shared/references/first-run.md).
"""
from __future__ import annotations

import torch

from ..errors import ConfigError

POLICIES = ("translation", "cutout", "color")


def parse_policy(text: str) -> tuple:
    """``"translation,cutout"`` -> ("translation", "cutout"); unknown names are refused in one line."""
    names = tuple(p.strip() for p in (text or "").split(",") if p.strip())
    for name in names:
        if name not in POLICIES:
            from ..registry import closest
            raise ConfigError(f"train.augment: unknown augmentation '{name}'{closest(name, POLICIES)}; "
                              f"choose from {', '.join(POLICIES)} (comma-separated), or leave it empty")
    if len(set(names)) != len(names):
        raise ConfigError(f"train.augment names an augmentation twice: '{text}'")
    return names


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Each image shifted by whole pixels, dy in [-round(ratio h), round(ratio h)] and likewise dx, zero padding."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    if sy == 0 and sx == 0:
        return x
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device)
    # output pixel (i, j) reads input pixel (i - dy, j - dx) of the image padded by (sy, sx)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) - dy + sy).expand(n, h, w)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) - dx + sx).expand(n, h, w)
    padded = torch.nn.functional.pad(x, (sx, sx, sy, sy))
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Each image with a square of side round(ratio * side) zeroed, its centre uniform over the image (the square
    is clipped at the border, as in the paper's code)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= cy - ch // 2) & (rows < cy - ch // 2 + ch) & (cols >= cx - cw // 2) & (cols < cx - cw // 2 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def color(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Brightness, saturation and contrast, each with its own draw per image, applied per image of ``channels``
    channels within the stack."""
    n, c, h, w = x.shape
    if c % channels:
        raise ValueError(f"{c} channels are not a stack of {channels}-channel images")
    y = x.reshape(n, c // channels, channels, h, w)

    def draw():
        return torch.rand(n, 1, 1, 1, 1, device=x.device, dtype=x.dtype)

    y = y + (draw() - 0.5)
    mean = y.mean(dim=2, keepdim=True)
    y = (y - mean) * (draw() * 2) + mean
    mean = y.mean(dim=(2, 3, 4), keepdim=True)
    y = (y - mean) * (draw() + 0.5) + mean
    return y.reshape(n, c, h, w)


def augment(x: torch.Tensor, policy: tuple, channels: int) -> torch.Tensor:
    """x transformed by each named policy in the paper's order (color, translation, cutout), freshly drawn from
    torch's global generator (seeded and checkpointed by the trainer); differentiable in x."""
    if "color" in policy:
        x = color(x, channels)
    if "translation" in policy:
        x = translation(x)
    if "cutout" in policy:
        x = cutout(x)
    return x
