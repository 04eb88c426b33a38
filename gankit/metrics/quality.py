"""The one line of quality a training run ends with (``train.quality_n`` samples; 0 turns it off), written to
``RUN/quality.json`` and printed, so that two runs compare at a glance.

- Labelled image data with a gankit classifier (the ``mnist5k`` one ships with the package; others come from
  ``gankit classifier train DATASET``): the share of *confident* samples (the classifier's top probability
  >= 0.9, a digit it is sure of), the rarest and commonest class's share of the samples (a uniform generator
  gives 1/K each), and the Fréchet distance in the classifier's 128-d features to the training images (a domain
  FID in the manner of "FID-MNIST"; far cheaper than Inception, comparable only with itself). The real images'
  own confident share is given beside it as the ceiling.
- 2-D toys: the dataset's mode statistics (modes covered, share of high-quality samples).
- Text-to-image runs on gankit's captioned datasets: the share of samples from held-out captions drawn as the
  caption's class (and colours), and how often D ranks an image's right caption first of 100
  (:mod:`gankit.metrics.text`).
- Anything else (no labels, no classifier, image-to-image runs): no line; a labelled dataset without a classifier
  says how to get one instead of training it silently.
"""
from __future__ import annotations

import json

import numpy as np

from ..errors import GankitError
from ..io import write_text

QUALITY_FILE = "quality.json"


def _percent(x: float) -> str:
    return f"{100 * x:.1f} %"


def classifier_quality(run, n: int, seed: int = 0) -> dict:
    """Confident share, class spread and the classifier-feature FID of ``n`` EMA samples of ``run``."""
    from .classifier import class_histogram
    from .evaluate import extract_all, fake_images, real_features
    from .extractors import build_backbone
    from .frechet import fid_from_features

    dataset = run.config.data.name
    clf = build_backbone(f"classifier:{dataset}")
    fake_f, fake_p = extract_all(clf, fake_images(run, n, seed))  # 8-bit, as gankit eval and saved images see them
    real_f, real_p, real_n = real_features(run.config.data, run.config.data.split, clf, 50_000)  # cached on disk
    hist = class_histogram(fake_p, run.info.num_classes)
    real_confident = class_histogram(real_p, run.info.num_classes)["confident"]
    out = {"kind": "classifier", "n": n, "classifier": f"classifier:{dataset}",
           "classifier_test_accuracy": clf.meta.get("test_accuracy"),
           "confident": hist["confident"], "rarest": hist["rarest"], "commonest": hist["commonest"],
           "classes_present": hist["classes_present"], "histogram": hist["histogram"],
           "fid_classifier": fid_from_features(real_f, fake_f), "real_confident": real_confident,
           "real_n": real_n}
    k = run.info.num_classes
    out["line"] = (f"quality of {n:,} EMA samples (gankit's {dataset} classifier): {_percent(out['confident'])} "
                   f"confident (real images: {_percent(real_confident)}), classes {_percent(out['rarest'])} to "
                   f"{_percent(out['commonest'])} (uniform: {_percent(1 / k)}), FID in its features "
                   f"{out['fid_classifier']:.2f}")
    return out


def toy_quality(run, n: int, seed: int = 0) -> dict | None:
    from ..data import build_dataset

    data = build_dataset(run.config.data)
    stats = getattr(data, "mode_stats", None)
    if stats is None:
        return None
    values = {k: float(v) for k, v in stats(run.sample(n, seed=seed).float().cpu()).items()}
    shown = ", ".join(f"{k} {v:.3g}" for k, v in values.items())
    return {"kind": "modes", "n": n, **values, "line": f"quality of {n:,} EMA samples: {shown}"}


def text_quality(run, n: int, seed: int = 0) -> dict:
    """Caption fidelity of ``n`` EMA samples from held-out captions and ``n`` from training captions, and D's
    matching scores on 500 held-out real images."""
    from .text import caption_fidelity, matching_scores

    scores = {**caption_fidelity(run, n, seed), **matching_scores(run, seed=seed)}
    colours = "".join(f", {what} {_percent(scores[f'text_{what}_acc'])}" for what in ("stroke", "background")
                      if f"text_{what}_acc" in scores)
    line = (f"quality of {n:,} EMA samples from held-out captions (gankit's classifier): "
            f"{_percent(scores['text_class_acc'])} drawn as the caption's class{colours} (training captions: "
            f"{_percent(scores['text_train_class_acc'])}); D ranks the right caption first of 100 for "
            f"{_percent(scores['text_r_precision'])} of held-out images")
    return {"kind": "text", "n": n, **scores, "line": line}


def run_quality(run, n: int, seed: int = 0) -> dict | None:
    """The quality summary of a finished run (see the module's docstring), or None when there is none to give;
    a labelled dataset without a classifier raises a GankitError that says how to get one."""
    from .classifier import classifier_path

    if n <= 0 or run.sampling.source != "latent":
        return None
    if run.info.kind == "points":
        return toy_quality(run, n, seed)
    if run.sampling.condition == "text":
        return text_quality(run, n, seed)
    if not run.info.num_classes:
        return None
    dataset = run.config.data.name
    if classifier_path(dataset) is None:
        raise GankitError(f"no gankit classifier for {dataset} yet; train one with `gankit classifier train {dataset}`, "
                          f"then `gankit eval {run.path}`")
    return classifier_quality(run, n, seed)


def write_quality(run, report: dict) -> None:
    write_text(run.path / QUALITY_FILE, json.dumps({"step": run.step, **report}, indent=2,
                                                  default=lambda v: v.tolist() if isinstance(v, np.ndarray) else v))
