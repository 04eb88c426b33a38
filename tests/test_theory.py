"""gankit.theory against exact values and scipy."""
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import norm, wasserstein_distance

from gankit.theory import (c_of_g_via_jsd, js, kl, normalize, optimal_discriminator, parallel_lines,
                           total_variation, value, virtual_training_criterion, w1_densities, w1_histograms,
                           w1_samples)


def random_dist(rng, n=12):
    return normalize(rng.random(n) ** 3)


def test_js_of_disjoint_point_masses_is_log_2():
    assert abs(float(js([1.0, 0.0], [0.0, 1.0])) - math.log(2)) < 1e-12
    assert float(total_variation([1.0, 0.0], [0.0, 1.0])) == 1.0
    assert math.isinf(float(kl([1.0, 0.0], [0.0, 1.0])))


def test_c_of_g_at_the_optimum_is_minus_log_4():
    p = normalize(np.arange(1, 9))
    assert abs(float(virtual_training_criterion(p, p)) + math.log(4)) < 1e-12
    assert torch.allclose(optimal_discriminator(p, p), torch.full((8,), 0.5, dtype=torch.float64))


@pytest.mark.parametrize("seed", range(5))
def test_c_of_g_equals_minus_log_4_plus_2_jsd(seed):
    rng = np.random.default_rng(seed)
    p, q = random_dist(rng), random_dist(rng)
    q[rng.random(12) < 0.3] = 0  # parts of the support that only p_data reaches
    q = normalize(q)
    assert abs(float(virtual_training_criterion(p, q)) - float(c_of_g_via_jsd(p, q))) < 1e-12
    # D* is the maximiser: any other D gives a lower value
    d_star = optimal_discriminator(p, q)
    for _ in range(20):
        d = (d_star + 0.05 * torch.randn(12, dtype=torch.float64)).clamp(1e-6, 1 - 1e-6)
        assert float(value(d, p, q)) <= float(value(d_star, p, q)) + 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_divergences_agree_with_scipy(seed):
    rng = np.random.default_rng(seed)
    p, q = random_dist(rng), random_dist(rng)
    assert abs(float(kl(p, q)) - rel_entr(p.numpy(), q.numpy()).sum()) < 1e-12
    assert abs(float(js(p, q)) - jensenshannon(p.numpy(), q.numpy()) ** 2) < 1e-12
    assert abs(float(js(p, q)) - float(js(q, p))) < 1e-15  # symmetric
    assert abs(float(kl(p, q)) - float(kl(q, p))) > 1e-3  # KL is not
    assert 0 <= float(js(p, q)) <= math.log(2)


@pytest.mark.parametrize("seed", range(4))
def test_w1_samples_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    u, v = rng.normal(0, 1, 300), rng.normal(0.7, 2, 170)
    uw, vw = rng.random(300), rng.random(170)
    assert abs(float(w1_samples(u, v)) - wasserstein_distance(u, v)) < 1e-12
    assert abs(float(w1_samples(u, v, uw, vw)) - wasserstein_distance(u, v, uw, vw)) < 1e-12


def test_w1_histograms_and_densities():
    x = np.arange(5.0)
    assert abs(float(w1_histograms([1, 0, 0, 0, 0], [0, 0, 0, 1, 0], x)) - 3.0) < 1e-12
    grid = np.linspace(-10, 12, 20001)
    # two Gaussians with the same std: W1 is the distance between the means
    w = w1_densities(norm.pdf(grid, 0, 1), norm.pdf(grid, 2, 1), grid)
    assert abs(float(w) - 2.0) < 1e-3


@pytest.mark.parametrize("theta", [-1.5, -0.2, 0.3, 2.0])
def test_parallel_lines_values_and_gradients(theta):
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    d = {k: v.detach() for k, v in parallel_lines(t).items()}
    assert float(d["w1"]) == abs(theta)
    assert abs(float(d["js"]) - math.log(2)) < 1e-15 and float(d["tv"]) == 1.0 and math.isinf(float(d["kl"]))
    (g_w1,) = torch.autograd.grad(parallel_lines(t)["w1"], t)
    (g_js,) = torch.autograd.grad(parallel_lines(t)["js"], t)
    assert float(g_w1) == math.copysign(1.0, theta)  # W1 pulls theta towards 0
    assert float(g_js) == 0.0  # JS gives no gradient at all


def test_parallel_lines_at_zero():
    d = parallel_lines(torch.tensor(0.0, dtype=torch.float64))
    assert all(float(v) == 0.0 for v in d.values())


@pytest.mark.parametrize("call,fragment", [
    (lambda: js([0.5, 0.6], [0.5, 0.5]), "p sums to 1.1"),
    (lambda: kl([1.2, -0.2], [0.5, 0.5]), "p[1] = -0.2"),
    (lambda: js([1.0], [0.5, 0.5]), "different supports (1 vs 2 points)"),
    (lambda: w1_histograms([0.5, 0.5], [0.5, 0.5], [1.0, 0.0]), "sorted"),
    (lambda: optimal_discriminator([0.5, 0.5], [0.2, 0.2, 0.6]), "different supports"),
])
def test_bad_distributions_are_refused(call, fragment):
    from gankit.theory.divergences import DistributionError

    with pytest.raises(DistributionError) as e:
        call()
    assert fragment in str(e.value)
