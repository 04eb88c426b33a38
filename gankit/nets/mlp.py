"""Fully connected G and D: the original GAN's networks (Goodfellow et al. 2014) and the 2-D toy models."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import NETWORKS
from .blocks import Discriminator, NetworkFamily, activation, spectral


def _hidden(cfg, in_dim: int, default_act: str, batch_norm: bool) -> tuple[nn.Sequential, int]:
    layers, dim = [], in_dim
    for _ in range(cfg.depth):
        layers.append(spectral(nn.Linear(dim, cfg.width), cfg.spectral_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(cfg.width))
        layers.append(activation(cfg.activation, default_act))
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        dim = cfg.width
    return nn.Sequential(*layers), dim


class MLPGenerator(nn.Module):
    """z -> [Linear, (BN), act, (dropout)] x depth -> Linear -> tanh for images (data in [-1, 1]), identity for points."""

    def __init__(self, cfg, latent_dim: int, out_shape: tuple):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.body, dim = _hidden(cfg, latent_dim, "relu", cfg.batch_norm)
        self.out = spectral(nn.Linear(dim, math.prod(out_shape)), cfg.spectral_norm)
        self.squash = nn.Tanh() if len(out_shape) == 3 else nn.Identity()

    def forward(self, z):
        return self.squash(self.out(self.body(z))).view(len(z), *self.out_shape)


class MLPDiscriminator(Discriminator):
    """x -> flatten -> [Linear, act, (dropout)] x depth -> Linear head. No batch norm unless asked."""

    def __init__(self, cfg, in_shape: tuple, out_dim: int = 1):
        super().__init__()
        self.body, self.feature_dim = _hidden(cfg, math.prod(in_shape), "leaky_relu", cfg.batch_norm)
        self.head = spectral(nn.Linear(self.head_input_dim(cfg, self.feature_dim), out_dim), cfg.spectral_norm)

    def features(self, x):
        return self.body(torch.flatten(x, 1))


@NETWORKS.register("mlp")
class MLP(NetworkFamily):
    """Multilayer perceptrons for points or flattened images. ``width`` units, ``depth`` hidden layers."""

    options = ("depth",)
    discriminator_options = ("minibatch_std", "minibatch_std_group")

    generator = MLPGenerator
    discriminator = MLPDiscriminator
