"""Scores of image-to-image runs on held-out data (the ``test`` split of the run's dataset).

* :func:`paired_scores` (pix2pix): mean L1 error to the true targets, and the domain FID between the
  translations and the true targets with a dataset classifier's features (the pix2pix paper's point:
  L1 alone is blurry, the cGAN term makes outputs look real; their table 1 measures it by FCN score).
* :func:`domain_transfer` (CycleGAN): the share of translations a classifier reads as the target class,
  and the cycle reconstruction error.
* :func:`attribute_transfer` (StarGAN on ``colordigits``): the share of translations that show every
  target attribute (read from pixel colours), and the share whose digit a digit classifier still reads.
"""
from __future__ import annotations

import torch

from ..config import DataConfig
from ..data import build_dataset


def held_out(run, limit: int | None = None):
    """The run's dataset, ``test`` split."""
    d = run.config.data
    return build_dataset(DataConfig(name=d.name, root=d.root, split="test", image_size=d.image_size,
                                    channels=d.channels, limit=limit))


def _batched(fn, x: torch.Tensor, batch: int = 250) -> torch.Tensor:
    return torch.cat([fn(x[i : i + batch]) for i in range(0, len(x), batch)])


def paired_scores(run, classifier: str, limit: int | None = None, dropout: bool | None = None) -> dict:
    """L1 and domain FID (``classifier:<classifier>`` features) of a pix2pix run on the held-out pairs."""
    from .extractors import build_backbone
    from .frechet import fid_from_features

    ds = held_out(run, limit)
    a, b = ds.fixed_batch(len(ds))
    src, tgt = (a, b) if run.config.translate.direction == "AtoB" else (b, a)
    out = _batched(lambda x: run.translate(x, dropout=dropout), src)
    backbone = build_backbone(f"classifier:{classifier}")
    fid = fid_from_features(backbone.extract(tgt)[0], backbone.extract(out)[0])
    return {"l1": float((out - tgt).abs().mean()), "fid": float(fid), "n": len(src)}


def domain_transfer(run, classifier: str, classes: tuple[int, int], limit: int | None = None) -> dict:
    """CycleGAN: for A -> B and B -> A, the share of translations that ``classifier`` reads as the other
    side's class (``classes`` = (class of A, class of B)), and the mean |F(G(a)) - a| / |G(F(b)) - b|."""
    from .classifier import predict_classes

    ds = held_out(run, limit)
    a, b = ds.a.images(), ds.b.images()
    out = {}
    for name, x, direction, back, target in (("AtoB", a, "AtoB", "BtoA", classes[1]),
                                             ("BtoA", b, "BtoA", "AtoB", classes[0])):
        y = _batched(lambda t: run.translate(t, direction=direction), x)
        rec = _batched(lambda t: run.translate(t, direction=back), y)
        out[f"{name}_accuracy"] = float((predict_classes(y, classifier) == target).float().mean())
        out[f"{name}_cycle_l1"] = float((rec - x).abs().mean())
        out[f"{name}_n"] = len(x)
    return out


def attribute_transfer(run, digit_classifier: str = "mnist5k", limit: int | None = None, seed: int = 0) -> dict:
    """StarGAN on colordigits: each held-out image goes to one random other domain; the share showing
    every target attribute (:func:`~gankit.data.translation.read_colors`, measured where the source digit
    has ink and where it has none), and the share whose digit the classifier reads from its ink map."""
    from ..data.translation import ink_map, read_colors
    from .classifier import predict_classes

    ds = held_out(run, limit)
    x, y = ds.images(), ds.y
    gen = torch.Generator().manual_seed(seed)
    sizes = torch.tensor([len(v) for _, v in ds.attributes])
    target = y.clone()
    while True:  # a random domain that differs from the source in at least one attribute
        same = (target == y).all(1)
        if not same.any():
            break
        target[same] = (torch.rand(int(same.sum()), len(sizes), generator=gen) * sizes).long()
    out = torch.cat([run.translate(x[i : i + 250], target=target[i : i + 250]) for i in range(0, len(x), 250)])
    shown = (read_colors(out, ds.ink) == target).all(1)
    digit = predict_classes(ink_map(out), digit_classifier) == ds.digits
    return {"attribute_accuracy": float(shown.float().mean()), "digit_accuracy": float(digit.float().mean()),
            "n": len(x)}



def translation_scores(run, limit: int | None = None) -> dict:
    """The scores that judge translations of the run's dataset, as it declares (``Dataset.judge``): pix2pix-style
    pairs get :func:`paired_scores` (``l1``, ``fid_domain``), two unpaired sides :func:`domain_transfer`, images
    with attributes :func:`attribute_transfer`. ``limit`` caps the held-out images."""
    from ..errors import GankitError

    judge = held_out(run, 1).judge
    if judge is None:
        raise GankitError(f"gankit has no judge for translations of {run.config.data.name} (it knows the classes of "
                          "its own datasets only); score them with gankit translate + gankit fid")
    kind, classifier, *rest = judge
    if kind == "paired":
        s = paired_scores(run, classifier, limit)
        return {"l1": s["l1"], "fid_domain": s["fid"], "n": s["n"]}
    if kind == "sides":
        return domain_transfer(run, classifier, tuple(rest[0]), limit)
    return attribute_transfer(run, classifier, limit)
