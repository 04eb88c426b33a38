"""Experiment ``vanishing-gradients``: why the minimax generator loss stalls and what fixes it.

Two well-separated 1-D Gaussians, p_data = N(0, 0.5^2) and p_g = N(4, 0.5^2), as in figure 2 of the
WGAN paper (Arjovsky, Chintala & Bottou 2017). Nets are trained on samples with gankit's own
objectives (``gankit.objectives``), then the generator's gradient is read off at the fake samples:

* a discriminator trained with the GAN loss saturates: D(G(z)) -> 0 on the fakes, so the minimax
  generator loss log(1 - D(G(z))) has gradient -D(G(z)) * dlogit/dx -> 0 there (Goodfellow et al.
  2014, sec. 3; Arjovsky & Bottou 2017, theorem 2.4 and figure 2, where this gradient falls as D
  trains);
* the non-saturating loss -log D(G(z)) has gradient -(1 - D(G(z))) * dlogit/dx, which does not vanish;
* the WGAN critic (weight clipping) is close to linear between and around the two modes, so its
  gradient is the same useful size everywhere (WGAN paper, figure 2).

``d/dx`` is the gradient of the *per-sample* generator loss with respect to the generated point x;
G's parameter gradient is that times dG/dtheta, so it vanishes exactly when this one does.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..config import ObjectiveConfig
from ..objectives import build_objective
from .optimal_d import Mixture1D

P_DATA, P_G = Mixture1D((0.0, 0.5)), Mixture1D((4.0, 0.5))
CHECKPOINTS = (1, 3, 10, 30, 100, 300, 1000, 3000)


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(1, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2),
                         nn.Linear(64, 1)).double()


def generator_gradient(objective, d: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """|d loss_G / dx| for each generated point x (N,): the size of the signal G receives there."""
    x = x.detach().clone()[:, None].requires_grad_(True)
    loss = objective.g_loss(d(x)) * len(x)  # g_loss is a mean; scale to per-sample terms
    (grad,) = torch.autograd.grad(loss, x)
    return grad.abs().squeeze(1)


def train_net(objective_name: str, steps: int, seed: int, watch=None, batch: int = 256) -> nn.Module:
    """Train D (or the critic) against the fixed p_data, p_g with ``objective_name``'s D loss.
    ``watch(step, d)`` is called at the steps in CHECKPOINTS."""
    objective = build_objective(ObjectiveConfig(name=objective_name))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    d = _mlp()
    if objective_name == "wgan":  # the WGAN paper's optimiser for the clipped critic
        opt = torch.optim.RMSprop(d.parameters(), lr=5e-4)
    else:
        opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))
    for step in range(1, steps + 1):
        real, fake = P_DATA.sample(batch, gen)[:, None], P_G.sample(batch, gen)[:, None]
        loss = objective.d_loss(d(real), d(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        objective.after_d_step([d])
        if watch is not None and step in CHECKPOINTS:
            watch(step, d)
    return d


def _linearity(x: torch.Tensor, y: torch.Tensor) -> float:
    """R^2 of the least-squares line through (x, y)."""
    a = torch.stack([x, torch.ones_like(x)], 1)
    coef = torch.linalg.lstsq(a, y[:, None]).solution
    resid = y - (a @ coef).squeeze(1)
    return float(1 - resid.pow(2).sum() / (y - y.mean()).pow(2).sum())


def run(out_dir, steps: int = 3000, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed + 1)
    fakes = P_G.sample(2000, gen)
    minimax, ns, wgan = (build_objective(ObjectiveConfig(name=n)) for n in ("minimax", "ns", "wgan"))

    history = []  # the gradient each G loss gets at the fakes, as D trains

    def watch(step, d):
        with torch.no_grad():
            d_fake = torch.sigmoid(d(fakes[:, None])).mean()
        history.append({"d_step": step, "d_of_fake": float(d_fake),
                        "minimax": float(generator_gradient(minimax, d, fakes).mean()),
                        "ns": float(generator_gradient(ns, d, fakes).mean())})

    d = train_net("ns", steps, seed, watch)  # minimax and ns share the discriminator's loss
    critic = train_net("wgan", steps, seed)

    x = torch.linspace(-2, 6, 321, dtype=torch.float64)
    between = (x >= -1) & (x <= 5)  # both modes and the gap between them
    with torch.no_grad():
        d_curve = torch.sigmoid(d(x[:, None])).squeeze(1)
        f_curve = critic(x[:, None]).squeeze(1)
    grads = {"minimax": generator_gradient(minimax, d, x), "ns": generator_gradient(ns, d, x),
             "wgan": generator_gradient(wgan, critic, x)}
    at_fakes = {"minimax": float(generator_gradient(minimax, d, fakes).mean()),
                "ns": float(generator_gradient(ns, d, fakes).mean()),
                "wgan": float(generator_gradient(wgan, critic, fakes).mean())}
    critic_r2 = _linearity(x[between], f_curve[between])
    wgan_spread = float(grads["wgan"][between].min() / grads["wgan"][between].max())
    with torch.no_grad():
        d_of_fake = float(torch.sigmoid(d(fakes[:, None])).mean())

    plot(x, d_curve, f_curve, grads, history, Path(out_dir) / "vanishing_gradients.png")
    ratio = at_fakes["minimax"] / at_fakes["ns"]
    return {
        "experiment": "vanishing-gradients", "steps": steps, "seed": seed,
        "p_data": "N(0, 0.5^2)", "p_g": "N(4, 0.5^2)",
        "d_of_fake": d_of_fake,
        "grad_at_fakes": at_fakes,
        "minimax_over_ns": ratio,
        "critic_linearity_r2": critic_r2,
        "wgan_grad_min_over_max": wgan_spread,
        "history": history,
        "verdict": (f"trained D gives the fakes D = {d_of_fake:.1e}: the minimax G gradient there is "
                    f"{at_fakes['minimax']:.1e}, {ratio:.0e} of the non-saturating one ({at_fakes['ns']:.2f}); "
                    f"the WGAN critic is linear over [-1, 5] (R^2 = {critic_r2:.3f}) with gradient "
                    f"{at_fakes['wgan']:.2e} at the fakes, never below {wgan_spread:.2f} of its maximum"),
    }


def plot(x, d_curve, f_curve, grads, history, path) -> None:
    from ..viz.plots import _save, plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    ax = axes[0]
    ax.plot(x, P_DATA.density(x), "k-", lw=1, label="p_data")
    ax.plot(x, P_G.density(x), "g-", lw=1, label="p_g")
    ax.plot(x, d_curve, "r-", lw=2, label="D (GAN loss)")
    span = (f_curve - f_curve.min()) / (f_curve.max() - f_curve.min())
    ax.plot(x, span, "b--", lw=2, label="WGAN critic (rescaled)")
    ax.set_title("trained discriminator and critic", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1]
    for name, style in (("minimax", "r-"), ("ns", "m-"), ("wgan", "b--")):
        ax.semilogy(x, grads[name].clamp_min(1e-300), style, label=name)
    ax.set_title("|d loss_G / dx| along x", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    steps = [h["d_step"] for h in history]
    ax.loglog(steps, [max(h["minimax"], 1e-300) for h in history], "r-o", label="minimax")
    ax.loglog(steps, [h["ns"] for h in history], "m-o", label="ns")
    ax.set_xlabel("discriminator steps")
    ax.set_title("G's gradient at the fakes as D trains", fontsize=9)
    ax.legend(fontsize=7)
    _save(fig, path)
