"""Energy-based objectives: D is an autoencoder and its reconstruction error is the energy, low on real
data and high elsewhere. EBGAN (a hinge with a margin), BEGAN (an equilibrium-controlled weight on the
fakes' energy) and MAGAN (EBGAN with a margin that shrinks as D learns)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import OBJECTIVES
from .base import Objective


def mse_energy(out) -> torch.Tensor:
    """EBGAN's energy, one per example: the mean squared reconstruction error ||Dec(Enc(x)) - x||^2 / dim."""
    return out.residual.flatten(1).pow(2).mean(1)


def l1_energy(out) -> torch.Tensor:
    """BEGAN's L(v) = |v - D(v)|^eta with eta = 1, one per example (mean absolute error per dimension)."""
    return out.residual.flatten(1).abs().mean(1)


def pulling_away(code: torch.Tensor) -> torch.Tensor:
    """EBGAN's pulling-away term (Zhao et al. 2017, eq. 4): the mean squared cosine similarity between the
    codes of different samples in the batch, 1 / (N (N - 1)) sum_{i != j} cos(S_i, S_j)^2. It is 0 for
    orthogonal codes and 1 for a collapsed batch."""
    s = F.normalize(code.flatten(1), dim=1)
    n = len(s)
    if n < 2:
        return code.new_zeros(())
    cos2 = (s @ s.T).pow(2)
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


class _Energy(Objective):
    critic = "autoencoder"
    energy = staticmethod(mse_energy)

    def report(self, out):
        """Logged as D(x) / D(G(z)): the mean energy (low means D reconstructs it well)."""
        return self.energy(out).detach().float().mean()


@OBJECTIVES.register("ebgan")
class EBGAN(_Energy):
    """EBGAN, Zhao, Mathieu & LeCun 2017, eq. 1-2 and 4: with D(x) the reconstruction energy,
    L_D = D(x) + [m - D(G(z))]^+ and L_G = D(G(z)) + lambda_PT * f_PT(S), where S are the encoder's codes
    of the fake batch. m = ``objective.margin`` (for the mean squared error per dimension of images in
    [-1, 1]), lambda_PT = ``objective.pt_weight`` (the paper's 0.1)."""

    options = ("objective.margin", "objective.pt_weight", "objective.feature_dim")

    def margin(self) -> float:
        return self.cfg.margin

    def d_loss(self, real_out, fake_out):
        return self.hinge(self.energy(real_out), self.energy(fake_out))

    def hinge(self, e_real, e_fake):
        """L_D = D(x) + [m - D(G(z))]^+ on per-example energies."""
        m = self.margin()
        self.logs = {"margin": torch.tensor(m)}
        return e_real.mean() + F.relu(m - e_fake).mean()

    def g_loss(self, fake_out, real_out=None):
        loss = self.energy(fake_out).mean()
        if self.cfg.pt_weight > 0:
            loss = loss + self.cfg.pt_weight * pulling_away(fake_out.code)
        return loss


@OBJECTIVES.register("magan")
class MAGAN(EBGAN):
    """MAGAN, Wang, Cully, Chang & Fisher 2017, Algorithm 1: EBGAN's losses (without the pulling-away
    term) with a margin that adapts to D.

    - Warm-up: for the first ``objective.margin_window`` D updates D is trained as a plain autoencoder on
      real data (the paper pre-trains D so), and m is then set to the mean real energy of that window.
    - After every further window (the paper's epoch) of D updates with summed real and fake energies
      S_real and S_fake over its N examples: if S_real / N < m and S_real < S_fake, then m = S_real / N.
    The margin only shrinks, tracking how well D has learned the data."""

    options = ("objective.margin_window", "objective.feature_dim")

    def __init__(self, cfg, label_smoothing=0.0):
        super().__init__(cfg, label_smoothing)
        self.m = float("inf")  # inf until the warm-up ends
        self._sums = [0.0, 0.0, 0]  # S_real, S_fake, N in the current window
        self._updates = 0
        self._pending = None

    def margin(self) -> float:
        return self.m

    def d_loss(self, real_out, fake_out):
        e_real, e_fake = self.energy(real_out), self.energy(fake_out)
        self._pending = (float(e_real.detach().sum()), float(e_fake.detach().sum()), len(e_real))
        if self.m == float("inf"):  # warm-up: a plain autoencoder on real data; the margin logs as -1
            self.logs = {"margin": torch.tensor(-1.0)}
            return e_real.mean()
        return self.hinge(e_real, e_fake)

    def g_loss(self, fake_out, real_out=None):
        return self.energy(fake_out).mean()

    def sync(self, average):
        """The window sums: averaging each of S_real, S_fake and N keeps their ratios (the margin's test)."""
        if self._pending is not None:
            self._pending = tuple(float(average(torch.tensor(float(v), dtype=torch.float64)))
                                  for v in self._pending)

    def after_d_step(self, d_modules):
        if self._pending is None:
            return
        for i, v in enumerate(self._pending):
            self._sums[i] += v
        self._pending = None
        self._updates += 1
        if self._updates % self.cfg.margin_window:
            return
        s_real, s_fake, n = self._sums
        if self.m == float("inf"):
            self.m = s_real / n
        elif s_real / n < self.m and s_real < s_fake:
            self.m = s_real / n
        self._sums = [0.0, 0.0, 0]

    def state_dict(self):
        return {"m": self.m, "sums": list(self._sums), "updates": self._updates}

    def load_state_dict(self, state):
        self.m, self._sums, self._updates = state["m"], list(state["sums"]), state["updates"]


@OBJECTIVES.register("began")
class BEGAN(_Energy):
    """BEGAN, Berthelot, Schumm & Metz 2017, eq. 4 and sec. 3.4: with L(v) = |v - D(v)| (eta = 1),
    L_D = L(x) - k_t L(G(z)), L_G = L(G(z)), and after each D update
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1), k_0 = 0 (gamma = ``objective.gamma``,
    lambda_k = ``objective.k_lr``, the paper's 0.001). The convergence measure
    M_global = L(x) + |gamma L(x) - L(G(z))| is logged as ``d/convergence`` next to ``d/k``."""

    options = ("objective.gamma", "objective.k_lr", "objective.feature_dim")

    energy = staticmethod(l1_energy)

    def __init__(self, cfg, label_smoothing=0.0):
        super().__init__(cfg, label_smoothing)
        self.k = 0.0
        self._balance = None

    def d_loss(self, real_out, fake_out):
        l_real, l_fake = self.energy(real_out).mean(), self.energy(fake_out).mean()
        balance = float(self.cfg.gamma * l_real.detach() - l_fake.detach())
        self._balance = balance
        self.logs = {"k": torch.tensor(self.k), "convergence": l_real.detach() + abs(balance)}
        return l_real - self.k * l_fake

    def g_loss(self, fake_out, real_out=None):
        return self.energy(fake_out).mean()

    def sync(self, average):
        """gamma L(x) - L(G(z)) of the whole (multi-process) batch."""
        if self._balance is not None:
            self._balance = float(average(torch.tensor(self._balance, dtype=torch.float64)))

    def after_d_step(self, d_modules):
        if self._balance is not None:
            self.k = min(max(self.k + self.cfg.k_lr * self._balance, 0.0), 1.0)
            self._balance = None

    def state_dict(self):
        return {"k": self.k}

    def load_state_dict(self, state):
        self.k = state["k"]
