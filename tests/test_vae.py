"""The VAE recipe and the sharpness score (issue 24): the ELBO's terms exactly, the reparameterised gradient."""
import math

import pytest
import torch

from gankit import load_config, train
from gankit.cli import main
from gankit.data import build_dataset
from gankit.metrics.sharpness import high_frequency_energy
from gankit.recipes import build_recipe
from gankit.recipes.base import DataInfo
from gankit.recipes.vae import bernoulli_nll, gaussian_kl, gaussian_nll

SMALL = ["recipe=vae", "data.name=digits", "data.image_size=16", "g.width=8", "d.width=8", "latent.dim=4",
         "train.batch_size=8", "train.n_samples=8"]


def test_kl_term_is_the_closed_form_and_matches_torch_distributions():
    mu = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    logvar = torch.tensor([[0.0, 0.0], [math.log(4.0), math.log(0.25)]])
    kl = gaussian_kl(mu, logvar)
    assert kl[0] == 0
    # 1/2 [(1 + 4 - 1 - log 4) + (4 + 0.25 - 1 - log 0.25)] = 1/2 (7.25 - log 4 + log 4) = 3.625
    assert kl[1].item() == pytest.approx(3.625, abs=1e-6)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    assert torch.allclose(kl, torch.distributions.kl_divergence(q, p).sum(1))


