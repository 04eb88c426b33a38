"""Image-to-image networks: the U-Net generator and PatchGAN discriminator of pix2pix (Isola et al.
2017, appendix 6.1), and the ResNet generator of CycleGAN (Zhu et al. 2017, appendix 7.2, after
Johnson et al. 2016), which StarGAN (Choi et al. 2018, appendix) also uses.

They map images to images, so they are built by the translation recipes through
:func:`build_translator` and :func:`build_patch_discriminator`, not from a latent.

Sizes scale with the image (``blocks`` overrides): the U-Net goes down to 1x1 (8 levels at 256 px,
5 at 32 px); the PatchGAN gets the most strided layers whose receptive field stays within half the
image (3 layers = the paper's 70x70 at 256 px, 1 layer = 16x16 at 32 px).
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..registry import NETWORKS
from .blocks import NetworkFamily, activation, dcgan_init, spectral


def norm_layer(cfg, channels: int) -> nn.Module:
    """``cfg.norm`` (batch or instance); unset, batch norm when ``cfg.batch_norm`` and none otherwise.
    Instance norm has a learned scale and shift and no running statistics (Ulyanov et al. 2016)."""
    kind = cfg.norm or ("batch" if cfg.batch_norm else "none")
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def uses_norm(cfg) -> bool:
    return (cfg.norm or ("batch" if cfg.batch_norm else "none")) != "none"


def _dropout(cfg) -> list:
    return [nn.Dropout(cfg.dropout)] if cfg.dropout > 0 else []


# ----------------------------------------------------------------------------- U-Net


def unet_levels(size: int) -> int:
    """Down-sampling levels that take ``size`` to 1x1 (size must then be a power of two)."""
    levels = 0
    while size % 2 == 0 and size > 1:
        size //= 2
        levels += 1
    return levels


class UNetGenerator(nn.Module):
    """pix2pix's U-Net (Isola et al. 2017, sec. 3.2.1 and appendix 6.1.1): an encoder of 4x4 stride-2
    convolutions (C64-C128-C256-C512-..., LeakyReLU 0.2, no norm on the first and innermost layers) and
    a decoder of transposed convolutions (ReLU), where decoder level i also sees encoder level i's
    output (the skip connections). Dropout (``cfg.dropout``; the paper's 0.5) in the three innermost
    decoder layers is G's only noise. tanh output."""

    def __init__(self, cfg, in_channels: int, out_channels: int, size: int, padding: str = "zeros"):  # always zero-padded
        super().__init__()
        levels = cfg.blocks or unet_levels(size)
        if size % 2**levels or levels < 2:
            raise ConfigError(f"a U-Net with {levels} levels needs an image size divisible by {2 ** levels} (got "
                              f"{size}); set g.blocks to at most {max(unet_levels(size), 1)} or data.image_size to a power of two")
        ch = [cfg.width * min(2**i, 8) for i in range(levels)]
        bias = not uses_norm(cfg)
        self.down = nn.ModuleList()
        for i in range(levels):
            layers = [] if i == 0 else [activation(cfg.activation, "leaky_relu")]
            layers.append(spectral(nn.Conv2d(in_channels if i == 0 else ch[i - 1], ch[i], 4, 2, 1, bias=bias),
                                   cfg.spectral_norm))
            if 0 < i < levels - 1:
                layers.append(norm_layer(cfg, ch[i]))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in range(levels):
            cin = ch[i] if i == levels - 1 else 2 * ch[i]
            layers = [nn.ReLU(), spectral(nn.ConvTranspose2d(cin, ch[i - 1] if i else out_channels, 4, 2, 1,
                                                             bias=bias or i == 0), cfg.spectral_norm)]
            if i > 0:
                layers.append(norm_layer(cfg, ch[i - 1]))
                if i >= levels - 3:
                    layers += _dropout(cfg)
            else:
                layers.append(nn.Tanh())
            self.up.append(nn.Sequential(*layers))
        dcgan_init(self)

    def forward(self, x):
        skips = []
        for down in self.down:
            x = down(x)
            skips.append(x)
        for i in reversed(range(len(self.up))):
            if i < len(self.up) - 1:
                x = torch.cat([x, skips[i]], 1)
            x = self.up[i](x)
        return x


# ----------------------------------------------------------------------------- ResNet translator


def _pad_conv(cin: int, cout: int, k: int, padding: str, bias: bool) -> list:
    """A k x k convolution that keeps the size, padded by reflection (CycleGAN) or with zeros (StarGAN)."""
    if padding == "reflect":
        return [nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, bias=bias)]
    return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)]


