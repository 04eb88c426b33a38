"""Pictures made by moving through G's input: class grids, InfoGAN code traversals and DCGAN-style
latent vector arithmetic (Radford, Metz & Chintala 2016, sec. 6.3 and fig. 7)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ConfigError
from .grid import save_grid


def _require_image(run, what: str):
    run.require_latent(what)
    if run.info.kind != "image":
        raise ConfigError(f"{what} draws images; run {run.path} generates {run.info.kind}")


def class_grid(run, out, columns: int = 10, seed: int = 0, ema: bool = True) -> Path:
    """One row per class, one column per z: the z (and any other code) of a column is the same in
    every row, so only the class changes down a column."""
    _require_image(run, "the class grid")
    k = run.num_classes
    if k is None:
        from ..recipes import serving

        raise ConfigError(f"run {run.path} is unconditional (recipe '{run.config.recipe}'); a class grid needs "
                          f"{serving('latent', ('class', 'codes'))}")
    base = run.latent(columns, seed, labels=torch.zeros(columns, dtype=torch.long))
    cols = run.sampling.class_part.columns
    rows = []
    for c in range(k):
        code = base.clone()
        code[:, cols] = 0
        code[:, cols.start + c] = 1
        rows.append(code)
    images = run.generate(torch.cat(rows), ema)
    out = Path(out)
    save_grid(images, out, nrow=columns)
    return out


def traverse(run, code: str, out, rows: int = 8, steps: int = 10, span: float = 2.0, seed: int = 0,
             ema: bool = True) -> Path:
    """InfoGAN's figure 2: each row a fixed z and fixed other codes; along the row only ``code`` varies,
    over every value of the categorical c1, or from -span to span for a continuous code (the paper goes
    to +-2, beyond the training range [-1, 1], to show the code generalises)."""
    _require_image(run, "traverse")
    declared = run.sampling
    if not declared.codes:
        from ..recipes import serving

        raise ConfigError(f"run {run.path} has no latent codes (recipe '{run.config.recipe}'); traverse needs "
                          f"{serving('latent', ('codes',))}")
    if code not in declared.codes:
        from ..registry import closest

        raise ConfigError(f"unknown code '{code}'{closest(code, declared.codes)}; this run has: "
                          f"{', '.join(declared.codes)}")
    part = declared.part(code)
    cols = part.columns
    if rows < 1 or steps < 2:
        raise ConfigError("traverse needs --rows >= 1 and --steps >= 2")
    base = run.latent(rows, seed)
    if part.kind == "one-hot":
        values = torch.eye(cols.stop - cols.start)
    else:
        values = torch.linspace(-span, span, steps)[:, None]
    codes = base[:, None, :].repeat(1, len(values), 1)  # (rows, values, D)
    codes[:, :, cols] = values[None].to(codes)
    images = run.generate(codes.reshape(-1, codes.shape[-1]), ema)
    out = Path(out)
    save_grid(images, out, nrow=len(values))
    return out


def _parse_groups(spec: str, what: str) -> list[list[int]]:
    try:
        groups = [[int(v) for v in g.split(",") if v.strip()] for g in spec.split(";")]
    except ValueError:
        raise ConfigError(f"cannot read {what} {spec!r}; write three groups like '1,2,3;4,5,6;7,8,9'") from None
    if len(groups) != 3 or any(not g for g in groups):
        raise ConfigError(f"{what} needs three non-empty groups A;B;C (for A - B + C), got {spec!r}")
    return groups


def arithmetic(run, out_dir, indices: str | None = None, classes: str | None = None, per_concept: int = 3,
               n: int = 64, seed: int = 0, variants: int = 8, jitter: float = 0.25, ema: bool = True) -> dict:
    """Latent vector arithmetic, A - B + C, on the mean input of each concept's samples (DCGAN averages 3).

    Concepts are picked either by ``indices`` into the numbered sheet ``sheet.png`` of ``n`` samples
    drawn with ``seed`` ("1,2,3;4,5,6;7,8,9"), or by ``classes`` "a,b,c": for a conditional run the
    first ``per_concept`` sheet samples generated with each class; for an unconditional run the first
    ones the dataset's classifier (``gankit classifier train DATASET``) reads as that class. The result
    is decoded, with ``variants - 1`` more decodings of it plus uniform noise of +-``jitter`` (as the
    DCGAN paper does) to show the result is stable.
    """
    _require_image(run, "arithmetic")
    if (indices is None) == (classes is None):
        raise ConfigError("arithmetic needs exactly one of --indices 'A;B;C' or --classes a,b,c")
    out = Path(out_dir)
    z = run.latent(n, seed)
    sheet = run.generate(z, ema)
    save_grid(sheet, out / "sheet.png", nrow=8)
    if indices is not None:
        groups = _parse_groups(indices, "--indices")
        bad = [i for g in groups for i in g if not 0 <= i < n]
        if bad:
            raise ConfigError(f"sample index {bad[0]} is outside the sheet of {n} samples (0..{n - 1})")
    else:
        wanted = [int(c) for c in classes.split(",")]
        if len(wanted) != 3:
            raise ConfigError(f"--classes needs three classes a,b,c (for a - b + c), got {classes!r}")
        labels = _sheet_labels(run, z, sheet)
        groups = []
        for c in wanted:
            idx = [i for i in range(n) if labels[i] == c][:per_concept]
            if not idx:
                raise ConfigError(f"no sample of class {c} among the {n} on the sheet; raise --n or pick another class")
            groups.append(idx)
    means = [z[g].mean(0) for g in groups]
    result = means[0] - means[1] + means[2]
    gen = torch.Generator().manual_seed(seed + 1)
    noise = (torch.rand(variants - 1, z.shape[1], generator=gen) * 2 - 1) * jitter
    results = run.generate(torch.cat([result[None], result[None] + noise]), ema)
    concepts = [run.generate(torch.stack([z[i] for i in g]), ema) for g in groups]
    decoded_means = run.generate(torch.stack(means), ema)
    path = out / "arithmetic.png"
    _plot_arithmetic(concepts, decoded_means, results, path)
    return {"png": path, "sheet": out / "sheet.png", "groups": groups}


def _sheet_labels(run, z, sheet) -> list[int]:
    part = run.sampling.class_part
    if part is not None:
        return z[:, part.columns].argmax(1).tolist()
    from ..metrics.classifier import predict_classes

    return predict_classes(sheet, run.config.data.name).tolist()


def _plot_arithmetic(concepts, decoded_means, results, path) -> None:
    from .grid import make_grid
    from .plots import _save, plt

    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4), gridspec_kw={"width_ratios": [1, 1, 1, 2]})
    titles = ["A", "− B", "+ C", "= A − B + C"]
    panels = [torch.cat([c, m[None]]) for c, m in zip(concepts, decoded_means)] + [results]
    for ax, title, imgs in zip(axes, titles, panels):
        grid = make_grid(imgs, nrow=1 if title != titles[-1] else 4)
        ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None)
        ax.set_title(title)
        ax.axis("off")
    fig.suptitle("concept samples, their mean decoded (last in each column), and the result with jitter",
                 fontsize=9)
    _save(fig, path)