def test_reparameterised_gradient_matches_finite_differences():
    """d/d(mu, logvar) of the one-sample ELBO estimate with its eps held fixed (common random numbers)."""
    torch.manual_seed(0)
    eps = torch.randn(1, 3, dtype=torch.float64)
    target = torch.tensor([[0.3, -0.2, 0.8]], dtype=torch.float64)

    def neg_elbo(mu, logvar):
        z = mu + (0.5 * logvar).exp() * eps
        return ((z - target) ** 2).sum() + gaussian_kl(mu, logvar).sum()

    mu = torch.tensor([[0.1, 0.5, -0.4]], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([[-0.3, 0.2, 0.0]], dtype=torch.float64, requires_grad=True)
    neg_elbo(mu, logvar).backward()
    h = 1e-6
    for tensor, grad in ((mu, mu.grad), (logvar, logvar.grad)):
        for j in range(3):
            up, down = tensor.detach().clone(), tensor.detach().clone()
            up[0, j] += h
            down[0, j] -= h
            args_up = (up, logvar.detach()) if tensor is mu else (mu.detach(), up)
            args_down = (down, logvar.detach()) if tensor is mu else (mu.detach(), down)
            fd = (neg_elbo(*args_up) - neg_elbo(*args_down)) / (2 * h)
            assert grad[0, j].item() == pytest.approx(fd.item(), rel=1e-6, abs=1e-8)


def test_a_decoder_that_returns_the_input_mean_gives_the_expected_reconstruction_term():
    x = torch.tensor([[0.0, 1.0, 1.0, 0.5]])
    m = x.mean()  # 0.625
    expected = -sum(v * math.log(m) + (1 - v) * math.log(1 - m) for v in x[0].tolist())
    assert bernoulli_nll(x, torch.full_like(x, m)).item() == pytest.approx(expected, rel=1e-6)
    mean = torch.full_like(x, m)
    g = gaussian_nll(x, mean, 0.5).item()
    ref = sum(-torch.distributions.Normal(m, 0.5).log_prob(v).item() for v in x[0])
    assert g == pytest.approx(ref, rel=1e-6)


def small_vae(extra=()):
    cfg = load_config(None, [*SMALL, *extra])
    info = DataInfo.of(build_dataset(cfg.data))
    torch.manual_seed(0)
    return build_recipe(cfg, info), cfg


def test_the_vae_loss_is_the_negative_elbo_of_its_parts():
    recipe, _ = small_vae()
    x = torch.rand(8, 1, 16, 16) * 2 - 1
    torch.manual_seed(1)
    loss, logs = recipe.loss("vae", (x, None))
    assert loss.item() == pytest.approx((logs["reconstruction_nll"] + logs["kl"]).item(), rel=1e-6)
    assert logs["elbo"].item() == pytest.approx(-loss.item())
    mu, logvar = recipe.encode(x)
    assert mu.shape == logvar.shape == (8, 4)
    # the decoder is the same network a GAN of this family would use as G
    from gankit.nets import build_generator

    assert type(recipe.nets["g"]) is type(build_generator(recipe.cfg.g, 4, (1, 16, 16)))


def test_a_vae_trains_and_its_reconstructions_improve(tmp_path):
    cfg = load_config(None, [*SMALL, "train.steps=150", "optim.g.lr=1e-3", "optim.g.betas=[0.9,0.999]",
                             "train.log_every=10"])
    run = train(cfg, tmp_path / "vae", progress=False, tensorboard=False)
    rows = run.metrics()
    assert rows[-1]["vae_loss"] < rows[0]["vae_loss"] - 20, (rows[0]["vae_loss"], rows[-1]["vae_loss"])
    assert run.sample(4).shape == (4, 1, 16, 16)


def test_settings_a_vae_cannot_use_are_refused(tmp_path, capsys):
    for extra, needle in ((["objective.name=wgan-gp"], "no adversarial objective"),
                          (["latent.dist=uniform"], "N(0, I)"),
                          (["vae.likelihood=poisson"], "vae.likelihood")):
        code = main(["train", "--run-dir", str(tmp_path / "r"), "--no-progress", *SMALL, *extra])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and needle in err, (extra, err)
    code = main(["train", "--dry-run", "vae.sigma=0.5"])  # the section belongs to the vae recipe
    err = capsys.readouterr().err.strip()
    assert code == 2 and "recipe 'vae'" in err


def test_sharpness_orders_a_blurred_set_below_the_original():
    from gankit.data.pyramid import blur

    x = build_dataset(load_config(None, ["data.name=digits", "data.image_size=16"]).data).images()[:64].float()
    sharp = high_frequency_energy(x)
    blurred = high_frequency_energy(blur(x))
    assert (blurred < sharp).all()
    assert high_frequency_energy(torch.full((2, 1, 8, 8), 0.3)).abs().max() < 1e-20  # flat: no high band


def test_vae_vs_gan_lab_writes_table_figures_and_verdicts(tmp_path, monkeypatch, capsys):
    """The lab's plumbing on tiny networks and a stand-in scorer (the real one needs the trained classifier; the
    claims themselves are measured in tests/test_vae_quality.py)."""
    import json

    from gankit.lab import vae_vs_gan

    real_config = vae_vs_gan.arm_config
    tiny = ["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8", "latent.dim=8", "train.batch_size=8"]

    def arm_config(arm, data, seed):
        cfg = real_config(arm, data, seed)
        from gankit.config import load_config as lc

        small = lc(None, tiny)
        cfg.data, cfg.g, cfg.d, cfg.latent = small.data, small.g, small.d, small.latent
        cfg.train.batch_size = 8
        return cfg

    class Scorer:
        def __init__(self, data_cfg):
            pass

        def fid(self, x):
            return float(x.mean().abs())

        def scores(self, x):
            return {"fid": float(x.std()), "precision": 0.5, "recall": 0.5, "classes_covered": 10, "class_kl": 0.1,
                    "sharpness": float(high_frequency_energy(x).mean()) * 1e3}

    monkeypatch.setattr(vae_vs_gan, "arm_config", arm_config)
    monkeypatch.setattr(vae_vs_gan, "_Scorer", Scorer)
    monkeypatch.setattr(vae_vs_gan, "N_SAMPLES", 64)
    out = tmp_path / "lab"
    assert main(["lab", "vae-vs-gan", "--out", str(out), "--seeds", "2", "--seconds", "1.5"]) == 0
    printed = capsys.readouterr().out
    assert "Results are blurry" in printed and "supported by this measurement" in printed
    s = json.loads((out / "results.json").read_text())
    assert set(s["claims"]) == {"blurry", "faster", "reliably"} and len(s["runs"]["vae"]) == 2
    for arm in ("vae", "gan"):
        for r in s["runs"][arm]:
            assert r["steps"] >= 1 and r["fid_half"] is not None
    for name in ("samples.png", "interpolation.png", "sharpness.png", "losses.png", "table.md"):
        assert (out / name).exists(), name
    assert main(["lab", "vae-vs-gan", "--out", str(out), "--data", "cifar"]) == 2
    assert "--data 'cifar' is not one of" in capsys.readouterr().err


def test_the_two_arms_share_one_generator_network():
    from gankit.lab.vae_vs_gan import arm_config

    vae, gan = arm_config("vae", "mnist5k", 0), arm_config("gan", "mnist5k", 0)
    assert vae.recipe == "vae" and gan.recipe == "unconditional"
    assert vae.g == gan.g and vae.latent == gan.latent and vae.d.name == gan.d.name
    assert vae.train.batch_size == gan.train.batch_size and vae.train.ema_decay == gan.train.ema_decay
