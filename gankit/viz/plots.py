"""Loss curves and 2-D toy pictures (matplotlib, headless)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ..io import atomic_path  # noqa: E402


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_losses(rows: list[dict], path) -> None:
    """Loss curves (top) and D(x) / D(G(z)) (bottom) from metrics.jsonl rows."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    steps = [r["step"] for r in rows]
    for key in sorted({k for r in rows for k in r if k.endswith("_loss") or k == "d_penalty"}):
        ax1.plot(steps, [r.get(key, float("nan")) for r in rows], label=key, lw=1)
    names = {"d_real": "D(x)", "d_fake": "D(G(z))"}
    # D's outputs, also per critic when a recipe has several ("level1/d_real": LAPGAN's level 1)
    for key in sorted({k for r in rows for k in r if k.rpartition("/")[2] in names}):
        prefix, _, base = key.rpartition("/")
        label = f"{prefix} {names[base]}" if prefix else names[base]
        ax2.plot(steps, [r.get(key, float("nan")) for r in rows], label=label, lw=1)
    ax1.set_ylabel("loss")
    ax2.set_ylabel("D output")
    ax2.set_xlabel("step")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(loc="upper right", fontsize=8)
    _save(fig, path)


@torch.no_grad()
def plot_toy(samples: torch.Tensor, dataset, path, d_fn=None, title: str = "", probabilistic: bool = True) -> None:
    """Samples over the true density's contours, with D's decision surface shaded behind them."""
    lim = dataset.extent()
    n = 200
    ticks = torch.linspace(-lim, lim, n)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    fig, ax = plt.subplots(figsize=(5, 5))
    if d_fn is not None:
        out = d_fn(grid).float().cpu().view(n, n)
        surface = torch.sigmoid(out) if probabilistic else out
        im = ax.imshow(surface.numpy(), extent=(-lim, lim, -lim, lim), origin="lower", cmap="coolwarm", alpha=0.6)
        fig.colorbar(im, ax=ax, fraction=0.046, label="D(x)" if probabilistic else "critic f(x)")
    dens = dataset.density(grid).float().view(n, n)
    ax.contour(gx.numpy(), gy.numpy(), dens.numpy(), levels=5, colors="k", linewidths=0.6)
    s = samples.detach().float().cpu()
    ax.scatter(s[:, 0], s[:, 1], s=3, c="tab:green", alpha=0.6)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title)
    _save(fig, path)
