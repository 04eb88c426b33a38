"""The objective zoo of the slides' table: exact values against numpy / scipy written independently, the
stateful updates (BEGAN's k_t, Fisher's lambda, MAGAN's margin), and the registry's refusals."""
import numpy as np
import pytest
import scipy.special
import torch

from gankit.config import ObjectiveConfig, load_config
from gankit.errors import ConfigError
from gankit.nets import AutoencoderOutput
from gankit.objectives import build_objective, critic_kind
from gankit.objectives.energy import pulling_away
from gankit.objectives.ipm import bregman
from gankit.objectives.mmd import median_sigmas, mmd2
from gankit.registry import OBJECTIVES


def obj(name, **kw):
    return build_objective(ObjectiveConfig(name=name, **kw))


def np_kernel(a, b, sigmas):
    return sum(np.exp(-np.sum((a - b) ** 2) / (2 * s * s)) for s in sigmas)


def np_mmd2(x, y, sigmas, unbiased):
    """MMD^2 by explicit double loops (Gretton et al. 2012, eq. 3 and 5)."""
    n, m = len(x), len(y)
    if unbiased:
        xx = sum(np_kernel(x[i], x[j], sigmas) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        yy = sum(np_kernel(y[i], y[j], sigmas) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    else:
        xx = sum(np_kernel(x[i], x[j], sigmas) for i in range(n) for j in range(n)) / n**2
        yy = sum(np_kernel(y[i], y[j], sigmas) for i in range(m) for j in range(m)) / m**2
    xy = sum(np_kernel(x[i], y[j], sigmas) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 3))
Y = RNG.normal(size=(5, 3)) + 1.0
SIGMAS = (0.5, 1.0, 3.0)


@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd2_matches_double_loop(unbiased):
    got = float(mmd2(torch.tensor(X), torch.tensor(Y), SIGMAS, unbiased=unbiased))
    assert abs(got - np_mmd2(X, Y, SIGMAS, unbiased)) < 1e-10


def test_biased_mmd_of_identical_samples_is_zero():
    x = torch.tensor(X)
    assert abs(float(mmd2(x, x, SIGMAS, unbiased=False))) < 1e-12


def test_median_heuristic_uses_the_median_pairwise_distance():
    z = np.concatenate([X, Y])
    d = [np.linalg.norm(z[i] - z[j]) for i in range(len(z)) for j in range(len(z)) if i != j]
    got = median_sigmas(torch.tensor(X), torch.tensor(Y), multiples=(1.0, 2.0))
    assert got[0] == pytest.approx(np.median(d), rel=1e-5) and got[1] == pytest.approx(2 * np.median(d), rel=1e-5)


def test_gmmn_g_loss_is_sqrt_of_biased_mmd_and_it_has_no_d():
    o = obj("gmmn", sigmas=SIGMAS)
    assert critic_kind("gmmn") == "none" and o.g_needs_real
    got = float(o.g_loss(torch.tensor(Y), torch.tensor(X)))
    assert abs(got - np.sqrt(np_mmd2(X, Y, SIGMAS, unbiased=False))) < 1e-6


def _ae(code, residual):
    return AutoencoderOutput(torch.tensor(code), torch.tensor(residual))


def test_mmd_gan_losses():
    o = obj("mmd-gan", sigmas=SIGMAS, ae_weight=2.0, rg_weight=3.0)
    res_r, res_f = RNG.normal(size=(6, 4)), RNG.normal(size=(5, 4))
    real, fake = _ae(X, res_r), _ae(Y, res_f)
    dist = np.sqrt(max(np_mmd2(X, Y, SIGMAS, True), 0))
    one_sided = np.mean(np.minimum(X.mean(0) - Y.mean(0), 0))
    ae = np.mean(res_r**2) + np.mean(res_f**2)
    assert float(o.d_loss(real, fake)) == pytest.approx(-(dist + 3 * one_sided - 2 * ae), abs=1e-6)
    assert float(o.g_loss(fake, real)) == pytest.approx(dist + 3 * one_sided, abs=1e-6)


def test_mcgan_distance_is_mean_gap_plus_nuclear_norm_of_covariance_gap():
    o = obj("mcgan", mean_cov_weight=0.5)
    mean_gap = np.linalg.norm(X.mean(0) - Y.mean(0))
    cov_gap = np.linalg.svd(X.T @ X / len(X) - Y.T @ Y / len(Y), compute_uv=False).sum()
    expected = mean_gap + 0.5 * cov_gap
    x, y = torch.tensor(X), torch.tensor(Y)
    assert float(o.g_loss(y, x)) == pytest.approx(expected, abs=1e-6)
    assert float(o.d_loss(x, y)) == pytest.approx(-expected, abs=1e-6)
    assert float(obj("mcgan", mean_cov_weight=0.0).g_loss(y, x)) == pytest.approx(mean_gap, abs=1e-6)


def test_fisher_lagrangian_and_multiplier_update():
    o = obj("fisher", rho=0.1)
    r, f = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64), torch.tensor([0.0, -1.0], dtype=torch.float64)
    e = np.mean([1, 2, 0.5]) - np.mean([0, -1])
    omega = 0.5 * np.mean([1, 4, 0.25]) + 0.5 * np.mean([0, 1])
    lam = 0.7
    o.lam = lam
    expected = -(e + lam * (1 - omega) - 0.05 * (1 - omega) ** 2)
    assert float(o.d_loss(r, f)) == pytest.approx(expected, abs=1e-12)
    o.after_d_step([])
    assert o.lam == pytest.approx(lam - 0.1 * (1 - omega))
    assert float(o.g_loss(f)) == pytest.approx(0.5)
    fresh = obj("fisher")
    fresh.load_state_dict(o.state_dict())
    assert fresh.lam == o.lam


