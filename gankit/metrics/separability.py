"""Linear separability of a latent space (Karras et al. 2019, "A Style-Based Generator Architecture for GANs",
sec. 4.2): how well a hyperplane in Z (or W) splits the samples by an attribute of their images.

For each attribute i, the images of ``n`` codes are labelled by a classifier (here gankit's dataset classifier;
each class against the rest is one binary attribute), the more confident half is kept as the paper does, a
linear SVM is fitted to predict the label Y_i from the latent point, and X_i is the side of its hyperplane each
point falls on. The score is exp(sum_i H(Y_i | X_i)) with H in nats (= 2^(sum_i H) in bits): 1 when every
attribute is split exactly by a hyperplane, and 2^k for k attributes that no hyperplane predicts better than
chance. Lower is more disentangled. The paper's attributes are CelebA's 40 (FFHQ: Z 165.0, W 3.74); gankit's
are the dataset's classes, so the values compare between runs on one dataset, not with the paper's.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import GankitError


def conditional_entropy(y: np.ndarray, x: np.ndarray) -> float:
    """H(Y | X) in nats for discrete label arrays y and x of equal length."""
    y, x = np.asarray(y), np.asarray(x)
    total = 0.0
    for value in np.unique(x):
        part = y[x == value]
        _, counts = np.unique(part, return_counts=True)
        p = counts / counts.sum()
        total += len(part) / len(y) * float(-(p * np.log(p)).sum())
    return total


def separability(latents: np.ndarray, labels: np.ndarray, attributes: int, c: float = 1.0) -> float:
    """exp(sum over attributes k of H(Y_k | X_k)), Y_k = (labels == k), X_k the side of a linear SVM fitted to Y_k."""
    from sklearn.svm import LinearSVC

    total = 0.0
    for k in range(attributes):
        y = labels == k
        if y.all() or not y.any():  # one side only: nothing to split, no uncertainty
            continue
        svm = LinearSVC(C=c, max_iter=20000).fit(latents, y)
        total += conditional_entropy(y, svm.predict(latents))
    return float(np.exp(total))


def linear_separability(run, space: str = "z", n: int = 2000, seed: int = 0) -> float:
    """The separability in ``space`` of ``n`` samples of a run (its EMA generator when kept), labelled by the
    classifier of the run's dataset (the more confident half kept)."""
    from .classifier import ClassifierBackbone

    run.require_latent("the linear separability")
    recipe, nets = run.recipe(), run.networks()
    if space not in recipe.latent_spaces:
        raise GankitError(f"run {run.path} (recipe '{run.config.recipe}') has no latent space {space!r}; "
                          f"sep_{space} needs one of: sep_{', sep_'.join(recipe.latent_spaces)}")
    classes = run.info.num_classes
    if not classes:
        raise GankitError(f"the linear separability needs labelled data to name the attributes; {run.config.data.name} "
                          "has no classes")
    if n < 4:
        raise GankitError(f"--n must be at least 4 for the linear separability, got {n}")
    bb = ClassifierBackbone(run.config.data.name)
    code = run.latent(n, seed)
    with torch.no_grad():
        points = recipe.latent_point(code, space, nets)
        images = run.generate(code)
        probs = torch.cat([bb.net(bb.prepare(images[i:i + 500]))[1].softmax(1) for i in range(0, n, 500)])
    confidence, labels = probs.max(1)
    keep = confidence.argsort(descending=True)[: n // 2]  # the more confident half, as in the paper
    return separability(points[keep].double().numpy(), labels[keep].numpy(), classes)
