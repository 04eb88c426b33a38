"""``gankit fid A B``: the Fréchet distance between two image sets, in the manner of pytorch-fid.

A and B are each an image folder, a ``.npz`` statistics file (from ``--save-stats``), or a dataset
``name[:split]`` (e.g. ``fashion-mnist:test``). Folder images are read by the image-folder rule
(RGB, shorter side resized, centre crop) at the backbone's input size.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import GankitError
from ..io import atomic_path
from .frechet import FeatureError, feature_stats


def load_images(source: str, size: int, limit: int | None = None) -> torch.Tensor:
    """Images in [-1, 1] from a folder or a dataset name[:split]."""
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
        arr = np.stack([load_image(p, 3, size) for p in files])
        return torch.from_numpy(arr).float() / 127.5 - 1
    name, _, split = source.partition(":")
    if name in DATASETS:
        ds = build_dataset(DataConfig(name=name, split=split or "test", limit=limit))
        if ds.kind != "image":
            raise GankitError(f"dataset {name} is not an image dataset")
        return ds.images()
    raise GankitError(f"{source} is neither a folder, a .npz statistics file, nor a dataset name "
                      f"({', '.join(n for n in DATASETS.names() if n not in ('ring8', 'grid25', 'spiral'))})")


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
            return f["mu"], f["sigma"], int(meta.get("n", 0))
    images = load_images(source, backbone.input_size, limit)
    feats, _ = backbone.extract(images, progress=progress)
    mu, sigma = feature_stats(feats)
    return mu, sigma, len(feats)


def save_stats(path, mu, sigma, backbone, n: int, source: str) -> None:
    meta = json.dumps({"backbone": backbone.name, "resize": backbone.input_size, "n": n, "source": source})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, mu=mu, sigma=sigma, meta=np.array(meta))