def np_norm(v):
    return np.sqrt(np.sum(v**2, -1))


def test_cramer_losses_follow_algorithm_1():
    o = obj("cramer")
    h_r = RNG.normal(size=(3, 4))
    h_f = RNG.normal(size=(6, 4))
    h_g, h_g2 = h_f[:3], h_f[3:]

    def f(h):
        return np_norm(h - h_g2) - np_norm(h)

    surrogate = f(h_r).mean() - f(h_g).mean()
    l_g = (np_norm(h_r - h_g) + np_norm(h_r - h_g2) - np_norm(h_g - h_g2)).mean()
    assert float(o.d_loss(torch.tensor(h_r), torch.tensor(h_f))) == pytest.approx(-surrogate, abs=1e-6)
    assert float(o.g_loss(torch.tensor(h_f), torch.tensor(h_r))) == pytest.approx(l_g, abs=1e-6)


def test_cramer_gradient_penalty_on_a_linear_critic():
    """h(x) = A x: grad f(x_hat) = A^T((A x_hat - h(x'_g)) / ||.|| - A x_hat / ||A x_hat||), by hand."""
    o = obj("cramer", penalty_weight=2.0)
    A = RNG.normal(size=(4, 3))
    real, fake = RNG.normal(size=(2, 3)), RNG.normal(size=(4, 3))
    torch.manual_seed(5)
    got = float(o.regularizer(lambda v: v @ torch.tensor(A).T, torch.tensor(real), torch.tensor(fake)).detach())
    torch.manual_seed(5)
    t = torch.rand(2, 1, dtype=torch.float64).numpy()
    x_hat = t * real + (1 - t) * fake[:2]
    h_ref = fake[2:] @ A.T
    a = x_hat @ A.T
    grad = ((a - h_ref) / np_norm(a - h_ref)[:, None] - a / np_norm(a)[:, None]) @ A
    expected = 2.0 * np.mean((np_norm(grad) - 1) ** 2)
    assert got == pytest.approx(expected, rel=1e-6)


def test_bregman_costs_against_scipy():
    x, y = RNG.uniform(-1, 1, size=(4, 5)), RNG.uniform(-1, 1, size=(4, 5))
    kl = scipy.special.kl_div((x + 1) / 2, (y + 1) / 2).sum(1)  # sum u log(u / v) - u + v
    assert np.allclose(bregman(torch.tensor(x), torch.tensor(y), "kl").numpy(), kl, atol=1e-9)
    assert np.allclose(bregman(torch.tensor(x), torch.tensor(y), "squared").numpy(), 0.5 * ((x - y) ** 2).sum(1))
    assert float(bregman(torch.tensor(x), torch.tensor(x), "kl").abs().max()) < 1e-12


def test_rwgan_penalises_only_violations_of_the_dual_constraint():
    o = obj("rwgan", bregman="squared", penalty_weight=3.0)
    real = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    fake = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)

    def d(v):  # f(x) = -3 x_2: pair 0 has f(real) - f(fake) = 3 > B = 0.5; pair 1 has 0 <= B = 0
        return -3.0 * v[:, 1:2]

    gap0 = 3.0 - 0.5
    assert float(o.regularizer(d, real, fake)) == pytest.approx(3.0 * gap0**2 / 2)
    assert float(o.d_loss(torch.tensor([2.0, 0.0]), torch.tensor([1.0, 3.0]))) == pytest.approx(1.0)


def test_ebgan_losses_and_pulling_away_term():
    o = obj("ebgan", margin=0.5, pt_weight=0.2)
    res_r = torch.tensor([[0.1, 0.3], [0.2, 0.0]])
    res_f = torch.tensor([[1.0, 1.0], [0.2, 0.4]])
    code = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    e_r = np.mean([(0.01 + 0.09) / 2, 0.04 / 2])
    e_f = [1.0, (0.04 + 0.16) / 2]
    d = e_r + np.mean([max(0.0, 0.5 - e) for e in e_f])
    assert float(o.d_loss(AutoencoderOutput(code, res_r), AutoencoderOutput(code, res_f))) == pytest.approx(d)
    cos2 = (1 / np.sqrt(2)) ** 2
    assert float(pulling_away(code)) == pytest.approx(cos2)
    g = np.mean(e_f) + 0.2 * cos2
    assert float(o.g_loss(AutoencoderOutput(code, res_f))) == pytest.approx(g)
    assert float(pulling_away(torch.eye(3))) == pytest.approx(0.0)
    assert float(pulling_away(torch.ones(4, 3))) == pytest.approx(1.0)


