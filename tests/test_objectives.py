"""Every objective's losses on known logits against hand-computed values, and the penalties' exact values."""
import math

import pytest
import torch

from gankit.config import ObjectiveConfig
from gankit.objectives import build_objective, build_penalty

REAL = [0.0, 2.0, -0.5]
FAKE = [-1.0, 1.0, 3.0]


def neg_log_sigmoid(a):  # -log D for D = sigmoid(a), written directly
    return -math.log(1.0 / (1.0 + math.exp(-a)))


def neg_log_one_minus_sigmoid(a):  # -log(1 - D)
    return -math.log(1.0 - 1.0 / (1.0 + math.exp(-a)))


def mean(xs):
    return sum(xs) / len(xs)


def losses(name, **kw):
    obj = build_objective(ObjectiveConfig(name=name, **kw))
    r, f = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    return obj, float(obj.d_loss(r, f)), float(obj.g_loss(f))


@pytest.mark.parametrize("name", ["minimax", "ns", "dragan", "ns-r1"])
def test_bce_d_loss_is_minus_value_function(name):
    _, d, _ = losses(name)
    expected = mean([neg_log_sigmoid(a) for a in REAL]) + mean([neg_log_one_minus_sigmoid(a) for a in FAKE])
    assert abs(d - expected) < 1e-12


def test_minimax_g_loss_is_log_one_minus_d():
    _, _, g = losses("minimax")
    assert abs(g - mean([math.log(1 - 1 / (1 + math.exp(-a))) for a in FAKE])) < 1e-12


def test_ns_g_loss_is_minus_log_d():
    _, _, g = losses("ns")
    assert abs(g - mean([neg_log_sigmoid(a) for a in FAKE])) < 1e-12


def test_one_sided_label_smoothing_targets_one_minus_s():
    obj = build_objective(ObjectiveConfig(name="ns"), label_smoothing=0.1)
    r, f = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    expected = mean([0.9 * neg_log_sigmoid(a) + 0.1 * neg_log_one_minus_sigmoid(a) for a in REAL]) + \
        mean([neg_log_one_minus_sigmoid(a) for a in FAKE])
    assert abs(float(obj.d_loss(r, f)) - expected) < 1e-12
    # the fake side is not smoothed (one-sided) and G's loss is unchanged
    assert abs(float(obj.g_loss(f)) - mean([neg_log_sigmoid(a) for a in FAKE])) < 1e-12


def test_label_smoothing_refused_where_meaningless():
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="label_smoothing"):
        build_objective(ObjectiveConfig(name="wgan"), label_smoothing=0.1)


def test_wgan_losses():
    _, d, g = losses("wgan")
    assert abs(d - (mean(FAKE) - mean(REAL))) < 1e-12
    assert abs(g - (-mean(FAKE))) < 1e-12


def test_wgan_clips_critic_weights():
    obj = build_objective(ObjectiveConfig(name="wgan", clip=0.05))
    net = torch.nn.Linear(4, 1)
    with torch.no_grad():
        net.weight.fill_(3.0)
        net.bias.fill_(-3.0)
    obj.after_d_step([net])
    assert float(net.weight.detach().abs().max()) == pytest.approx(0.05)
    assert float(net.bias.detach()) == pytest.approx(-0.05)
    # WGAN-GP does not clip
    gp = build_objective(ObjectiveConfig(name="wgan-gp"))
    with torch.no_grad():
        net.weight.fill_(3.0)
    gp.after_d_step([net])
    assert float(net.weight.detach().max()) == 3.0


def test_lsgan_losses():
    _, d, g = losses("lsgan")
    assert abs(d - (0.5 * mean([(a - 1) ** 2 for a in REAL]) + 0.5 * mean([a**2 for a in FAKE]))) < 1e-12
    assert abs(g - 0.5 * mean([(a - 1) ** 2 for a in FAKE])) < 1e-12


