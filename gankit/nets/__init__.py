"""Networks axis: what G and D are. Select by name with ``g.name`` / ``d.name``."""
from ..registry import NETWORKS
from . import dcgan, image2image, mlp  # noqa: F401  (registers the families)
from .autoencoder import AutoencoderDiscriminator, AutoencoderOutput, build_critic
from .blocks import Discriminator, NetworkFamily
from .image2image import build_patch_discriminator, build_translator


def build_generator(cfg, latent_dim: int, out_shape: tuple):
    return NETWORKS.get(cfg.name).generator(cfg, latent_dim, tuple(out_shape))


def build_discriminator(cfg, in_shape: tuple, out_dim: int = 1):
    return NETWORKS.get(cfg.name).discriminator(cfg, tuple(in_shape), out_dim)


__all__ = ["AutoencoderDiscriminator", "AutoencoderOutput", "Discriminator", "build_critic", "NetworkFamily",
           "build_discriminator", "build_generator", "build_patch_discriminator", "build_translator"]
