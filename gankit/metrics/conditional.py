"""Does a conditional G make the class it was asked for? Scored by the dataset's classifier.

* :func:`class_accuracy`: cGAN / AC-GAN / projection runs. ``n`` samples with labels 0, 1, ..., K-1
  in turn; the share the classifier reads as the requested class (the "classification accuracy of
  generated samples" of e.g. Odena et al. 2017, sec. 4.1, with gankit's own classifier).
* :func:`category_accuracy`: InfoGAN's categorical code c1 has no names, so its values are matched to
  the classes by the Hungarian algorithm on the (value, predicted class) counts, and the accuracy is
  the share of samples whose value maps to their predicted class (Chen et al. 2016, sec. 7.1).
"""
from __future__ import annotations

import numpy as np
import torch


def _generate_by_label(run, n: int, seed: int, batch: int = 500):
    k = run.num_classes
    labels = torch.arange(n) % k
    images = torch.cat([run.sample(len(labels[i : i + batch]), seed=seed + i, labels=labels[i : i + batch])
                        for i in range(0, n, batch)])
    return images, labels, k


def class_accuracy(run, dataset: str | None = None, n: int = 1000, seed: int = 0) -> dict:
    from .classifier import predict_classes

    images, labels, k = _generate_by_label(run, n, seed)
    pred = predict_classes(images, dataset or run.config.data.name)
    per_class = [float((pred[labels == c] == c).float().mean()) for c in range(k)]
    return {"class_accuracy": float((pred == labels).float().mean()), "per_class": per_class, "n": n}


def matched_accuracy(codes: np.ndarray, predicted: np.ndarray) -> tuple[float, dict]:
    """Accuracy of ``codes`` against ``predicted`` classes under the best one-to-one relabelling of the
    codes (Hungarian algorithm on the count matrix; Kuhn 1955), and that relabelling."""
    from scipy.optimize import linear_sum_assignment

    codes, predicted = np.asarray(codes), np.asarray(predicted)
    counts = np.zeros((int(codes.max()) + 1, int(predicted.max()) + 1), dtype=np.int64)
    np.add.at(counts, (codes, predicted), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(codes)), {int(r): int(c) for r, c in zip(rows, cols)}


def category_accuracy(run, dataset: str | None = None, n: int = 1000, seed: int = 0) -> dict:
    from .classifier import predict_classes

    images, codes, _ = _generate_by_label(run, n, seed)
    pred = predict_classes(images, dataset or run.config.data.name).numpy()
    acc, mapping = matched_accuracy(codes.numpy(), pred)
    return {"category_accuracy": acc, "mapping": mapping, "n": n}
