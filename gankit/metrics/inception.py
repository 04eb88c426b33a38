"""Inception-v3 as used for FID (Szegedy et al. 2016; the TF graph of 2015-12-05 that Heusel et al.
2017 used, as ported by pytorch-fid), defined here in plain torch.

It differs from torchvision's ImageNet Inception-v3 where the TF graph does: 1008 output classes,
average pools that do not count padding in the A, C and first E blocks, and a max pool in the last E
block's pool branch. Module names follow torchvision's, so the standard
``pt_inception-2015-12-05-6726825d.pth`` state dict loads by key. Nothing is downloaded: give the
file by path or by the ``GANKIT_INCEPTION_WEIGHTS`` environment variable.

Two preprocessing protocols (``--protocol``), grayscale repeated to RGB in both:

- ``tf`` (the default): the original TensorFlow graph's, which published FIDs come from and torch-fidelity
  reproduces: images quantised to uint8 first, resized to 299x299 by TF 1.x's ``resize_bilinear`` (no
  half-pixel offset: source coordinate = target coordinate * in / out), then scaled by (u - 128) / 128;
- ``pytorch-fid``: pytorch-fid's: the float images in [-1, 1] resized by ``F.interpolate`` (bilinear,
  ``align_corners=False``, the half-pixel convention). Close to the TF numbers, not identical to them.

Features: the 2048-d pool; logits: 1008 classes.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GankitError
from .backbones import BACKBONES, Backbone, to_rgb

WEIGHTS_ENV = "GANKIT_INCEPTION_WEIGHTS"
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"


class BasicConv(nn.Module):
    """conv (no bias) -> batch norm (eps 1e-3) -> ReLU."""

    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg(x):
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv(cin, 64, 1)
        self.branch5x5_1 = BasicConv(cin, 48, 1)
        self.branch5x5_2 = BasicConv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv(96, 96, 3, padding=1)
        self.branch_pool = BasicConv(cin, pool_features, 1)

    def forward(self, x):
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg(x)),
        ], 1)


class InceptionB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = BasicConv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, 2),
        ], 1)


def _seven(cin, cout, vertical):
    """A 1x7 or 7x1 convolution with 'same' padding."""
    return BasicConv(cin, cout, (7, 1) if vertical else (1, 7), padding=(3, 0) if vertical else (0, 3))


class InceptionC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        self.branch1x1 = BasicConv(cin, 192, 1)
        self.branch7x7_1 = BasicConv(cin, c7, 1)
        self.branch7x7_2 = _seven(c7, c7, vertical=False)
        self.branch7x7_3 = _seven(c7, 192, vertical=True)
        self.branch7x7dbl_1 = BasicConv(cin, c7, 1)
        self.branch7x7dbl_2 = _seven(c7, c7, vertical=True)
        self.branch7x7dbl_3 = _seven(c7, c7, vertical=False)
        self.branch7x7dbl_4 = _seven(c7, c7, vertical=True)
        self.branch7x7dbl_5 = _seven(c7, 192, vertical=False)
        self.branch_pool = BasicConv(cin, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for i in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{i}")(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = BasicConv(cin, 192, 1)
        self.branch3x3_2 = BasicConv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv(cin, 192, 1)
        self.branch7x7x3_2 = _seven(192, 192, vertical=False)
        self.branch7x7x3_3 = _seven(192, 192, vertical=True)
        self.branch7x7x3_4 = BasicConv(192, 192, 3, stride=2)

    def forward(self, x):
        b7 = x
        for i in range(1, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    """``max_pool``: the last block of the FID graph pools its pool branch with a max, not an average."""

    def __init__(self, cin, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv(cin, 320, 1)
        self.branch3x3_1 = BasicConv(cin, 384, 1)
        self.branch3x3_2a = BasicConv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv(cin, 192, 1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, 1, 1) if self.max_pool else _avg(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(b3), self.branch3x3_2b(b3),
            self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d),
            self.branch_pool(pooled),
        ], 1)


class FIDInceptionV3(nn.Module):
    """The network; ``forward`` returns (2048-d pool features, 1008 logits). The logits are pool3 . W without the
    bias, as the original Inception Score code (openai/improved-gan) and torch-fidelity's and torchmetrics'
    defaults compute them."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, 2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, 2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        feats = x.mean((2, 3))
        return feats, feats @ self.fc.weight.T


def weights_path(path: str | os.PathLike | None = None) -> Path:
    found = Path(path) if path else (Path(os.environ[WEIGHTS_ENV]) if os.environ.get(WEIGHTS_ENV) else None)
    if found is None or not found.exists():
        where = f"{found} does not exist" if found else "no weights file was given"
        raise GankitError(f"inception backbone: {where}; put {WEIGHTS_NAME} (the pytorch-fid FID weights) on "
                          f"this machine and set {WEIGHTS_ENV}=/path/to/{WEIGHTS_NAME}, or use --backbone effnet-lite0")
    return found


PROTOCOLS = {
    "tf": "TF 1.x graph: uint8 quantised, TF resize_bilinear (no half-pixel offset) to 299, (u - 128) / 128",
    "pytorch-fid": "pytorch-fid: float bilinear resize (half-pixel, align_corners=False) to 299, [-1, 1]",
}


def resize_bilinear_tf1(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TF 1.x ``tf.image.resize_bilinear(align_corners=False)`` (half_pixel_centers=False): target pixel i reads
    source coordinate i * in / out, interpolating between floor and floor + 1 (clamped to the last pixel)."""
    def axis(n_in: int, n_out: int):
        src = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
        lo = src.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        return lo.to(x.device), hi.to(x.device), (src - lo.double()).to(x.dtype).to(x.device)

    y0, y1, fy = axis(x.shape[-2], size[0])
    x0, x1, fx = axis(x.shape[-1], size[1])
    rows = x[..., y0, :] + (x[..., y1, :] - x[..., y0, :]) * fy[:, None]
    return rows[..., x0] + (rows[..., x1] - rows[..., x0]) * fx


@BACKBONES.register("inception")
class InceptionBackbone(Backbone):
    """Inception-v3 (FID), weights from a local pt_inception-2015-12-05 file: numbers comparable with papers."""

    name, feature_dim, input_size = "inception", 2048, 299

    def __init__(self, path: str | None = None, load: bool = True, protocol: str = "tf"):
        super().__init__()
        if protocol not in PROTOCOLS:
            from ..registry import closest

            raise GankitError(f"unknown Inception protocol {protocol!r}{closest(protocol, PROTOCOLS)}; choose "
                              f"{' or '.join(PROTOCOLS)}")
        self.protocol = protocol
        self.net = FIDInceptionV3()
        if load:
            state = torch.load(weights_path(path), map_location="cpu", weights_only=True)
            state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
            missing, unexpected = self.net.load_state_dict(state, strict=False)
            missing = [k for k in missing if not k.endswith("num_batches_tracked")]
            if missing or unexpected:
                raise GankitError(f"inception weights do not match the FID network: missing {missing[:3]}, "
                                  f"unexpected {unexpected[:3]}; is it {WEIGHTS_NAME}?")
        self.net.eval()

    def prepare(self, images):
        x = to_rgb(images)
        if self.protocol == "pytorch-fid":
            return F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        u = ((x.clamp(-1, 1) + 1) * 127.5).round()  # the uint8 image the TF graph was given
        return (resize_bilinear_tf1(u, (299, 299)) - 128.0) / 128.0

    def forward(self, x):
        return self.net(x)
