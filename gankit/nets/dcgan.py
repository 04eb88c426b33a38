"""DCGAN (Radford, Metz & Chintala 2016): strided (transposed) convolutions, batch norm, ReLU in G,
LeakyReLU(0.2) in D, tanh output, N(0, 0.02) init.

One definition serves 28, 32 and 64 px (and any size s with s = b * 2^k, 4 <= b <= 7): G projects
z to ``width * 2^(k-1)`` maps of b x b and doubles the resolution k times while halving channels;
D mirrors it.

``fc`` > 0 adds a fully connected hidden layer of that many units: in G, z -> FC(fc) -> FC(b*b*maps) ->
the transposed convolutions; in D, the convolutions -> FC(fc) -> the head (each FC with batch norm
when ``batch_norm``). With ``width 64, fc 1024`` at 28 px these are the MNIST networks of InfoGAN
(Chen et al. 2016, appendix C.1, table 1).
"""
from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from ..registry import NETWORKS
from .blocks import Discriminator, NetworkFamily, activation, dcgan_init, spectral


def stages(size: int) -> tuple[int, int]:
    """(k, b): the number of 2x stages and the base resolution b = size / 2^k, 4 <= b <= 7."""
    k = 0
    while size % (2 ** (k + 1)) == 0 and size // 2 ** (k + 1) >= 4:
        k += 1
    base = size // 2**k
    if k == 0 or base > 7:
        raise ConfigError(f"dcgan cannot build {size}x{size} images; use data.image_size=28, 32 or 64 "
                          "(any size b*2^k with 4 <= b <= 7)")
    return k, base


def _check_image(shape: tuple):
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConfigError(f"dcgan needs square images, the data has shape {tuple(shape)}; use g.name=mlp for points")


def _fc_block(n_in: int, n_out: int, cfg, default_activation: str) -> list:
    """Linear -> (batch norm) -> activation -> (dropout): the fully connected stage of ``fc``."""
    layers = [spectral(nn.Linear(n_in, n_out, bias=not cfg.batch_norm), cfg.spectral_norm)]
    if cfg.batch_norm:
        layers.append(nn.BatchNorm1d(n_out))
    layers.append(activation(cfg.activation, default_activation))
    if cfg.dropout > 0:
        layers.append(nn.Dropout(cfg.dropout))
    return layers


class DCGANGenerator(nn.Module):
    def __init__(self, cfg, latent_dim: int, out_shape: tuple):
        super().__init__()
        _check_image(out_shape)
        c_out, size = out_shape[0], out_shape[1]
        k, base = stages(size)
        chans = [cfg.width * 2 ** (k - 1 - i) for i in range(k)]
        if cfg.fc:
            # z -> FC(fc) -> FC(base*base*chans[0]), seen by the convolutions as chans[0] maps of base x base
            layers = [*_fc_block(latent_dim, cfg.fc, cfg, "relu"),
                      spectral(nn.Linear(cfg.fc, chans[0] * base * base, bias=not cfg.batch_norm), cfg.spectral_norm),
                      nn.Unflatten(1, (chans[0], base, base))]
        else:
            layers = [spectral(nn.ConvTranspose2d(latent_dim, chans[0], base, 1, 0, bias=not cfg.batch_norm),
                               cfg.spectral_norm)]
        for i in range(k):
            if cfg.batch_norm:
                layers.append(nn.BatchNorm2d(chans[i]))
            layers.append(activation(cfg.activation, "relu"))
            if cfg.dropout > 0:
                layers.append(nn.Dropout(cfg.dropout))
            last = i == k - 1
            layers.append(spectral(nn.ConvTranspose2d(chans[i], c_out if last else chans[i + 1], 4, 2, 1,
                                                      bias=last or not cfg.batch_norm), cfg.spectral_norm))
        layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.latent_dim = latent_dim
        self.latent_view = () if cfg.fc else (1, 1)  # a vector for the FC stage, a 1x1 map for the first conv
        dcgan_init(self)

    def forward(self, z):
        return self.net(z.reshape(len(z), self.latent_dim, *self.latent_view))


class DCGANDiscriminator(Discriminator):
    def __init__(self, cfg, in_shape: tuple, out_dim: int = 1):
        super().__init__()
        _check_image(in_shape)
        k, base = stages(in_shape[1])
        layers, c = [], in_shape[0]
        for i in range(k):
            nxt = cfg.width * 2**i
            bn = cfg.batch_norm and i > 0  # DCGAN: no BN on D's input layer
            layers.append(spectral(nn.Conv2d(c, nxt, 4, 2, 1, bias=not bn), cfg.spectral_norm))
            if bn:
                layers.append(nn.BatchNorm2d(nxt))
            layers.append(activation(cfg.activation, "leaky_relu"))
            if cfg.dropout > 0:
                layers.append(nn.Dropout(cfg.dropout))
            c = nxt
        layers.append(nn.Flatten())
        self.feature_dim = c * base * base
        if cfg.fc:
            layers += _fc_block(self.feature_dim, cfg.fc, cfg, "leaky_relu")
            self.feature_dim = cfg.fc
        self.body = nn.Sequential(*layers)
        self.head = spectral(nn.Linear(self.head_input_dim(cfg, self.feature_dim), out_dim), cfg.spectral_norm)
        dcgan_init(self)

    def features(self, x):
        return self.body(x)

    def feature_maps(self, x):
        """D's last convolutional feature maps (N, C, b, b), before they are flattened."""
        for layer in self.body:
            if isinstance(layer, nn.Flatten):
                return x
            x = layer(x)
        raise AssertionError("a DCGAN discriminator flattens its feature maps")


@NETWORKS.register("dcgan")
class DCGAN(NetworkFamily):
    """DCGAN G and D; ``width`` is the channel count of G's last hidden layer and D's first."""

    options = ("fc",)
    discriminator_options = ("minibatch_std", "minibatch_std_group")

    generator = DCGANGenerator
    discriminator = DCGANDiscriminator
