"""StyleGAN (issue 20): AdaIN's statistics, noise inputs, truncation, the mixing crossover, the mapping network's
learning-rate multiplier, lazy R1, a sample as a function of its code, and the settings refused in one line."""
import pytest
import torch

from gankit import load_config, load_run, train
from gankit.cli import main
from gankit.data import build_dataset
from gankit.nets.progressive import EqualizedLinear
from gankit.nets.stylegan import MAPPING_LR_MUL, StyleGenerator, adain
from gankit.objectives import build_objective
from gankit.recipes import build_recipe
from gankit.recipes.base import DataInfo
from gankit.recipes.stylegan import mix, r1_heuristic, truncate

SMALL = ["recipe=stylegan", "data.name=digits", "data.image_size=16", "latent.dim=8", "stylegan.w_dim=8",
         "stylegan.mapping_layers=2", "stylegan.width=4", "stylegan.max_width=8", "train.batch_size=8",
         "train.n_samples=8", "d.minibatch_std=true", "stylegan.r1_every=2"]


def small_recipe(extra=()):
    cfg = load_config(None, [*SMALL, *extra])
    info = DataInfo.of(build_dataset(cfg.data))
    torch.manual_seed(0)
    return build_recipe(cfg, info, build_objective(cfg.objective)), cfg


def test_adain_gives_each_channel_the_style_mean_and_std():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 8, 8) * 4 + 2
    scale, bias = torch.rand(3, 5) + 0.5, torch.randn(3, 5)
    y = adain(x, scale, bias)
    assert torch.allclose(y.mean((2, 3)), bias, atol=1e-4)
    assert torch.allclose(y.std((2, 3), unbiased=False), scale, atol=1e-4)


def test_noise_weights_start_at_zero_so_the_output_ignores_the_noise_until_trained():
    torch.manual_seed(0)
    g = StyleGenerator(8, 1, 16, 8, 2, 4, 8)
    z = torch.randn(4, 8)
    sizes = g.synthesis.noise_sizes
    assert sizes == [4, 4, 8, 8, 16, 16]
    a = g(z, [torch.randn(4, 1, s, s) for s in sizes])
    b = g(z, [torch.randn(4, 1, s, s) for s in sizes])
    assert torch.equal(a, b)
    with torch.no_grad():
        for layer in g.synthesis.layers:
            layer.noise_weight.fill_(0.5)
    assert not torch.allclose(g(z, [torch.randn(4, 1, s, s) for s in sizes]), a)


def test_style_scales_start_at_one_and_the_constant_input_at_ones():
    g = StyleGenerator(8, 1, 16, 8, 2, 4, 8)
    layer = g.synthesis.layers[0]
    c = layer.bias.numel()
    styles = layer.style(torch.zeros(2, 8))
    assert torch.allclose(styles[:, :c], torch.ones(2, c)) and torch.allclose(styles[:, c:], torch.zeros(2, c))
    assert torch.equal(g.synthesis.const, torch.ones_like(g.synthesis.const))


def test_truncation_and_the_mixing_crossover():
    torch.manual_seed(0)
    ws, w_avg = torch.randn(5, 6, 8), torch.randn(8)
    assert torch.equal(truncate(ws, w_avg, 1.0, 3), ws)
    cut = truncate(ws, w_avg, 0.0, 3)
    assert torch.equal(cut[:, :3], w_avg.expand(5, 3, 8)) and torch.equal(cut[:, 3:], ws[:, 3:])
    half = truncate(ws, w_avg, 0.5, 6)
    assert torch.allclose(half, w_avg + 0.5 * (ws - w_avg))
    w1, w2 = torch.randn(5, 8), torch.randn(5, 8)
    mixed = mix(w1, w2, 2, 6)
    assert torch.equal(mixed[:, :2], w1[:, None].expand(5, 2, 8)) and torch.equal(mixed[:, 2:], w2[:, None].expand(5, 4, 8))


