"""A small domain classifier per labelled dataset: domain features for a domain FID ("FID-MNIST"
style), class histograms of generated samples (mode counting, as in PacGAN / VEEGAN's stacked
MNIST), and class accuracy for conditional models.

Trained by gankit (``gankit classifier train DATASET``) on the dataset's train split with small
random shifts, deterministic for a seed, and cached as safetensors (with its test accuracy) in
``$GANKIT_CACHE`` or ``~/.cache/gankit/classifiers``. The ``mnist5k`` classifier also ships with the package
(``gankit/metrics/weights/classifier-mnist5k.*``, made by that command, its held-out accuracy in the JSON beside
it), so that the default run's quality line costs nothing extra; a classifier in the cache takes precedence.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GankitError
from ..io import load_tensors, save_tensors, write_text
from .backbones import BACKBONES, Backbone


def cache_dir() -> Path:
    return Path(os.environ.get("GANKIT_CACHE") or Path.home() / ".cache" / "gankit") / "classifiers"


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.MaxPool2d(2))


class SmallCNN(nn.Module):
    """Two conv blocks (32, 64 channels) -> 128-d features -> classes."""

    def __init__(self, channels: int, size: int, num_classes: int, feature_dim: int = 128):
        super().__init__()
        self.body = nn.Sequential(_block(channels, 32), _block(32, 64), nn.Flatten(),
                                  nn.Linear(64 * (size // 4) ** 2, feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, num_classes))

    def forward(self, x):
        f = self.body(x)
        return f, self.head(f)


def _shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translations by up to ``max_shift`` pixels, one per example (padding with -1, the background)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (n, h, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (n, 1, w)
    out = padded[torch.arange(n)[:, None, None], :, rows, cols]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


@torch.inference_mode()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    model.eval()
    correct = sum(int((model(x[i : i + batch])[1].argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return correct / len(x)


def train_classifier(dataset: str, epochs: int | None = None, seed: int = 0, progress: bool = True) -> dict:
    """Train, evaluate on the test split, cache; returns the metadata (test accuracy, path)."""
    from ..config import DataConfig
    from ..data import build_dataset

    train = build_dataset(DataConfig(name=dataset, split="train"))
    test = build_dataset(DataConfig(name=dataset, split="test"))
    if train.kind != "image" or train.num_classes is None:
        raise GankitError(f"dataset {dataset} has no class labels; a classifier needs a labelled image dataset")
    epochs = epochs or max(3, math.ceil(60000 / len(train)))  # about 60k examples seen at least
    torch.manual_seed(seed)
    c, h, _ = train.shape
    model = SmallCNN(c, h, train.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps_per_epoch = len(train) // 64
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    x_all, y_all = train.images(), train.y
    from ..train.progress import progress_bar  # a bar on a terminal, plain lines in a log

    bar = progress_bar(epochs * steps_per_epoch, 0, f"classifier {dataset}", enabled=progress)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(train), generator=gen)
        for i in range(steps_per_epoch):
            idx = perm[i * 64 : (i + 1) * 64]
            _, logits = model(_shift(x_all[idx], gen))
            loss = F.cross_entropy(logits, y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
    bar.close()
    acc = accuracy(model, test.images(), test.y)
    meta = {"dataset": dataset, "shape": list(train.shape), "num_classes": train.num_classes,
            "test_accuracy": acc, "epochs": epochs, "seed": seed, "n_train": len(train), "n_test": len(test)}
    path = cache_dir() / f"{dataset}.safetensors"
    save_tensors(path, model.state_dict(), {"meta": json.dumps(meta)})
    write_text(path.with_suffix(".json"), json.dumps(meta, indent=2))
    return {**meta, "path": str(path)}


SHIPPED_DIR = Path(__file__).parent / "weights"


def classifier_path(dataset: str) -> Path | None:
    """The weights of the ``dataset`` classifier: the cache's (trained here), else the package's, else None."""
    for path in (cache_dir() / f"{dataset}.safetensors", SHIPPED_DIR / f"classifier-{dataset}.safetensors"):
        if path.exists():
            return path
    return None


def ensure_classifier(dataset: str, progress: bool = False) -> dict:
    """The classifier's metadata, training it first (deterministically, offline) when neither the cache nor the
    package has one."""
    path = classifier_path(dataset)
    if path is not None:
        return json.loads(path.with_suffix(".json").read_text())
    print(f"training the {dataset} classifier once (cached in {cache_dir()})", flush=True)
    return train_classifier(dataset, progress=progress)


def load_classifier(dataset: str) -> tuple[SmallCNN, dict]:
    path = classifier_path(dataset)
    if path is None:
        raise GankitError(f"no classifier for {dataset} in {cache_dir()}; train it once with "
                          f"`gankit classifier train {dataset}` (a minute or two on a CPU)")
    tensors, raw = load_tensors(path)
    meta = json.loads(raw["meta"])
    c, h, _ = meta["shape"]
    model = SmallCNN(c, h, meta["num_classes"])
    model.load_state_dict(tensors)
    return model.eval(), meta


@BACKBONES.register("classifier")
class ClassifierBackbone(Backbone):
    """gankit's own classifier for a labelled dataset (``--backbone classifier:mnist5k``): 128-d domain features."""

    feature_dim = 128
    protocol = "bilinear (antialiased when shrinking) to the training size, channels averaged or repeated"

    def __init__(self, dataset: str = "mnist5k"):
        super().__init__()
        self.net, self.meta = load_classifier(dataset)
        self.name = f"classifier_{dataset}"
        self.channels, self.input_size = self.meta["shape"][0], self.meta["shape"][1]

    def prepare(self, images):
        if images.shape[1] != self.channels:
            images = images.mean(1, keepdim=True) if self.channels == 1 else images.repeat(1, 3, 1, 1)
        if images.shape[-1] != self.input_size:
            images = F.interpolate(images, size=(self.input_size,) * 2, mode="bilinear", align_corners=False,
                                   antialias=images.shape[-1] > self.input_size)
        return images

    def forward(self, x):
        return self.net(x)


def predict_classes(images: torch.Tensor, dataset: str, batch: int = 500) -> torch.Tensor:
    """The cached ``dataset`` classifier's class for each image (N, C, H, W) in [-1, 1], resized and
    converted to its input as the ``classifier:DATASET`` backbone does."""
    bb = ClassifierBackbone(dataset)
    with torch.no_grad():
        return torch.cat([bb.net(bb.prepare(images[i : i + batch]))[1].argmax(1)
                          for i in range(0, len(images), batch)])


#: a sample is "confident" when the classifier gives its class at least this probability
CONFIDENT = 0.9


def class_histogram(probs: np.ndarray, num_classes: int | None = None) -> dict:
    """Histogram of predicted classes, its KL to uniform, how many classes appear at all, the rarest and commonest
    class's share, and the share of confident samples (max probability >= 0.9: a digit the classifier is sure of)."""
    probs = np.asarray(probs)
    pred = probs.argmax(1)
    k = num_classes or probs.shape[1]
    hist = np.bincount(pred, minlength=k) / len(pred)
    nz = hist > 0
    return {"histogram": hist.tolist(), "kl_to_uniform": float((hist[nz] * np.log(hist[nz] * k)).sum()),
            "classes_present": int(nz.sum()), "rarest": float(hist.min()), "commonest": float(hist.max()),
            "confident": float((probs.max(1) >= CONFIDENT).mean())}
