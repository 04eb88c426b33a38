"""``gankit project``: GAN inversion. Find, for each given image, the latent variables from which a trained
generator reproduces it, by gradient descent (the optimisation-based inversion of Zhu et al. 2016 and of
StyleGAN2's projector, Karras et al. 2020, appendix D; reimplemented).

What is optimised is the recipe's choice (:meth:`~gankit.recipes.base.Recipe.inversion_start`): StyleGAN's w and
noise maps, the code itself (z, with any class or code parts) for every other latent recipe. The loss per image is

    perceptual distance (:mod:`gankit.metrics.perceptual`, an offline backbone) + ``mse_weight`` * pixel MSE
    + the recipe's regulariser (StyleGAN's noise autocorrelation),

minimised with Adam; the learning rate ramps up over the first 5 % of the steps and down (cosine) over the last
25 %, and Gaussian noise of 5 % of the latent's spread, fading out quadratically by 75 % of the steps, is added to
the first variable to escape poor starts (both as StyleGAN2's projector).

Writes into ``--out``: ``NAME.png`` (the reconstruction, per input), ``sheet.png`` (inputs above their
reconstructions), ``latents.safetensors`` (every optimised variable, input names in its metadata),
``progress.gif`` (the reconstructions during the optimisation) and ``projection.json`` (per image: perceptual
distance, MSE, PSNR). Existing files are never replaced unless ``overwrite`` is set.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from .data.images import load_image
from .errors import ConfigError, GankitError
from .io import save_tensors, write_text
from .translate import save_png, input_files, output_stems
from .viz.grid import make_grid, save_gif, save_grid

LR_RAMP_UP, LR_RAMP_DOWN = 0.05, 0.25
NOISE_START, NOISE_RAMP = 0.05, 0.75


def learning_rate(t: float, base: float) -> float:
    """StyleGAN2's projector schedule at progress t in [0, 1]: linear warm-up, cosine ramp-down."""
    down = 0.5 - 0.5 * math.cos(min(1.0, (1.0 - t) / LR_RAMP_DOWN) * math.pi)
    return base * down * min(1.0, t / LR_RAMP_UP)


def project_batch(recipe, nets, target: torch.Tensor, distance, steps: int, generator: torch.Generator,
                  lr: float = 0.1, mse_weight: float = 1.0, frames: int = 0) -> tuple[dict, torch.Tensor, list]:
    """(variables, reconstruction, [reconstructions during the optimisation]) for a batch of target images."""
    variables, spread = recipe.inversion_start(len(target), nets, generator)
    for v in variables.values():
        v.requires_grad_(True)
    opt = torch.optim.Adam(list(variables.values()), lr=lr, betas=(0.9, 0.999))
    first = next(iter(variables))
    shots = []
    every = max(1, steps // frames) if frames else 0
    for t in range(steps):
        progress = t / steps
        for group in opt.param_groups:
            group["lr"] = learning_rate(progress, lr)
        scale = spread * NOISE_START * max(0.0, 1.0 - progress / NOISE_RAMP) ** 2
        noisy = dict(variables)
        noisy[first] = variables[first] + scale * torch.randn(variables[first].shape, generator=generator)
        x = recipe.inversion_render(noisy, nets)
        loss = distance(x, target) + mse_weight * (x - target).pow(2).flatten(1).mean(1)
        reg = recipe.inversion_regulariser(variables)
        if reg is not None:
            loss = loss + reg
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        recipe.inversion_normalise(variables)
        if every and t % every == 0:
            shots.append(x.detach().clamp(-1, 1))
    with torch.no_grad():
        final = recipe.inversion_render(variables, nets).clamp(-1, 1)
    return {k: v.detach() for k, v in variables.items()}, final, shots


def project_images(run, inputs, out, steps: int = 300, seed: int = 0, ema: bool = True, mse_weight: float = 1.0,
                   lr: float = 0.1, overwrite: bool = False, batch: int = 16, distance=None) -> dict:
    """Project every image of ``inputs`` into ``run``'s latent space; returns the per-image scores and the paths."""
    from .metrics.perceptual import PerceptualDistance

    recipe = run.recipe()
    run.require_latent("projection")
    if steps < 1:
        raise ConfigError(f"--steps must be at least 1, got {steps}")
    if not (lr > 0 and math.isfinite(lr)) or not (mse_weight >= 0 and math.isfinite(mse_weight)):
        raise ConfigError(f"--lr must be positive and --mse-weight at least 0, got {lr} and {mse_weight}")
    c, h, w = run.info.shape
    files = input_files(inputs)
    out = Path(out)
    stems = output_stems(files)
    planned = [out / f"{s}.png" for s in stems] + [out / n for n in ("sheet.png", "latents.safetensors",
                                                                      "progress.gif", "projection.json")]
    existing = [p for p in planned if p.exists()]
    if existing and not overwrite:
        raise GankitError(f"{existing[0]} already exists; choose another --out or pass --overwrite")
    images = torch.from_numpy(np.stack([load_image(f, c, h) for f in files])).float() / 127.5 - 1
    nets = run.networks(ema)
    for net in nets.values():
        net.requires_grad_(False)
    distance = distance or PerceptualDistance(input_size=min(224, max(64, 2 * h)))
    generator = torch.Generator().manual_seed(seed)
    latents, recon, shots = {}, [], []
    for i in range(0, len(images), batch):
        target = images[i:i + batch]
        variables, final, frames = project_batch(recipe, nets, target, distance, steps, generator, lr, mse_weight,
                                                 frames=20 if i == 0 else 0)
        for k, v in variables.items():
            latents.setdefault(k, []).append(v.cpu())
        recon.append(final.cpu())
        shots = shots or frames
    recon = torch.cat(recon)
    with torch.no_grad():
        perceptual = torch.cat([distance(recon[i:i + batch], images[i:i + batch]) for i in range(0, len(images), batch)])
    mse = (recon - images).pow(2).flatten(1).mean(1)
    scores = [{"input": str(f), "perceptual": float(p), "mse": float(m),
               "psnr_db": float(10 * math.log10(4.0 / max(float(m), 1e-12)))}  # peak-to-peak 2 on [-1, 1]
              for f, p, m in zip(files, perceptual, mse)]
    out.mkdir(parents=True, exist_ok=True)
    for stem, x in zip(stems, recon):
        save_png(x, out / f"{stem}.png")
    save_grid(torch.stack([images, recon], 1).flatten(0, 1), out / "sheet.png", nrow=2)
    save_tensors(out / "latents.safetensors", {k: torch.cat(v) for k, v in latents.items()},
                 {"inputs": json.dumps([str(f) for f in files]), "recipe": run.config.recipe})
    if shots:
        save_gif([make_grid(torch.cat([images[:len(s)], s]), nrow=len(s)) for s in shots], out / "progress.gif")
    write_text(out / "projection.json", json.dumps({"step": run.step, "steps": steps, "seed": seed,
                                                    "variables": list(latents), "images": scores}, indent=2))
    return {"images": scores, "sheet": str(out / "sheet.png"), "latents": str(out / "latents.safetensors")}