def test_began_k_update_and_convergence_measure():
    o = obj("began", gamma=0.5, k_lr=0.1)
    real = AutoencoderOutput(torch.zeros(2, 1), torch.tensor([[1.0, -1.0], [0.5, 0.5]]))  # L(x) = 0.75
    fake = AutoencoderOutput(torch.zeros(2, 1), torch.tensor([[0.2, 0.0], [0.0, 0.2]]))  # L(G(z)) = 0.1
    o.k = 0.3
    assert float(o.d_loss(real, fake)) == pytest.approx(0.75 - 0.3 * 0.1)
    assert float(o.logs["convergence"]) == pytest.approx(0.75 + abs(0.5 * 0.75 - 0.1))
    o.after_d_step([])
    assert o.k == pytest.approx(0.3 + 0.1 * (0.375 - 0.1))
    o.k = 0.99
    o.d_loss(real, fake)
    o.after_d_step([])
    assert o.k == 1.0  # clipped to [0, 1]
    assert float(o.g_loss(fake)) == pytest.approx(0.1)


def test_magan_margin_warms_up_then_only_shrinks():
    o = obj("magan", margin_window=2)
    code = torch.zeros(2, 1)

    def step(e_real, e_fake):
        res = lambda e: torch.full((2, 1), float(np.sqrt(e)))  # noqa: E731  (energy e per example)
        loss = o.d_loss(AutoencoderOutput(code, res(e_real)), AutoencoderOutput(code, res(e_fake)))
        o.after_d_step([])
        return float(loss)

    assert step(0.4, 1.0) == pytest.approx(0.4)  # warm-up: D is a plain autoencoder
    step(0.6, 1.0)
    assert o.m == pytest.approx(0.5)  # mean real energy of the warm-up window
    assert step(0.3, 0.2) == pytest.approx(0.3 + 0.3)
    step(0.3, 0.2)
    assert o.m == pytest.approx(0.5)  # S_real < m but S_real > S_fake: no change
    step(0.2, 0.9)
    step(0.2, 0.9)
    assert o.m == pytest.approx(0.2)
    state = o.state_dict()
    fresh = obj("magan", margin_window=2)
    fresh.load_state_dict(state)
    assert fresh.m == o.m


def test_penalty_needs_a_scalar_critic():
    with pytest.raises(ConfigError, match="needs a scalar critic.*autoencoder"):
        obj("ebgan", penalty="gp")
    with pytest.raises(ConfigError, match="brings its own constraint"):
        obj("cramer", penalty="r1")


def test_recipe_refuses_an_objective_whose_d_it_cannot_use(tmp_path, tiny_overrides):
    from gankit.train import Trainer

    cfg = load_config("mnist-cgan", tiny_overrides + ["objective.name=ebgan"])
    with pytest.raises(ConfigError, match="needs an autoencoder D, which recipe 'cgan' cannot use.*ns"):
        Trainer(cfg, tmp_path / "run", progress=False, tensorboard=False)
    assert not (tmp_path / "run").exists()
    cfg = load_config("mnist-dcgan", tiny_overrides + ["objective.name=began", "d.pack=2"])
    with pytest.raises(ConfigError, match="d.pack=1"):
        Trainer(cfg, tmp_path / "run", progress=False, tensorboard=False)


def test_unknown_objective_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="choose one of: began, cramer, .*mmd-gan.*wgan-gp"):
        obj("bgan")


def test_bad_kernel_bandwidths_are_refused():
    with pytest.raises(ConfigError, match="objective.sigmas must all be > 0"):
        obj("gmmn", sigmas=(1.0, -2.0))
    cfg = load_config("mnist-dcgan", ["objective.name=gmmn", "objective.sigmas=1,2.5,10"])
    assert cfg.objective.sigmas == (1.0, 2.5, 10.0)


@pytest.mark.parametrize("net", ["mlp", "dcgan"])
@pytest.mark.parametrize("objective", OBJECTIVES.names())
def test_one_training_step_per_objective_and_network(tmp_path, tiny_overrides, objective, net):
    """Every pairing the registry allows trains a step, checkpoints, and samples from the checkpoint."""
    from gankit.run import load_run
    from gankit.train import train

    cfg = load_config("mnist-dcgan", tiny_overrides + [
        f"objective.name={objective}", f"g.name={net}", f"d.name={net}", "d.batch_norm=false", "train.steps=1",
        "train.ema_decay=0"])
    train(cfg, tmp_path / "run", progress=False, tensorboard=False)
    run = load_run(tmp_path / "run")
    x = run.sample(3, seed=0)
    assert x.shape == (3, 1, 16, 16) and torch.isfinite(x).all()
    assert ("d" in _net_names(tmp_path)) == (critic_kind(objective) != "none")  # GMMN has no D


def _net_names(tmp_path):
    from gankit.train.checkpoint import read_weights

    nets, *_ = read_weights(tmp_path / "run" / "checkpoints")
    return {k.split(".")[0] for k in nets}