def test_the_mapping_layers_learn_a_hundred_times_slower():
    """One Adam step moves a mapping layer's effective weights 0.01x as far as a synthesis layer's of the same
    fan-in (the lr multiplier of StyleGAN's appendix C)."""
    def step_size(layer):
        opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
        before = (layer.weight * layer.scale).detach().clone()
        layer(torch.randn(16, 32)).pow(2).sum().backward()
        opt.step()
        return float(((layer.weight * layer.scale).detach() - before).abs().mean())

    torch.manual_seed(0)
    mapping, synthesis = EqualizedLinear(32, 32, lr_mul=MAPPING_LR_MUL), EqualizedLinear(32, 32)
    ratio = step_size(mapping) / step_size(synthesis)
    assert ratio == pytest.approx(0.01, rel=0.02)
    # ...while both start from effective weights of the same scale
    with torch.no_grad():
        assert float((mapping.weight * mapping.scale).std()) == pytest.approx(
            float((synthesis.weight * synthesis.scale).std()), rel=0.1)


def test_r1_is_half_gamma_times_the_squared_input_gradient_and_runs_lazily():
    recipe, cfg = small_recipe(["stylegan.r1_gamma=3.0"])
    a = torch.randn(1, 16, 16)

    class Linear(torch.nn.Module):
        def forward(self, x, alpha=1.0):
            return (x * a).flatten(1).sum(1, keepdim=True)

    recipe.nets["d"] = Linear()
    assert recipe.r1(torch.randn(4, 1, 16, 16)).item() == pytest.approx(0.5 * 3.0 * a.pow(2).sum().item(), rel=1e-5)
    phases = {p.name: p for p in small_recipe()[0].phases()}
    assert phases["d_r1"].every == 2 and phases["d_r1"].gain == 2.0 and phases["d_r1"].lazy
    assert r1_heuristic(32, 32) == pytest.approx(0.0064)
    no_r1 = {p.name for p in small_recipe(["stylegan.r1_gamma=0"])[0].phases()}
    assert no_r1 == {"d", "g"}


def test_a_sample_is_a_function_of_its_code_and_truncation_zero_collapses_it(tmp_path, capsys):
    run = train(load_config(None, [*SMALL, "train.steps=2", "train.ema_decay=0.9"]), tmp_path / "r", progress=False,
                tensorboard=False)
    run = load_run(run.path)
    a, b = run.sample(4, seed=3), run.sample(4, seed=3)
    assert torch.equal(a, b) and a.shape == (4, 1, 16, 16)
    assert run.sampling.codes == ()  # z and the noise images are all noise parts
    g = run.recipe().nets["g"]
    assert float(g.w_avg.norm()) > 0  # w-bar was tracked in training, and travels with the weights
    same = run.sample(4, seed=3, options={"truncation": 0.0, "cutoff": g.num_layers, "noise": "const"})
    assert torch.allclose(same, same[:1].expand_as(same), atol=1e-6)
    assert main(["sample", str(run.path), "--n", "4", "--opt", "truncation=0.7", "--out", str(tmp_path / "t.png")]) == 0
    assert main(["sample", str(run.path), "--n", "4", "--truncation", "0.5", "--cutoff", "2", "--noise", "const",
                 "--out", str(tmp_path / "u.png")]) == 0
    capsys.readouterr()
    for opt, needle in (("truncation=2", "truncation must be in [0, 1]"), ("cutoff=99", "cutoff must be in 0.."),
                        ("noise=loud", "noise must be random or const"), ("truncation=abc", "truncation must be"),
                        ("cutoff=1.5", "cutoff must be in 0..")):
        code = main(["sample", str(run.path), "--n", "2", "--opt", opt, "--out", str(tmp_path / "x.png")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and needle in err, (opt, err)


def test_bad_settings_are_refused_in_one_line(tmp_path, capsys):
    for argv, needle in ((["data.image_size=28"], "set data.image_size to 8, 16, 32 or 64"),
                         (["stylegan.mapping_layers=0", "stylegan.w_dim=16"], "must equal latent.dim"),
                         (["latent.dist=uniform"], "latent.dist=gaussian"),
                         (["recipe=unconditional", "stylegan.noise=false", "data.image_size=16"],
                          "is read by recipe 'stylegan'")):
        code = main(["train", "--run-dir", str(tmp_path / "run"), "--no-progress", *SMALL, *argv])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and needle in err, (argv, err)
        assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("ablation", ["stylegan.noise=false", "stylegan.mixing=0", "stylegan.const_input=false",
                                      "stylegan.mapping_layers=0"])
def test_every_ablation_of_the_papers_table_trains(ablation, tmp_path):
    run = train(load_config(None, [*SMALL, ablation, "train.steps=2"]), tmp_path / "r", progress=False,
                tensorboard=False)
    assert torch.isfinite(load_run(run.path).sample(2, seed=0)).all()