class ResidualBlock(nn.Module):
    """x + norm(conv3x3(ReLU(norm(conv3x3(x))))) (He et al. 2016; Johnson et al. 2016)."""

    def __init__(self, cfg, channels: int, padding: str = "reflect"):
        super().__init__()
        bias = not uses_norm(cfg)
        self.body = nn.Sequential(
            *_pad_conv(channels, channels, 3, padding, bias), norm_layer(cfg, channels), nn.ReLU(), *_dropout(cfg),
            *_pad_conv(channels, channels, 3, padding, bias), norm_layer(cfg, channels))

    def forward(self, x):
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    """CycleGAN's generator (Zhu et al. 2017, appendix 7.2): c7s1-w, d2w, d4w, ``blocks`` residual blocks,
    u2w, uw, c7s1-C, tanh. Two stride-2 convolutions down and two transposed ones up, so the image size
    must be divisible by 4. Default blocks: 9 from 256 px, else 6 (the paper's choices).

    ``padding`` is CycleGAN's "reflect" or StarGAN's "zeros" (Choi et al. 2018, table 4: P3 / P1). It
    matters for StarGAN: its labels enter as constant maps, which the first instance norm would remove
    entirely under reflection padding; zero padding lets them through at the borders, and the network
    spreads them from there."""

    def __init__(self, cfg, in_channels: int, out_channels: int, size: int, padding: str = "reflect"):
        super().__init__()
        if size % 4:
            raise ConfigError(f"resnet-translator halves the image twice; data.image_size must be divisible by 4, got {size}")
        w, bias = cfg.width, not uses_norm(cfg)
        blocks = cfg.blocks or (9 if size >= 256 else 6)
        layers = [*_pad_conv(in_channels, w, 7, padding, bias), norm_layer(cfg, w), nn.ReLU()]
        for mult in (1, 2):
            layers += [nn.Conv2d(w * mult, w * mult * 2, 3, 2, 1, bias=bias), norm_layer(cfg, w * mult * 2), nn.ReLU()]
        layers += [ResidualBlock(cfg, w * 4, padding) for _ in range(blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(w * mult, w * mult // 2, 3, 2, 1, output_padding=1, bias=bias),
                       norm_layer(cfg, w * mult // 2), nn.ReLU()]
        layers += [*_pad_conv(w, out_channels, 7, padding, True), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x):
        return self.net(x)


# ----------------------------------------------------------------------------- PatchGAN


def patch_receptive_field(layers: int) -> int:
    """Receptive field of a PatchGAN with ``layers`` strided 4x4 convolutions, then two stride-1 4x4 ones."""
    r = 1
    for stride in [1, 1] + [2] * layers:
        r = (r - 1) * stride + 4
    return r


def patch_layers(size: int) -> int:
    """The most strided layers whose receptive field is at most half the image (at least 1)."""
    n = 1
    while patch_receptive_field(n + 1) <= size // 2:
        n += 1
    return n


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017, sec. 3.2.2 and appendix 6.1.2): ``blocks`` 4x4 stride-2 convolutions
    (C64-C128-..., no norm on the first, LeakyReLU 0.2), one 4x4 stride-1 convolution, and a 4x4 stride-1
    convolution to one channel: a map of outputs, each judging one N x N patch (its receptive field,
    :func:`patch_receptive_field`). The objective averages the losses over the map.

    ``aux_dim`` > 0 adds StarGAN's domain classifier (Choi et al. 2018, appendix): a convolution whose
    kernel covers the whole last feature map, giving ``aux_dim`` logits per image; forward then returns
    (patch map, logits)."""

    def __init__(self, cfg, in_shape: tuple, aux_dim: int = 0):
        super().__init__()
        c, size = in_shape[0], in_shape[-1]
        n = cfg.blocks or patch_layers(size)
        if size // 2**n < 2:
            raise ConfigError(f"a PatchGAN with {n} strided layers is too deep for {size}x{size} images; "
                              f"set d.blocks to at most {max(1, patch_layers(size))}")
        layers, cin = [], c
        for i in range(n + 1):
            cout = cfg.width * min(2**i, 8)
            stride = 2 if i < n else 1
            layers.append(spectral(nn.Conv2d(cin, cout, 4, stride, 1, bias=i == 0 or not uses_norm(cfg)),
                                   cfg.spectral_norm))
            if i > 0:
                layers.append(norm_layer(cfg, cout))
            layers += [activation(cfg.activation, "leaky_relu"), *_dropout(cfg)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.head = spectral(nn.Conv2d(cin, 1, 4, 1, 1), cfg.spectral_norm)
        self.receptive_field = patch_receptive_field(n)
        self.aux = None
        if aux_dim:
            final = size // 2**n - 1  # the stride-1 4x4 convolution with padding 1 takes one pixel off
            self.aux = nn.Conv2d(cin, aux_dim, final, bias=False)
        dcgan_init(self)

    def forward(self, x):
        f = self.body(x)
        if self.aux is None:
            return self.head(f)
        return self.head(f), self.aux(f).flatten(1)


# ----------------------------------------------------------------------------- registry


class ImageToImage(NetworkFamily):
    """A family that maps images to images; it cannot be built from a latent."""

    options = ("norm", "blocks")

    role = "g"

    @classmethod
    def _refuse(cls, *args, **kwargs):
        raise ConfigError(f"network '{cls.name}' maps images to images; use it with recipe pix2pix, cyclegan or "
                          f"stargan (or pick dcgan / mlp for a {'G' if cls.role == 'g' else 'D'} built from a latent)")

    generator = _refuse
    discriminator = _refuse


@NETWORKS.register("unet")
class UNet(ImageToImage):
    """pix2pix's U-Net generator with skip connections (image-to-image recipes only)."""

    name, translator = "unet", UNetGenerator


@NETWORKS.register("resnet-translator")
class ResnetTranslatorFamily(ImageToImage):
    """CycleGAN / StarGAN's ResNet generator: down 2x2, residual blocks, up 2x2 (image-to-image recipes only)."""

    name, translator = "resnet-translator", ResnetTranslator


@NETWORKS.register("patchgan")
class PatchGAN(ImageToImage):
    """pix2pix's PatchGAN discriminator: one real/fake output per N x N patch (image-to-image recipes only)."""

    name, role, patch_discriminator = "patchgan", "d", PatchDiscriminator


def build_translator(cfg, in_channels: int, out_channels: int, size: int, **kw) -> nn.Module:
    """G for an image-to-image recipe; ``kw`` goes to the family (e.g. ``padding`` of the ResNet translator)."""
    family = NETWORKS.get(cfg.name)
    if not hasattr(family, "translator"):
        raise ConfigError(f"g.name = {cfg.name} cannot translate images; use g.name=unet or g.name=resnet-translator")
    return family.translator(cfg, in_channels, out_channels, size, **kw)


def build_patch_discriminator(cfg, in_shape: tuple, aux_dim: int = 0) -> PatchDiscriminator:
    family = NETWORKS.get(cfg.name)
    if not hasattr(family, "patch_discriminator"):
        raise ConfigError(f"d.name = {cfg.name} cannot judge image pairs or patches; use d.name=patchgan")
    return family.patch_discriminator(cfg, tuple(in_shape), aux_dim)
