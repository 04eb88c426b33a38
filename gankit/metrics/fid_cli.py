"""``gankit fid A B``: the Fréchet distance between two image sets, in the manner of pytorch-fid.

A and B are each an image folder, a ``.npz`` statistics file (from ``--save-stats``), or a dataset
``name[:split]`` (e.g. ``fashion-mnist:test``).

One preprocessing path for every source (:data:`PREPROCESSING`): images are taken at their own size (a folder's
at the shorter side of its first image: files of another size are resized to it, shorter side then centre crop,
by the image-folder rule; files of that size are read unchanged), and only the backbone resizes them, by its own
``prepare``. So a dataset split saved as PNG files scores FD 0 against the same split as a dataset. Statistics
files record the path; a file made by another path is refused.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..data.base import from_bytes
from ..errors import GankitError
from ..io import atomic_path
from .frechet import FeatureError, feature_stats


#: the name of the preprocessing path, recorded in every statistics file (a change of path changes it)
PREPROCESSING = "native-size, then the backbone's own resize"


def native_size(path: Path) -> int:
    """The shorter side of an image file (without decoding its pixels)."""
    from PIL import Image

    from ..errors import DataError

    try:
        with Image.open(path) as im:
            return min(im.size)
    except (OSError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot read image {path}: {e}; fix or remove the file") from None


def image_source(source: str, limit: int | None = None) -> tuple[int, Callable, str]:
    """(count, images_at(start, stop) -> images in [-1, 1], identity) of a folder or a dataset name[:split], at
    their own size (see the module's docstring). Images are read a range at a time, so a large folder never sits in
    memory whole; ``identity`` names exactly this set (files, sizes and times, or the dataset), for the cache of
    partly extracted features."""
    from ..config import DataConfig
    from ..data import build_dataset
    from ..data.images import IMAGE_SUFFIXES, load_image
    from ..registry import DATASETS

    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())[:limit]
        if len(files) < 2:
            raise GankitError(f"{path} has {len(files)} PNG/JPEG images; the Fréchet distance needs at least 2 "
                              "(and about 10,000 for a low-bias estimate)")
        size = native_size(files[0])

        def from_files(start, stop):
            arr = np.stack([load_image(p, 3, size) for p in files[start:stop]])
            return torch.from_numpy(arr).float() / 127.5 - 1

        listing = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
        return len(files), from_files, json.dumps(["folder", size, listing])
    name, _, split = source.partition(":")
    if name in DATASETS:
        ds = build_dataset(DataConfig(name=name, split=split or "test", limit=limit))
        if ds.kind != "image":
            raise GankitError(f"dataset {name} is not an image dataset")
        stored = getattr(ds, "x", None)

        def from_dataset(start, stop):
            return from_bytes(stored[start:stop]) if stored is not None else ds.images()[start:stop]

        return len(ds), from_dataset, json.dumps(["dataset", name, split or "test", limit, len(ds)])
    raise GankitError(f"{source} is neither a folder, a .npz statistics file, nor a dataset name "
                      f"({', '.join(n for n in DATASETS.names() if n not in ('ring8', 'grid25', 'spiral'))})")


def load_images(source: str, limit: int | None = None) -> torch.Tensor:
    """Every image of a folder or dataset at once (see :func:`image_source`)."""
    count, images_at, _ = image_source(source, limit)
    return images_at(0, count)


def stats_for(source: str, backbone, limit=None, progress=False) -> tuple[np.ndarray, np.ndarray, int]:
    if source.endswith(".npz"):
        if not Path(source).exists():
            raise GankitError(f"statistics file {source} does not exist")
        with np.load(source, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"])) if "meta" in f else {}
            if meta.get("backbone") != backbone.name:
                raise FeatureError(f"{source} holds statistics of backbone {meta.get('backbone')!r}, "
                                   f"but {backbone.name!r} was asked; recompute them with --backbone")
            if meta.get("resize", backbone.input_size) != backbone.input_size:
                raise FeatureError(f"{source} holds statistics at {meta['resize']} px, but the backbone runs at "
                                   f"{backbone.input_size} px; pass --resize {meta['resize']} or recompute them")
            if meta.get("protocol", backbone.protocol) != backbone.protocol:
                raise FeatureError(f"{source} holds statistics made with the {meta['protocol']!r} preprocessing, but "
                                   f"{backbone.protocol!r} was asked; pass the same --protocol or recompute them")
            if meta.get("preprocessing") != PREPROCESSING:
                made_by = meta.get("preprocessing", "an older gankit's")
                raise FeatureError(f"{source} was made by another preprocessing path ({made_by}); recompute it "
                                   f"with `gankit fid SOURCE --save-stats {source}`")
            return f["mu"], f["sigma"], int(meta.get("n", 0))
    from .classifier import cache_dir
    from .evaluate import extract_in_chunks, remove_chunks

    count, images_at, identity = image_source(source, limit)
    # partly extracted features of this very set (and backbone) are kept until the whole set is done, so an
    # interrupted `gankit fid` over a large folder resumes where it stopped
    key = hashlib.sha256(json.dumps([identity, backbone.name, backbone.input_size, backbone.protocol,
                                     PREPROCESSING]).encode()).hexdigest()[:24]
    parts = cache_dir().parent / "features" / f"partial-{key}.parts"
    feats, _ = extract_in_chunks(backbone, images_at, count, parts, progress=progress)
    remove_chunks(parts)
    mu, sigma = feature_stats(feats)
    return mu, sigma, len(feats)


def save_stats(path, mu, sigma, backbone, n: int, source: str) -> None:
    meta = json.dumps({"backbone": backbone.name, "resize": backbone.input_size, "n": n, "source": source,
                       "preprocessing": PREPROCESSING, "protocol": backbone.protocol})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, mu=mu, sigma=sigma, meta=np.array(meta))
