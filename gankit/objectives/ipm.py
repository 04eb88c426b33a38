"""Integral-probability-metric objectives beyond WGAN: McGAN (mean and covariance feature matching),
Fisher GAN (a data-dependent second-moment constraint), Cramér GAN (the energy distance in a learned
feature space) and RWGAN (Wasserstein with a Bregman cost).

Each critic plays sup_f E_P[f] - E_Q[f] over its own class of functions; what differs is the class and
how it is kept bounded.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import OBJECTIVES
from .base import Objective, clip_weights
from .penalties import _input_grad, _per_example
from .wasserstein import WGAN


def own_constraint_weight(cfg) -> float:
    """The weight of an objective's own constraint on D (``objective.penalty_weight``, default 10); the
    generic penalties do not combine with it."""
    if cfg.penalty not in (None, "none"):
        raise ConfigError(f"objective '{cfg.name}' brings its own constraint on D; unset objective.penalty "
                          "(objective.penalty_weight sets that constraint's weight)")
    return 10.0 if cfg.penalty_weight is None else cfg.penalty_weight


def _norm(v: torch.Tensor) -> torch.Tensor:
    """Row-wise Euclidean norm with a gradient that stays finite at 0."""
    return torch.sqrt(v.pow(2).sum(-1) + 1e-12)


@OBJECTIVES.register("mcgan")
class McGAN(Objective):
    """McGAN, Mroueh, Sercu & Goel 2017: IPM_{mu,2} + IPM_Sigma on critic features Phi(x) in R^k
    (k = ``objective.feature_dim``).

    - Mean matching (their eq. 3 with q = 2): max over ||v||_2 <= 1 of <v, mu(P) - mu(Q)> is
      ||mu(P) - mu(Q)||_2, mu the mean feature.
    - Covariance matching (sec. 4): max over orthonormal U, V of trace(U^T (Sigma(P) - Sigma(Q)) V), with
      Sigma = E[Phi Phi^T]. With U, V of full rank k the maximum is the nuclear norm ||Sigma(P) -
      Sigma(Q)||_*, which is computed here in closed form instead of learning U and V.
    D maximises d = IPM_mu + w * IPM_Sigma (w = ``objective.mean_cov_weight``; 0 gives McGAN-mu), G
    minimises it, and Phi's weights are clipped to [-c, c] after each D update, as in the paper.
    """

    options = ("objective.clip", "objective.feature_dim", "objective.mean_cov_weight")

    critic = "features"
    g_needs_real = True

    def distance(self, real_out, fake_out):
        x, y = real_out.flatten(1), fake_out.flatten(1)
        mean_term = _norm(x.mean(0) - y.mean(0))
        w = self.cfg.mean_cov_weight
        if w == 0:
            return mean_term
        diff = x.T @ x / len(x) - y.T @ y / len(y)
        return mean_term + w * torch.linalg.matrix_norm(diff, ord="nuc")

    def d_loss(self, real_out, fake_out):
        return -self.distance(real_out, fake_out)

    def g_loss(self, fake_out, real_out=None):
        return self.distance(real_out.detach(), fake_out)

    def after_d_step(self, d_modules):
        clip_weights(d_modules, self.cfg.clip)


@OBJECTIVES.register("fisher")
class FisherGAN(Objective):
    """Fisher GAN, Mroueh & Sercu 2017, eq. 7 and Algorithm 1. With E(f) = E_P f - E_Q f and
    Omega(f) = 1/2 E_P f^2 + 1/2 E_Q f^2, the critic maximises the augmented Lagrangian
    L_F = E + lambda (1 - Omega) - rho / 2 (1 - Omega)^2, and after each critic update
    lambda <- lambda - rho (1 - Omega) (rho = ``objective.rho``, the paper's 1e-6). G minimises -E_Q f.
    Logged: ``d/lambda`` and ``d/omega`` (Omega -> 1 when the constraint holds)."""

    options = ("objective.rho",)

    def __init__(self, cfg, label_smoothing=0.0):
        super().__init__(cfg, label_smoothing)
        self.lam = 0.0
        self._constraint = None

    def d_loss(self, real_out, fake_out):
        e = real_out.mean() - fake_out.mean()
        omega = 0.5 * real_out.pow(2).mean() + 0.5 * fake_out.pow(2).mean()
        constraint = 1 - omega
        self._constraint = float(constraint.detach())
        self.logs = {"lambda": torch.tensor(self.lam), "omega": omega.detach()}
        return -(e + self.lam * constraint - 0.5 * self.cfg.rho * constraint.pow(2))

    def g_loss(self, fake_out, real_out=None):
        return -fake_out.mean()

    def sync(self, average):
        """1 - Omega of the whole (multi-process) batch."""
        if self._constraint is not None:
            self._constraint = float(average(torch.tensor(self._constraint, dtype=torch.float64)))

    def after_d_step(self, d_modules):
        if self._constraint is not None:
            self.lam -= self.cfg.rho * self._constraint
            self._constraint = None

    def state_dict(self):
        return {"lambda": self.lam}

    def load_state_dict(self, state):
        self.lam = state["lambda"]


@OBJECTIVES.register("cramer")
class CramerGAN(Objective):
    """Cramér GAN, Bellemare et al. 2017, Algorithm 1. The critic h maps x to R^k
    (k = ``objective.feature_dim``). The fake batch is split into two independent halves x_g, x'_g and
    paired with real samples x_r:

    - G minimises the energy distance estimate
      L_g = ||h(x_r) - h(x_g)|| + ||h(x_r) - h(x'_g)|| - ||h(x_g) - h(x'_g)||;
    - with f(x) = ||h(x) - h(x'_g)|| - ||h(x)||, the critic minimises -(f(x_r) - f(x_g)) plus
      lambda (||grad f(x_hat)|| - 1)^2 at x_hat between x_r and x_g (lambda = ``objective.penalty_weight``,
      default 10).
    """

    options = ("objective.feature_dim",)

    critic = "features"
    g_needs_real = True

    def __init__(self, cfg, label_smoothing=0.0):
        self.weight = own_constraint_weight(cfg)
        super().__init__(cfg, label_smoothing)

    @staticmethod
    def _halves(real_out, fake_out):
        n = len(fake_out) // 2
        if n < 1 or len(real_out) < n:
            raise ConfigError("cramer needs at least 2 fakes per batch; raise train.batch_size")
        return real_out[:n].flatten(1), fake_out[:n].flatten(1), fake_out[n:2 * n].flatten(1)

    @staticmethod
    def critic_value(h_x, h_ref):
        """f(x) = ||h(x) - h(x'_g)|| - ||h(x)||."""
        return _norm(h_x - h_ref) - _norm(h_x)

    def d_loss(self, real_out, fake_out):
        h_r, h_g, h_g2 = self._halves(real_out, fake_out)
        surrogate = self.critic_value(h_r, h_g2).mean() - self.critic_value(h_g, h_g2).mean()
        return -surrogate

    def g_loss(self, fake_out, real_out=None):
        h_r, h_g, h_g2 = self._halves(real_out.detach(), fake_out)
        return (_norm(h_r - h_g) + _norm(h_r - h_g2) - _norm(h_g - h_g2)).mean()

    def regularizer(self, d, real, fake):
        n = len(fake) // 2
        h_ref = d(fake[n:2 * n]).flatten(1)
        r, g = real[:n].detach(), fake[:n].detach()
        t = _per_example(r.shape, r)
        grad = _input_grad(lambda v: self.critic_value(d(v).flatten(1), h_ref), t * r + (1 - t) * g)
        return self.weight * ((grad.norm(2, dim=1) - 1) ** 2).mean()

    def report(self, out):
        return _norm(out.detach().float().flatten(1)).mean()


def bregman(x: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """B_phi(x, y) = phi(x) - phi(y) - <grad phi(y), x - y>, one value per example (rows flattened).

    - "squared": phi(u) = ||u||^2 / 2 gives ||x - y||^2 / 2;
    - "kl": phi(u) = sum u log u on u = (x + 1) / 2 (data in [-1, 1] mapped to [0, 1], floored at 1e-6)
      gives the generalised KL divergence sum u log(u / v) - u + v, the cost of Guo et al.'s KL RWGAN.
    """
    x, y = x.flatten(1), y.flatten(1)
    if kind == "squared":
        return 0.5 * (x - y).pow(2).sum(1)
    u, v = ((x + 1) / 2).clamp_min(1e-6), ((y + 1) / 2).clamp_min(1e-6)
    return (u * (u.log() - v.log()) - u + v).sum(1)


@OBJECTIVES.register("rwgan")
class RWGAN(WGAN):
    """Relaxed Wasserstein GAN, Guo, Hong, Lin & Yang 2017: W1's cost |x - y| is replaced by a Bregman
    cost B_phi (``objective.bregman``: "kl", their best, or "squared"). By Kantorovich duality any critic
    with f(x) - f(y) <= B_phi(x, y) for all x ~ P_r, y ~ P_g gives E_r f - E_g f <= RW_phi(P_r, P_g).

    gankit's reading of the algorithm: the critic maximises E_r f - E_g f (the WGAN losses) and the dual
    constraint is imposed on the batch's real/fake pairs by the one-sided penalty
    lambda * E[max(0, f(x_r) - f(x_g) - B_phi(x_r, x_g))^2] (lambda = ``objective.penalty_weight``, default
    10) instead of weight clipping; G minimises -E f(G(z)). The paper's own heuristic approximation is
    not reproduced exactly.
    """

    options = ("objective.bregman",)

    clips = False  # the Bregman constraint replaces weight clipping

    def __init__(self, cfg, label_smoothing=0.0):
        self.weight = own_constraint_weight(cfg)
        super().__init__(cfg, label_smoothing)

    def regularizer(self, d, real, fake):
        real, fake = real.detach(), fake.detach()
        # one critic value per (packed) example: a patch critic's value is the mean over its patches
        f_real, f_fake = d(real).flatten(1).mean(1), d(fake).flatten(1).mean(1)
        # Under PacGAN packing D sees groups of m samples; phi is a sum over coordinates, so the cost of a
        # packed pair is the sum of its members' costs.
        cost = bregman(real, fake, self.cfg.bregman).view(len(f_real), -1).sum(1)
        gap = f_real - f_fake - cost
        return self.weight * F.relu(gap).pow(2).mean()
