import pytest
import torch

from gankit.config import NetConfig
from gankit.errors import ConfigError
from gankit.nets import build_discriminator, build_generator
from gankit.nets.dcgan import stages


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 3), (16, 1)])
def test_dcgan_shapes(size, channels):
    cfg = NetConfig(name="dcgan", width=8)
    g = build_generator(cfg, 10, (channels, size, size))
    d = build_discriminator(cfg, (channels, size, size))
    x = g(torch.randn(5, 10))
    assert x.shape == (5, channels, size, size) and x.abs().max() <= 1
    assert d(x).shape == (5, 1)
    assert d.features(x).shape == (5, d.feature_dim)


def test_dcgan_fc_stage_is_infogans_mnist_network():
    """g.fc / d.fc add InfoGAN's fully connected layers (Chen et al. 2016, appendix C.1): with width 64 and
    fc 1024 at 28 px, G is FC 1024 -> FC 7*7*128 -> upconv 64 -> upconv 1 and D is conv 64 -> conv 128 ->
    FC 1024 -> head."""
    cfg = NetConfig(name="dcgan", width=64, fc=1024)
    g, d = build_generator(cfg, 74, (1, 28, 28)), build_discriminator(cfg, (1, 28, 28))
    g_linear = [(m.in_features, m.out_features) for m in g.modules() if isinstance(m, torch.nn.Linear)]
    d_linear = [(m.in_features, m.out_features) for m in d.modules() if isinstance(m, torch.nn.Linear)]
    assert g_linear == [(74, 1024), (1024, 7 * 7 * 128)]
    assert d_linear == [(7 * 7 * 128, 1024), (1024, 1)] and d.feature_dim == 1024
    assert [m.out_channels for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)] == [64, 1]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in d.modules()) == 1
    x = g(torch.randn(5, 74))
    assert x.shape == (5, 1, 28, 28) and d(x).shape == (5, 1)
    out, features = d.forward_with_features(x)
    assert torch.equal(features, d.features(x)) and torch.equal(out, d.head(features))
    # fc = 0 keeps the plain DCGAN, parameter names included (checkpoints of earlier runs still load)
    plain = build_generator(NetConfig(name="dcgan", width=8), 10, (1, 28, 28))
    assert "net.0.weight" in plain.state_dict() and isinstance(plain.net[0], torch.nn.ConvTranspose2d)


def test_dcgan_stage_rule():
    assert stages(28) == (2, 7) and stages(32) == (3, 4) and stages(64) == (4, 4) and stages(48) == (3, 6)
    with pytest.raises(ConfigError, match="data.image_size"):
        stages(30)


def test_dcgan_refuses_points():
    with pytest.raises(ConfigError, match="g.name=mlp"):
        build_generator(NetConfig(name="dcgan"), 4, (2,))


def test_mlp_points_and_images():
    cfg = NetConfig(name="mlp", width=16, depth=2, batch_norm=False)
    assert build_generator(cfg, 3, (2,))(torch.randn(4, 3)).shape == (4, 2)
    img = build_generator(cfg, 3, (1, 8, 8))(torch.randn(4, 3))
    assert img.shape == (4, 1, 8, 8) and img.abs().max() <= 1
    assert build_discriminator(cfg, (1, 8, 8), out_dim=3)(img).shape == (4, 3)


def test_spectral_norm_bounds_every_layer():
    torch.manual_seed(0)
    d = build_discriminator(NetConfig(name="mlp", width=32, depth=2, batch_norm=False, spectral_norm=True), (2,))
    d.train()
    for _ in range(30):  # power iterations converge
        d(torch.randn(8, 2))
    d.eval()
    linears = [m for m in d.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3
    for m in linears:
        assert float(torch.linalg.matrix_norm(m.weight.detach(), ord=2)) == pytest.approx(1.0, abs=0.02)


def test_batch_norm_switch():
    with_bn = build_generator(NetConfig(name="dcgan", width=8, batch_norm=True), 4, (1, 16, 16))
    without = build_generator(NetConfig(name="dcgan", width=8, batch_norm=False), 4, (1, 16, 16))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in with_bn.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in without.modules())


def test_minibatch_stddev_statistic():
    from gankit.nets.blocks import minibatch_stddev

    f = torch.tensor([[0.0, 0.0], [2.0, 2.0], [0.0, 0.0], [2.0, 2.0]])
    out = minibatch_stddev(f, group=4)
    assert out.shape == (4, 3) and torch.allclose(out[:, 2], torch.ones(4))  # std of {0, 2, 0, 2} is 1
    same = minibatch_stddev(torch.ones(4, 2), group=4)
    assert torch.allclose(same[:, 2], torch.full((4,), 1e-4))  # a collapsed batch: sqrt(0 + 1e-8)
    two_groups = minibatch_stddev(torch.tensor([[0.0], [5.0], [2.0], [5.0]]), group=2)
    assert torch.allclose(two_groups[:, 1], torch.tensor([1.0, 1e-4, 1.0, 1e-4]))  # groups {0, 2} and {1, 3}


def test_minibatch_stddev_lets_d_see_a_collapsed_batch():
    torch.manual_seed(0)
    d = build_discriminator(NetConfig(name="mlp", width=8, depth=1, batch_norm=False, minibatch_std=True), (2,))
    x = torch.randn(8, 2)
    collapsed = x[:1].repeat(8, 1)
    assert not torch.allclose(d(x)[0], d(collapsed)[0])  # the same sample, judged differently by its batch


def test_pacgan_packing(tmp_path):
    from gankit import load_config
    from gankit.errors import ConfigError
    from gankit.recipes.base import pack

    x = torch.arange(24.0).view(6, 2, 2)  # six 2-channel "images"
    p = pack(x, 3)
    assert p.shape == (2, 6, 2) and torch.equal(p[0, 2:4], x[1])
    cfg = load_config("ring-ns", ["d.pack=4", "train.batch_size=64"])
    from gankit.train import Trainer

    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    assert t.recipe.nets["d"].body[0].in_features == 8  # 4 packed 2-D points
    assert t.recipe.discriminate(torch.randn(64, 2)).shape == (16, 1)
    t.train_step()
    with pytest.raises(ConfigError, match="d.pack = 3 needs train.batch_size divisible by it"):
        load_config("ring-ns", ["d.pack=3", "train.batch_size=64"])
