"""The milestones figure of a run: one row of samples from the same fixed latents at each moment the recipe
names (:meth:`gankit.recipes.base.Recipe.milestone`; ProGAN's end of every stable phase and fade, so the figure
shows the networks growing), labelled on the left.

The rows are kept in ``samples/milestones.safetensors`` (images and, in its metadata, each row's step and label)
and drawn into ``samples/milestones.png``. A row recorded at a step later than the one being recorded belongs to
training that a kill undid (the run resumed from an earlier checkpoint): it is dropped, so a resumed run's figure
equals an uninterrupted one's.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..io import atomic_path, load_tensors, save_tensors
from .grid import auto_scale, make_grid, to_pil

#: samples per row
ROW = 8
LABEL_WIDTH = 96


def record(samples_dir: Path, step: int, label: str, images: torch.Tensor) -> Path:
    """Add the row ``images`` (N, C, H, W in [-1, 1]; the first :data:`ROW` are kept) for ``step`` and redraw the
    figure; returns the PNG's path."""
    data_path = Path(samples_dir) / "milestones.safetensors"
    rows, tensors = [], {}
    if data_path.exists():
        saved, meta = load_tensors(data_path)
        for i, row in enumerate(json.loads(meta.get("rows", "[]"))):
            if row["step"] < step:
                tensors[f"row{len(rows)}"] = saved[f"row{i}"]
                rows.append(row)
    tensors[f"row{len(rows)}"] = images[:ROW].detach().float().cpu()
    rows.append({"step": int(step), "label": label})
    save_tensors(data_path, tensors, {"rows": json.dumps(rows)})
    png = data_path.with_suffix(".png")
    draw(png, [(f"{r['label']}\nstep {r['step']}", tensors[f"row{i}"]) for i, r in enumerate(rows)])
    return png


def draw(path: Path, rows: list) -> None:
    """[(label, images)] as a PNG: each row enlarged to the largest images' size, its label on the left."""
    from PIL import Image, ImageDraw

    size = max(x.shape[-1] for _, x in rows)
    grid = make_grid(torch.cat([F.interpolate(x.float(), size=(size, size), mode="nearest") for _, x in rows]),
                     nrow=ROW)
    if grid.ndim == 2:
        grid = np.repeat(grid[..., None], 3, 2)
    scale = auto_scale(grid, 640)
    picture = to_pil(grid, scale)
    canvas = Image.new("RGB", (picture.width + LABEL_WIDTH, picture.height), "white")
    canvas.paste(picture, (LABEL_WIDTH, 0))
    pen = ImageDraw.Draw(canvas)
    row_height = picture.height / len(rows)
    for i, (label, _) in enumerate(rows):
        pen.multiline_text((4, int(i * row_height + row_height / 2) - 10), label, fill="black")
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