def test_hinge_losses():
    _, d, g = losses("hinge")
    assert abs(d - (mean([max(0, 1 - a) for a in REAL]) + mean([max(0, 1 + a) for a in FAKE]))) < 1e-12
    assert abs(g - (-mean(FAKE))) < 1e-12


def test_bce_losses_stay_finite_for_huge_logits():
    obj = build_objective(ObjectiveConfig(name="ns"))
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(obj.d_loss(big, -big)) and torch.isfinite(obj.g_loss(big))
    assert abs(float(obj.d_loss(-big[:1].abs(), big[:1].abs())) - 2e4) < 1  # -log sigmoid(-1e4) = 1e4


def test_saturating_gradient_vanishes_non_saturating_does_not():
    """The slides' point: when D confidently rejects fakes (D(G(z)) -> 0), log(1 - D) gives G no gradient."""
    logits = torch.tensor([-12.0], requires_grad=True)
    mm = build_objective(ObjectiveConfig(name="minimax"))
    ns = build_objective(ObjectiveConfig(name="ns"))
    (g_mm,) = torch.autograd.grad(mm.g_loss(logits), logits)
    (g_ns,) = torch.autograd.grad(ns.g_loss(logits), logits)
    d = 1 / (1 + math.exp(12.0))
    assert abs(float(g_mm) - (-d)) < 1e-9  # d/da log(1 - sigmoid(a)) = -sigmoid(a)
    assert abs(float(g_mm)) < 1e-5
    assert abs(float(g_ns) - (-(1 - d))) < 1e-6  # d/da -log sigmoid(a) = -(1 - sigmoid(a))
    # both push the logit up (same sign): only the magnitude differs
    assert float(g_mm) < 0 and float(g_ns) < 0


@pytest.mark.parametrize("w", [[3.0, 4.0], [0.3, -0.4], [1.0, 0.0]])
def test_gradient_penalty_of_linear_critic(w):
    """For f(x) = w.x the gradient is w everywhere, so the WGAN-GP penalty is lambda (||w|| - 1)^2."""
    wt = torch.tensor(w, dtype=torch.float64)
    critic = lambda x: x @ wt  # noqa: E731
    real, fake = torch.randn(64, 2, dtype=torch.float64), torch.randn(64, 2, dtype=torch.float64)
    for lam in (1.0, 10.0):
        pen = build_penalty("gp", lam)(critic, real, fake)
        assert abs(float(pen) - lam * (math.hypot(*w) - 1) ** 2) < 1e-10
        pen = build_penalty("dragan", lam)(critic, real, fake)
        assert abs(float(pen) - lam * (math.hypot(*w) - 1) ** 2) < 1e-10
        pen = build_penalty("r1", lam)(critic, real, fake)
        assert abs(float(pen) - 0.5 * lam * (w[0] ** 2 + w[1] ** 2)) < 1e-10


def test_gradient_penalty_interpolates_once_per_example():
    torch.manual_seed(0)
    pen = build_penalty("gp", 10.0)
    real, fake = torch.zeros(500, 3, 4, 4), torch.ones(500, 3, 4, 4)
    pts = pen.points(real, fake)
    per_example = pts.flatten(1)
    # each example is one point on the segment: all its entries share one coefficient t
    assert torch.all(per_example.max(1).values - per_example.min(1).values == 0)
    t = per_example[:, 0]
    assert 0.4 < float(t.mean()) < 0.6 and float(t.std()) > 0.2  # t ~ U[0, 1]


def test_gradient_penalty_is_differentiable_wrt_critic():
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    pen = build_penalty("gp", 10.0)(net, torch.randn(16, 2), torch.randn(16, 2))
    pen.backward()
    # every weight shapes grad_x f; the output bias does not, so it gets no gradient
    weights = [net[0].weight, net[0].bias, net[2].weight]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in weights)
    assert net[2].bias.grad is None


def test_aliases_select_the_same_objective():
    from gankit.registry import OBJECTIVES

    assert OBJECTIVES.get("mm") is OBJECTIVES.get("minimax")
    assert OBJECTIVES.get("r1") is OBJECTIVES.get("ns-r1")
