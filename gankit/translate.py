"""``gankit translate``: images in, translated images out, with a pix2pix, CycleGAN or StarGAN run.

Each input image is read by the dataset rule (:func:`gankit.data.images.load_image`) at the size and
channels the run's G takes, and each output is written as a PNG named after its input. A StarGAN run
without ``--to`` writes one output per attribute value (``NAME_attr=value.png``). ``sheet.png`` shows
every input beside its outputs. Existing files are never replaced unless ``overwrite`` is set.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .data.images import IMAGE_SUFFIXES, load_image
from .errors import ConfigError, DataError, GankitError
from .io import atomic_path
from .viz.grid import make_grid, save_grid, to_pil


def input_files(path: str | Path) -> list[Path]:
    """One image file, or the PNG/JPEG images directly inside a folder (sorted)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"--input {p} has no PNG/JPEG images")
        return files
    raise DataError(f"--input {p} does not exist; give an image file or a folder of images")


def output_stems(files: list[Path]) -> list[str]:
    """One distinct output name per input: the input's stem, or stem_ext where two inputs share a stem
    (``a.png`` and ``a.jpg``) or the stem is the sheet's (``sheet.png``)."""
    counts: dict = {}
    for f in files:
        counts[f.stem.lower()] = counts.get(f.stem.lower(), 0) + 1
    return [f"{f.stem}_{f.suffix.lstrip('.').lower()}" if counts[f.stem.lower()] > 1 or f.stem.lower() == "sheet"
            else f.stem for f in files]


def parse_targets(text: Optional[str]) -> dict:
    """``"stroke=blue,background=white"`` -> {"stroke": "blue", "background": "white"}."""
    out = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise ConfigError(f"--to takes attr=value pairs separated by commas, got {item.strip()!r}")
        k, v = (s.strip() for s in item.split("=", 1))
        out[k] = v
    return out


def save_png(image: torch.Tensor, path: Path) -> None:
    with atomic_path(path) as tmp:
        to_pil(make_grid(image[None], nrow=1, pad=0)).save(tmp, format="PNG")


def translate_images(run, inputs: str | Path, out: str | Path, direction: Optional[str] = None,
                     to: Optional[str] = None, ema: bool = True, overwrite: bool = False, batch: int = 64) -> dict:
    """Translate every image of ``inputs`` into ``out``; returns {"outputs": [...], "sheet": path}."""
    recipe, declared = run.recipe(), run.sampling
    if declared.source != "image":
        from .recipes import serving

        raise GankitError(f"run {run.path} (recipe '{run.config.recipe}') does not translate images; "
                          f"gankit translate needs {serving('image')}")
    targets = parse_targets(to)
    recipe.check_direction(direction)  # before anything is written
    for name, value in targets.items():  # check every --to pair before anything is written
        run.value_index(name, value)
    files = input_files(inputs)
    c, h, _ = recipe.input_shape(direction)
    # the variants: one per direction / target, each with a file-name suffix
    if declared.directions or targets:
        variants = [("", targets or None)]
    else:
        variants = [(f"_{a}={v}", {a: v}) for a, values in run.info.attributes for v in values]
    out = Path(out)
    stems = output_stems(files)
    planned = [out / f"{stem}{suffix}.png" for stem in stems for suffix, _ in variants] + [out / "sheet.png"]
    existing = [p for p in planned if p.exists()]
    if existing and not overwrite:
        raise GankitError(f"{existing[0]} already exists; choose another --out or pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    for i in range(0, len(files), batch):
        chunk = files[i : i + batch]
        x = torch.from_numpy(np.stack([load_image(f, c, h) for f in chunk])).float() / 127.5 - 1
        outs = [run.translate(x, direction=direction, to=t, ema=ema) for _, t in variants]
        for j, stem in enumerate(stems[i : i + batch]):
            for (suffix, _), y in zip(variants, outs):
                path = out / f"{stem}{suffix}.png"
                save_png(y[j], path)
                written.append(path)
        rows.append(torch.stack([x] + [_match_channels(y, x.shape[1]) for y in outs], 1).flatten(0, 1))
    sheet = out / "sheet.png"
    save_grid(torch.cat(rows), sheet, nrow=1 + len(variants))
    return {"outputs": [str(p) for p in written], "sheet": str(sheet), "variants": [s for s, _ in variants]}


def _match_channels(y: torch.Tensor, c: int) -> torch.Tensor:
    """Outputs with the inputs' channel count, for the side-by-side sheet."""
    if y.shape[1] == c:
        return y
    return y.mean(1, keepdim=True) if c == 1 else y.expand(-1, c, -1, -1)
