"""Maximum mean discrepancy objectives: GMMN (a fixed kernel, no discriminator) and MMD GAN (a kernel on
features that an adversary learns).

MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y)  (Gretton et al. 2012, eq. 3), with the mixture of
Gaussian kernels k(x, y) = sum_s exp(-||x - y||^2 / (2 s^2)) that both papers use.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import OBJECTIVES
from .base import Objective, clip_weights

#: the base bandwidths of Li et al. (2017)'s reference code for MMD GAN, on the learned features
MMD_GAN_SIGMAS = (1.0, 2.0, 4.0, 8.0, 16.0)
#: multiples of the median pairwise distance that GMMN uses when no bandwidths are given
MEDIAN_MULTIPLES = (0.25, 0.5, 1.0, 2.0, 4.0)


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """||x_i - y_j||^2 for rows of x (n, d) and y (m, d), clamped at 0 against round-off."""
    return (x.pow(2).sum(1)[:, None] + y.pow(2).sum(1)[None, :] - 2 * x @ y.T).clamp_min(0)


def rbf_mixture(x: torch.Tensor, y: torch.Tensor, sigmas) -> torch.Tensor:
    """The kernel matrix of sum_s exp(-||x - y||^2 / (2 s^2))."""
    d2 = squared_distances(x, y)
    return sum(torch.exp(-d2 / (2 * s * s)) for s in sigmas)


def mmd2(x: torch.Tensor, y: torch.Tensor, sigmas, unbiased: bool = True) -> torch.Tensor:
    """Squared MMD between samples x ~ P and y ~ Q. ``unbiased``: the U-statistic of Gretton et al. 2012
    (eq. 3, diagonal terms left out; it can be negative); otherwise the biased V-statistic (eq. 5, always
    >= 0), which is what GMMN minimises."""
    kxx, kyy, kxy = rbf_mixture(x, x, sigmas), rbf_mixture(y, y, sigmas), rbf_mixture(x, y, sigmas)
    if not unbiased:
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise ConfigError("the unbiased MMD needs at least 2 samples per side; raise train.batch_size")
    xx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return xx + yy - 2 * kxy.mean()


def median_sigmas(x: torch.Tensor, y: torch.Tensor, multiples=MEDIAN_MULTIPLES) -> tuple:
    """Bandwidths from the median heuristic (Gretton et al. 2012, sec. 8): multiples of the median pairwise
    distance in the joint sample, taken without gradient."""
    with torch.no_grad():
        z = torch.cat([x, y]).float()
        d = squared_distances(z, z).sqrt()
        med = d[~torch.eye(len(z), dtype=torch.bool, device=z.device)].median().clamp_min(1e-6).item()
    return tuple(med * m for m in multiples)


class _KernelObjective(Objective):
    default_sigmas = None

    def __init__(self, cfg, label_smoothing=0.0):
        super().__init__(cfg, label_smoothing)
        if cfg.sigmas is not None and any(s <= 0 for s in cfg.sigmas):
            raise ConfigError(f"objective.sigmas must all be > 0, got {list(cfg.sigmas)}")

    def sigmas(self, x, y) -> tuple:
        if self.cfg.sigmas is not None:
            return tuple(self.cfg.sigmas)
        return self.default_sigmas if self.default_sigmas is not None else median_sigmas(x, y)


@OBJECTIVES.register("gmmn")
class GMMN(_KernelObjective):
    """Generative moment matching network, Li, Swersky & Zemel 2015: no discriminator; G minimises
    sqrt(MMD^2_b) between a batch of its samples and a real batch in data space (their eq. 3, the biased
    estimator, whose square root they found better to optimise), with a mixture of Gaussian kernels.
    Bandwidths: ``objective.sigmas``, or by default the median heuristic times (1/4, 1/2, 1, 2, 4)."""

    options = ("objective.sigmas",)

    critic = "none"
    g_needs_real = True

    def d_loss(self, real_out, fake_out):
        raise RuntimeError("GMMN has no discriminator, so no D loss")

    def g_loss(self, fake_out, real_out=None):
        x, y = real_out.flatten(1), fake_out.flatten(1)
        return torch.sqrt(mmd2(x, y, self.sigmas(x, y), unbiased=False) + 1e-12)

    def report(self, out):
        return out.detach().float().mean()


@OBJECTIVES.register("mmd-gan")
class MMDGAN(_KernelObjective):
    """MMD GAN, Li, Chang, Cheng, Yang & Póczos 2017, eq. 4 with the feasibility constraints of sec. 3-4:
    the kernel is k(f(x), f(y)) with f the encoder of an autoencoder D;

    - D maximises sqrt(MMD^2_u(f(x), f(G(z)))) + lambda_rg * one_sided - lambda_AE * (||Dec(f(x)) - x||^2
      + ||Dec(f(G(z))) - G(z)||^2), where one_sided = mean(min(E f(x) - E f(G(z)), 0)) keeps the real
      codes' mean above the fakes' (their reference code, lambda_rg = 16) and the autoencoder terms keep f
      injective (their Theorem 3's condition, lambda_AE = 8);
    - G minimises sqrt(MMD^2_u) + lambda_rg * one_sided;
    - D's weights are clipped to [-c, c] after each update (c = ``objective.clip``, their 0.01), which keeps
      f in a compact set.
    Bandwidths: ``objective.sigmas`` or (1, 2, 4, 8, 16)."""

    options = ("objective.clip", "objective.feature_dim", "objective.sigmas", "objective.ae_weight",
               "objective.rg_weight")

    critic = "autoencoder"
    g_needs_real = True
    default_sigmas = MMD_GAN_SIGMAS

    def _mmd_terms(self, real_out, fake_out):
        x, y = real_out.code.flatten(1), fake_out.code.flatten(1)
        dist = torch.sqrt(F.relu(mmd2(x, y, self.sigmas(x, y))) + 1e-12)
        one_sided = -F.relu(-(x.mean(0) - y.mean(0))).mean()
        return dist, one_sided

    def d_loss(self, real_out, fake_out):
        dist, one_sided = self._mmd_terms(real_out, fake_out)
        ae = real_out.residual.flatten(1).pow(2).mean() + fake_out.residual.flatten(1).pow(2).mean()
        self.logs = {"mmd": dist.detach(), "ae_error": ae.detach()}
        return -(dist + self.cfg.rg_weight * one_sided - self.cfg.ae_weight * ae)

    def g_loss(self, fake_out, real_out=None):
        dist, one_sided = self._mmd_terms(real_out, fake_out)
        return dist + self.cfg.rg_weight * one_sided

    def after_d_step(self, d_modules):
        clip_weights(d_modules, self.cfg.clip)

    def report(self, out):
        return out.residual.detach().float().pow(2).mean()
