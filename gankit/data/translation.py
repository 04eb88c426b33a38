"""Datasets for image-to-image translation, all offline and deterministic.

Three layouts, one stream each:

* **paired** (pix2pix): examples are (A, B) pairs; a batch is ``(a, b)`` with a[i] and b[i] aligned.
  ``edges2fashion`` (Canny edge maps -> Fashion-MNIST footwear) and ``paired-folder`` (pix2pix's
  side-by-side ``A|B`` images).
* **unpaired** (CycleGAN): two independent pools; a batch is ``(a, b)`` drawn independently.
  ``sneaker2boot``, ``mnist2digits`` and ``unpaired-folder`` (CycleGAN's ``trainA/ trainB/ testA/
  testB/`` layout).
* **domains** (StarGAN): images with categorical attributes; a batch is ``(x, attrs)`` with attrs
  (N, n_attributes) value indices. ``colordigits`` and ``domain-folder`` (one folder per domain).

A dataset's ``pairing`` says which; ``source_shape`` is A's shape (``shape`` is B's, what G makes);
``attributes`` is a tuple of (name, values) for the domain datasets.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import DataError
from ..io import atomic_path
from ..registry import DATASETS
from .base import BatchStream, Dataset, TensorDataset, _EpochStream
from .images import IMAGE_SUFFIXES, digits, fashion_mnist, load_image, mnist5k, resize_uint8

FOOTWEAR = (5, 7, 9)  # Fashion-MNIST's sandal, sneaker, ankle boot
SNEAKER, ANKLE_BOOT = 7, 9


def dataset_cache_dir() -> Path:
    return Path(os.environ.get("GANKIT_CACHE") or Path.home() / ".cache" / "gankit") / "datasets"


def _images(paths: list[Path], channels: int, size: int) -> torch.Tensor:
    return torch.from_numpy(np.stack([load_image(p, channels, size) for p in paths]))


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(127.5).sub_(1.0)


class PairedDataset(Dataset):
    """Aligned (A, B) pairs held as uint8. The stream shuffles pairs, never breaking one."""

    pairing = "paired"

    def __init__(self, a: torch.Tensor, b: torch.Tensor, name: str):
        if len(a) != len(b):
            raise DataError(f"{name}: {len(a)} A images but {len(b)} B images; a paired dataset needs one B per A")
        self.a, self.b, self.name = a, b, name
        self.shape, self.source_shape = tuple(b.shape[1:]), tuple(a.shape[1:])
        # one uint8 tensor with A's channels first, so one epoch stream keeps each pair together
        self._joined = TensorDataset(torch.cat([a, b], 1), name=name)

    def __len__(self):
        return len(self.a)

    def stream(self, batch_size, seed, device="cpu"):
        return _SplitStream(_EpochStream(self._joined, batch_size, seed, device), self.a.shape[1])

    def fixed_batch(self, n: int) -> tuple:
        n = min(n, len(self))
        return _as_float(self.a[:n]), _as_float(self.b[:n])

    def describe(self):
        return f"{self.name}: {len(self)} pairs, A {self.source_shape} -> B {self.shape}"


class _SplitStream(BatchStream):
    """Splits the channels of a joined batch back into (a, b)."""

    def __init__(self, inner: _EpochStream, channels_a: int):
        self.inner, self.ca = inner, channels_a

    def next(self, batch_size=None, resolution=None):
        self._refuse_changes(batch_size, resolution)
        x, _ = self.inner.next()
        return x[:, : self.ca], x[:, self.ca :]

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


class UnpairedDataset(Dataset):
    """Two independent pools A and B (sizes may differ); each side is shuffled on its own."""

    pairing = "unpaired"

    def __init__(self, a: torch.Tensor, b: torch.Tensor, name: str, names: tuple = ("A", "B")):
        for side, x in zip(names, (a, b)):
            if len(x) == 0:
                raise DataError(f"{name}: side {side} has no images")
        self.a, self.b, self.name, self.side_names = TensorDataset(a), TensorDataset(b), name, names
        self.shape, self.source_shape = tuple(b.shape[1:]), tuple(a.shape[1:])

    def __len__(self):
        return max(len(self.a), len(self.b))

    def stream(self, batch_size, seed, device="cpu"):
        return _TwoStreams(_EpochStream(self.a, batch_size, seed, device),
                           _EpochStream(self.b, batch_size, seed + 1, device))

    def fixed_batch(self, n: int) -> tuple:
        n = min(n, len(self.a), len(self.b))
        return self.a.images()[:n], self.b.images()[:n]

    def describe(self):
        return (f"{self.name}: {len(self.a)} {self.side_names[0]} images {self.source_shape}, "
                f"{len(self.b)} {self.side_names[1]} images {self.shape} (unpaired)")


class _TwoStreams(BatchStream):
    def __init__(self, a: _EpochStream, b: _EpochStream):
        self.a, self.b = a, b

    def next(self, batch_size=None, resolution=None):
        self._refuse_changes(batch_size, resolution)
        return self.a.next()[0], self.b.next()[0]

    def state_dict(self):
        return {"a": self.a.state_dict(), "b": self.b.state_dict()}

    def load_state_dict(self, state):
        self.a.load_state_dict(state["a"])
        self.b.load_state_dict(state["b"])


class DomainDataset(TensorDataset):
    """Images with categorical attributes: ``y`` is (N, len(attributes)) value indices, and
    ``attributes`` is a tuple of (name, (value, ...)). A domain is one value per attribute."""

    pairing = "domains"

    def __init__(self, x: torch.Tensor, y: torch.Tensor, attributes: tuple, name: str):
        super().__init__(x, y, name=name)
        self.attributes = tuple((a, tuple(v)) for a, v in attributes)
        self.source_shape = self.shape

    def fixed_batch(self, n: int) -> tuple:
        n = min(n, len(self))
        return self.images()[:n], self.y[:n]

    def describe(self):
        attrs = "; ".join(f"{a} in {{{', '.join(v)}}}" for a, v in self.attributes)
        c, h, w = self.shape
        return f"{self.name}: {len(self)} images {c}x{h}x{w}, attributes {attrs}"


def _data_config(cfg, **values):
    """A fresh data config of the same type as ``cfg`` with ``values`` (a source dataset's settings), made
    without importing gankit.config: the data layer sits above it."""
    return type(cfg)(**values)


def _limit(cfg, *tensors):
    return tuple(t[: cfg.limit] if cfg.limit is not None else t for t in tensors)


def _fashion(cfg, classes) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST images (uint8 N, 1, 28, 28) and labels of the given classes, in file order."""
    ds = fashion_mnist(_data_config(cfg, name="fashion-mnist", root=cfg.root, split=cfg.split))
    keep = torch.isin(ds.y, torch.tensor(classes))
    return ds.x[keep], ds.y[keep]


# ----------------------------------------------------------------------------- paired


def canny_edges(images: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Canny edge maps (scikit-image; Canny 1986) of uint8 (N, H, W) images: 255 on an edge, 0 elsewhere."""
    from skimage.feature import canny

    return np.stack([canny(im / 255.0, sigma=sigma) for im in images]).astype(np.uint8) * 255


@DATASETS.register("edges2fashion")
def edges2fashion(cfg) -> PairedDataset:
    """Paired edges -> Fashion-MNIST footwear (sandal, sneaker, ankle boot; 18,000 train / 3,000 test):
    A is the Canny edge map (sigma 1) of B; both padded from 28x28 to 32x32 with background.

    The edge maps are computed once per split and cached in ``$GANKIT_CACHE/datasets``."""
    x, _ = _fashion(cfg, FOOTWEAR)
    (x,) = _limit(cfg, x)
    cache = dataset_cache_dir() / f"edges2fashion-{cfg.split}-{len(x)}.npy"
    if cache.exists():
        edges = np.load(cache)
    else:
        edges = canny_edges(x[:, 0].numpy())
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, edges)
    a = torch.nn.functional.pad(torch.from_numpy(edges)[:, None], (2, 2, 2, 2))
    b = torch.nn.functional.pad(x, (2, 2, 2, 2))
    size = cfg.image_size or 32
    ds = PairedDataset(resize_uint8(a, size), resize_uint8(b, size), "edges2fashion")
    ds.judge = ("paired", "fashion-mnist")
    return ds


def _split_folder(root: Path, split: str) -> Path:
    """``root/<split>`` when it exists (pix2pix's train/ val/ test/ layout), else ``root`` itself."""
    sub = root / split
    return sub if sub.is_dir() else root


def _require_root(cfg, what: str) -> Path:
    if not cfg.root:
        raise DataError(f"dataset '{cfg.name}' needs data.root=PATH ({what})")
    root = Path(cfg.root)
    if not root.is_dir():
        raise DataError(f"data.root {root} is not a folder ({what})")
    return root


@DATASETS.register("paired-folder")
def paired_folder(cfg) -> PairedDataset:
    """The user's paired images in pix2pix's format: each file is A and B side by side (width = 2 x
    height), under ``data.root/<split>/`` (or ``data.root`` itself). Size ``data.image_size`` (default
    64); channels ``data.channels`` (default 3)."""
    from PIL import Image, UnidentifiedImageError

    root = _split_folder(_require_root(cfg, "a folder of side-by-side A|B images"), cfg.split)
    files = _image_files(root)
    if not files:
        raise DataError(f"no PNG/JPEG images found under {root}")
    if cfg.limit is not None:
        files = files[: cfg.limit]
    channels, size = cfg.channels or 3, cfg.image_size or 64
    a, b = [], []
    for path in files:
        try:
            with Image.open(path) as im:
                w, h = im.size
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as e:
            raise DataError(f"cannot read image {path}: {e}; fix or remove the file") from None
        if w != 2 * h:
            raise DataError(f"{path} is {w}x{h}; a paired image must be twice as wide as it is high (A|B side by side)")
        a.append(load_image(path, channels, size, box=(0, 0, h, h)))
        b.append(load_image(path, channels, size, box=(h, 0, 2 * h, h)))
    return PairedDataset(torch.from_numpy(np.stack(a)), torch.from_numpy(np.stack(b)), f"paired-folder:{root.name}")


# ----------------------------------------------------------------------------- unpaired


@DATASETS.register("sneaker2boot")
def sneaker2boot(cfg) -> UnpairedDataset:
    """Unpaired Fashion-MNIST sneakers (A, 6,000 train / 1,000 test) and ankle boots (B, the same), 28x28."""
    x, y = _fashion(cfg, (SNEAKER, ANKLE_BOOT))
    a, b = _limit(cfg, x[y == SNEAKER], x[y == ANKLE_BOOT])
    size = cfg.image_size or 28
    ds = UnpairedDataset(resize_uint8(a, size), resize_uint8(b, size), "sneaker2boot", ("sneaker", "ankle boot"))
    ds.judge = ("sides", "fashion-mnist", (SNEAKER, ANKLE_BOOT))
    return ds


@DATASETS.register("mnist2digits")
def mnist2digits(cfg) -> UnpairedDataset:
    """Two styles of handwriting, unpaired: MNIST-5k (A; 4,500 train / 500 test) and sklearn's 8x8 digits
    (B; 1,438 / 359), both at 32x32."""
    size = cfg.image_size or 32
    a = mnist5k(_data_config(cfg, name="mnist5k", split=cfg.split, image_size=size)).x
    b = digits(_data_config(cfg, name="digits", split=cfg.split, image_size=size)).x
    a, b = _limit(cfg, a, b)
    return UnpairedDataset(a, b, "mnist2digits", ("mnist", "digits"))


@DATASETS.register("unpaired-folder")
def unpaired_folder(cfg) -> UnpairedDataset:
    """The user's unpaired images in CycleGAN's layout: ``data.root/trainA``, ``trainB`` (split train or
    all) and ``testA``, ``testB`` (split test). Size ``data.image_size`` (default 64); channels
    ``data.channels`` (default 3)."""
    root = _require_root(cfg, "with trainA/ trainB/ testA/ testB/ sub-folders")
    part = "test" if cfg.split == "test" else "train"
    sides = []
    for side in "AB":
        folder = root / f"{part}{side}"
        if not folder.is_dir():
            raise DataError(f"unpaired data needs {folder} (CycleGAN layout: {part}A/ and {part}B/ under data.root)")
        files = _image_files(folder)
        if not files:
            raise DataError(f"{folder} has no PNG/JPEG images")
        sides.append(_images(files[: cfg.limit] if cfg.limit else files, cfg.channels or 3, cfg.image_size or 64))
    return UnpairedDataset(sides[0], sides[1], f"unpaired-folder:{root.name}")


# ----------------------------------------------------------------------------- domains

STROKES = {"red": (220, 30, 30), "green": (30, 190, 30), "blue": (40, 70, 230)}
BACKGROUNDS = {"black": (0, 0, 0), "white": (255, 255, 255)}
COLOR_ATTRIBUTES = (("stroke", tuple(STROKES)), ("background", tuple(BACKGROUNDS)))


def colorize(gray: torch.Tensor, stroke: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 1, H, W) digits -> uint8 (N, 3, H, W): each pixel blends the background colour into the
    stroke colour by the digit's intensity."""
    pal_s = torch.tensor(list(STROKES.values()), dtype=torch.float32)[stroke][:, :, None, None]
    pal_b = torch.tensor(list(BACKGROUNDS.values()), dtype=torch.float32)[background][:, :, None, None]
    m = gray.float() / 255.0
    return (pal_b * (1 - m) + pal_s * m).round().clamp(0, 255).to(torch.uint8)


@DATASETS.register("colordigits")
def colordigits(cfg) -> DomainDataset:
    """MNIST-5k digits in 3 stroke colours (red, green, blue) on 2 backgrounds (black, white): 6 domains.
    Each digit gets one domain, drawn with a fixed seed (4,500 train / 500 test), 28x28 RGB.
    Attributes: stroke, background (StarGAN's labels, one value each)."""
    base = mnist5k(_data_config(cfg, name="mnist5k", split=cfg.split, image_size=cfg.image_size))
    gen = torch.Generator().manual_seed(1234 + {"train": 0, "test": 1, "all": 2}[cfg.split])
    stroke = torch.randint(0, len(STROKES), (len(base),), generator=gen)
    background = torch.randint(0, len(BACKGROUNDS), (len(base),), generator=gen)
    x, stroke, background = _limit(cfg, base.x, stroke, background)
    ds = DomainDataset(colorize(x, stroke, background), torch.stack([stroke, background], 1), COLOR_ATTRIBUTES,
                       "colordigits")
    ds.digits = base.y[: len(x)]
    ds.ink = x  # the grey digit each image was painted from (to read colours where the stroke is)
    ds.judge = ("attributes", "mnist5k")
    return ds


def read_colors(images: torch.Tensor, ink: torch.Tensor) -> torch.Tensor:
    """The (stroke, background) attribute indices that images in [-1, 1] show, read from pixel colours:
    the mean colour where the source digit has ink (> 50 %) and where it has none (< 10 %), each matched
    to the nearest palette colour. ``ink`` is the grey source digit, uint8 (N, 1, H, W)."""
    rgb = (images.float() + 1) * 127.5
    m = ink.float() / 255.0
    out = []
    for mask, palette in ((m > 0.5, STROKES), (m < 0.1, BACKGROUNDS)):
        w = mask.float()
        mean = (rgb * w).sum((2, 3)) / w.sum((2, 3)).clamp_min(1)
        pal = torch.tensor(list(palette.values()), dtype=torch.float32)
        out.append(torch.cdist(mean, pal).argmin(1))
    return torch.stack(out, 1)


def ink_map(images: torch.Tensor) -> torch.Tensor:
    """A grey digit (white on black, in [-1, 1]) from a coloured one, for a digit classifier: each pixel's
    largest per-channel distance from the background colour (the median of the border pixels), scaled so
    the image's strongest ink is white. For a blend bg + (stroke - bg) m this gives back m exactly."""
    border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], -1)
    bg = border.median(-1).values[..., None, None]
    dist = (images - bg).abs().amax(1, keepdim=True)
    return 2 * dist / dist.amax((2, 3), keepdim=True).clamp_min(1e-6) - 1


@DATASETS.register("domain-folder")
def domain_folder(cfg) -> DomainDataset:
    """The user's images, one sub-folder per domain: ``data.root/<domain>/`` (or ``data.root/<split>/<domain>/``
    when that exists). One attribute, ``domain``, whose values are the folder names (sorted). Size
    ``data.image_size`` (default 64); channels ``data.channels`` (default 3)."""
    root = _split_folder(_require_root(cfg, "with one sub-folder of images per domain"), cfg.split)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if len(folders) < 2:
        raise DataError(f"{root} needs at least two domain sub-folders, found {len(folders)}")
    xs, ys = [], []
    for i, folder in enumerate(folders):
        files = _image_files(folder)
        if not files:
            raise DataError(f"domain folder {folder} has no PNG/JPEG images")
        if cfg.limit is not None:
            files = files[: cfg.limit]
        xs.append(_images(files, cfg.channels or 3, cfg.image_size or 64))
        ys.append(torch.full((len(files), 1), i, dtype=torch.int64))
    attrs = (("domain", tuple(f.name for f in folders)),)
    return DomainDataset(torch.cat(xs), torch.cat(ys), attrs, f"domain-folder:{root.name}")


def attribute_names(attributes: Optional[tuple]) -> str:
    return "; ".join(f"{a}={'|'.join(v)}" for a, v in attributes or ())


__all__ = ["PairedDataset", "UnpairedDataset", "DomainDataset", "canny_edges", "colorize", "read_colors", "ink_map"]
