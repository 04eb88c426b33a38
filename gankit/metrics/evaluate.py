"""``gankit eval RUN``: score a run's generator against its dataset with one protocol.

Image runs: features of ``n`` generated samples (the EMA generator when kept) and of up to ``n`` real
images from the run's dataset (split ``test`` when the dataset has one, else the training split)
go through one backbone; FID, KID, IS, precision/recall and density/coverage come from those
features. Precision/recall and density/coverage use at most ``knn_max`` samples per side (their
pairwise distances grow quadratically). Labelled datasets also get the class histogram of the
samples by gankit's classifier, when it has been trained. 2-D toy runs get mode statistics instead.

Real features are cached (``$GANKIT_CACHE/features``), keyed by dataset, split, backbone, n and
input size, so the second evaluation of the same data does not recompute them.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..data.base import from_bytes, quantise
from ..errors import GankitError
from ..io import atomic_path, write_text
from .extractors import build_backbone
from .classifier import cache_dir, class_histogram
from .frechet import feature_stats, frechet_distance
from .manifold import density_coverage, precision_recall
from .parzen import parzen_score, split_reference, unit_pixels
from .scores import inception_score, kernel_inception_distance

from .names import ALL_METRICS, PATH_METRICS, PIXEL_METRICS, TRANSLATION_METRICS  # noqa: E402,F401


def _suffix(backbone) -> str:
    """Scores from the Inception backbone carry the standard names; others name their backbone."""
    return "" if backbone.name == "inception" else f"_{backbone.name}"


def real_features(data_cfg, split: str, backbone, n: int, progress: bool = False):
    """(features, probabilities, n_used) of up to ``n`` real images, cached on disk."""
    from ..config import DataConfig
    from ..data import build_dataset

    tag = "" if backbone.name != "inception" else f"-{backbone.protocol}"
    # the whole data config names the set: two image folders (data.root) must not share a cache file
    data_id = hashlib.sha256(json.dumps(data_cfg.__dict__, sort_keys=True, default=str).encode()).hexdigest()[:12]
    key = (f"{data_cfg.name}-{split}-{backbone.name}{tag}-n{n}-s{backbone.input_size}"
           f"-img{data_cfg.image_size or 'native'}-{data_id}")
    path = cache_dir().parent / "features" / f"{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return f["features"], f["probs"], int(f["features"].shape[0])
    cfg = DataConfig(**{**data_cfg.__dict__, "split": split, "limit": None})
    ds = build_dataset(cfg)
    order = torch.arange(len(ds))
    if len(ds) > n:
        order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[:n]
    stored = getattr(ds, "x", None)  # uint8 images: converted a chunk at a time, so memory stays bounded
    everything = None if stored is not None else ds.images()

    def images_at(start, stop):
        idx = order[start:stop]
        return from_bytes(stored[idx]) if stored is not None else everything[idx]

    parts = path.with_name(f"{key}.parts")
    feats, probs = extract_in_chunks(backbone, images_at, len(order), parts, chunk=FEATURE_CHUNK, progress=progress)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, features=feats.astype(np.float32), probs=probs.astype(np.float32))
    remove_chunks(parts)
    return feats, probs, len(feats)


#: images per saved chunk of features (an interrupted extraction resumes from the last whole chunk)
FEATURE_CHUNK = 2000


def extract_in_chunks(backbone, images_at, count: int, parts: Optional[Path], chunk: int = FEATURE_CHUNK,
                      progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The backbone's (features, probabilities) of ``images_at(start, stop)`` over [0, count), a chunk at a time.
    Each chunk's features are saved in ``parts`` (atomically; None: not saved) as soon as they exist, so an extraction that is
    interrupted (Ctrl-C, a kill) and started again computes only the chunks it has not saved; an unreadable chunk
    is computed again. Memory holds one chunk of images and the features."""
    from tqdm.auto import tqdm

    if parts is not None:
        parts.mkdir(parents=True, exist_ok=True)
    feats, probs = [], []
    with tqdm(total=count, disable=not progress, desc=f"features ({backbone.name})", unit="img") as bar:
        for start in range(0, count, chunk):
            stop = min(start + chunk, count)
            part = parts / f"{start:09d}-{stop:09d}.npz" if parts is not None else None
            saved = _read_chunk(part, stop - start) if part is not None else None
            if saved is None:
                f, p = backbone.extract(images_at(start, stop))
                saved = (f.astype(np.float32), p.astype(np.float32))
                if part is not None:
                    with atomic_path(part) as tmp:
                        with open(tmp, "wb") as fh:
                            np.savez(fh, features=saved[0], probs=saved[1])
            feats.append(saved[0])
            probs.append(saved[1])
            bar.update(stop - start)
    return np.concatenate(feats).astype(np.float64), np.concatenate(probs).astype(np.float64)


#: the names extract_in_chunks gives its chunk files
CHUNK_NAME = re.compile(r"\d{9}-\d{9}\.npz")


def remove_chunks(parts: Path) -> None:
    """Remove a folder of saved chunks once its set is complete, deleting only what :func:`extract_in_chunks`
    wrote there: its chunk files (and temporaries a kill left of them). A symlink is never followed, and a
    folder holding anything else keeps it (and stays)."""
    if parts.is_symlink() or not parts.is_dir():
        return
    for f in parts.iterdir():
        ours = CHUNK_NAME.fullmatch(f.name) or (f.name.startswith(".") and f.name.endswith(".tmp")
                                                and CHUNK_NAME.match(f.name[1:]))
        if ours and f.is_file() and not f.is_symlink():
            f.unlink()
    try:
        parts.rmdir()
    except OSError:
        pass


def _read_chunk(path: Path, rows: int):
    """A saved chunk's (features, probabilities), or None when it is missing or unreadable."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            feats, probs = f["features"], f["probs"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    return (feats, probs) if len(feats) == rows == len(probs) else None


#: KID's subset size (Bińkowski et al. 2018's protocol); smaller sets shrink it (recorded in the protocol)
KID_SUBSET_SIZE = 1000
#: the scores computed on a backbone's features (``parzen`` works on the pixels)
FEATURE_METRICS = ("fid", "kid", "is", "pr", "dc")


def reference_images(data_cfg, split: str) -> torch.Tensor:
    """The uint8 images of a split of the run's dataset, at the run's image size."""
    from ..config import DataConfig
    from ..data import build_dataset

    return build_dataset(DataConfig(**{**data_cfg.__dict__, "split": split, "limit": None})).images()


def parzen_of(data_cfg, split: str, fake: torch.Tensor) -> dict:
    """The Parzen-window log-likelihood (:mod:`gankit.metrics.parzen`) of one half of the reference split under
    the generated images, its bandwidth chosen on the other half."""
    validation, test = split_reference(reference_images(data_cfg, split))
    if len(test) < 2:
        raise GankitError(f"the Parzen estimate needs at least 4 reference images, {data_cfg.name}:{split} has "
                          f"{len(validation) + len(test)}")
    return parzen_score(unit_pixels(fake), unit_pixels(validation), unit_pixels(test))


def feature_scores(data_cfg, split, fake, metrics, n, backbone, resize, knn_max, progress, protocol,
                   inception_protocol=None, fake_identity: Optional[str] = None, fake_features=None) -> dict:
    """FID, KID, IS, precision/recall and density/coverage on one backbone's features; adds what it used to
    ``protocol``. ``fake_identity`` names the samples exactly (run, step, seed, n): their features are then
    extracted through saved chunks too, so an interrupted evaluation resumes. ``fake_features``: the samples'
    (features, outputs) already extracted on this backbone (by the ranks of a multi-process run)."""
    bb = build_backbone(backbone, input_size=resize, protocol=inception_protocol)
    real_f, _, n_real = real_features(data_cfg, split, bb, n, progress)
    if fake_features is not None:
        fake_f, fake_p = fake_features
    else:
        parts = None
        if fake_identity is not None:
            key = hashlib.sha256(json.dumps([fake_identity, bb.name, bb.input_size, bb.protocol]).encode()).hexdigest()
            parts = cache_dir().parent / "features" / f"samples-{key[:24]}.parts"
        fake_f, fake_p = extract_all(bb, fake, progress=progress, parts=parts)
        if parts is not None:
            remove_chunks(parts)
    sfx, scores = _suffix(bb), {}
    if "fid" in metrics:
        scores[f"fid{sfx}"] = frechet_distance(*feature_stats(real_f), *feature_stats(fake_f))
    if "kid" in metrics:
        scores[f"kid{sfx}"], scores[f"kid{sfx}_std"] = kernel_inception_distance(real_f, fake_f,
                                                                                  subset_size=KID_SUBSET_SIZE)
    if "is" in metrics:
        scores[f"is{sfx}"], scores[f"is{sfx}_std"] = inception_score(fake_p, splits=min(10, len(fake_p)))
    k = min(knn_max, len(real_f), len(fake_f))
    if "pr" in metrics:
        scores["precision"], scores["recall"] = precision_recall(real_f[:k], fake_f[:k], k=3)
    if "dc" in metrics:
        scores["density"], scores["coverage"] = density_coverage(real_f[:k], fake_f[:k], k=5)
    protocol.update({"backbone": bb.name, "resize": bb.input_size, "preprocessing": bb.protocol, "n_real": n_real,
                     "knn_samples": k, "comparable_with_papers": bb.name == "inception" and bb.protocol == "tf"})
    if "kid" in metrics:  # KID's subsets shrink to the smaller set: record the size actually used
        protocol["kid_subset_size"] = min(KID_SUBSET_SIZE, len(real_f), len(fake_f))
    dim = real_f.shape[1]
    if "fid" in metrics and min(len(real_f), len(fake_f)) < dim:
        protocol.setdefault("warnings", []).append(
            f"FID from {min(len(real_f), len(fake_f))} samples of {dim}-d features is strongly biased upwards "
            f"(fewer samples than dimensions); use --n {dim} or more")
    return scores


#: the samples of an evaluation are drawn in chunks of this many, chunk k from seed + SAMPLE_CHUNK * k
SAMPLE_CHUNK = 500


def fake_images(run, n: int, seed: int, batch: int = SAMPLE_CHUNK) -> torch.Tensor:
    """``n`` samples as uint8 (N, C, H, W), quantised as a saved PNG would be: one byte per value, so that
    50,000 samples fit, and scores of a run equal the scores of its samples saved as files."""
    return torch.cat([_fake_chunk(run, n, seed, start, batch) for start in range(0, n, batch)])


def _fake_chunk(run, n: int, seed: int, start: int, batch: int = SAMPLE_CHUNK) -> torch.Tensor:
    """Samples ``start`` .. ``start + batch`` (at most ``n``) of :func:`fake_images`, drawn from ``seed + start``."""
    return quantise(run.sample(min(batch, n - start), seed=seed + start))


def fake_share(run, n: int, seed: int, backbone: str, rank: int, world: int, resize: int | None = None,
               inception_protocol: str | None = None) -> list:
    """One rank's part of the samples of :func:`fake_images` (chunks rank, rank + world, ...) with their features
    on ``backbone``: [(first index, uint8 images, (features, outputs))]. :func:`join_shares` puts the ranks' parts
    back in order, so a multi-process evaluation scores exactly the samples of a one-process one."""
    bb = build_backbone(backbone, input_size=resize, protocol=inception_protocol)
    share = []
    for start in list(range(0, n, SAMPLE_CHUNK))[rank::world]:
        images = _fake_chunk(run, n, seed, start)
        share.append((start, images, extract_all(bb, images)))
    return share


def join_shares(shares: list) -> tuple:
    """(images, (features, outputs)) of every rank's :func:`fake_share`, in sample order."""
    parts = sorted((part for share in shares for part in share), key=lambda part: part[0])
    return (torch.cat([p[1] for p in parts]),
            (np.concatenate([p[2][0] for p in parts]), np.concatenate([p[2][1] for p in parts])))


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 images as floats in [-1, 1] (float images pass through)."""
    return from_bytes(x) if x.dtype == torch.uint8 else x


def extract_all(backbone, images: torch.Tensor, progress: bool = False,
                parts: Optional[Path] = None) -> tuple[np.ndarray, np.ndarray]:
    """The backbone's outputs for uint8 images, converted to floats a chunk at a time (chunks saved in ``parts``
    when given)."""
    return extract_in_chunks(backbone, lambda a, b: to_unit(images[a:b]), len(images), parts, chunk=FEATURE_CHUNK,
                             progress=progress)


def evaluate_run(run, metrics=ALL_METRICS, n: int = 10000, backbone: str = "effnet-lite0", seed: int = 0,
                 knn_max: int = 5000, progress: bool = False, resize: int | None = None,
                 inception_protocol: str | None = None, fakes: Optional[tuple] = None) -> dict:
    """Score ``run`` (see the module's doc). ``fakes``: the samples and their features on ``backbone`` already
    drawn and extracted (:func:`join_shares`), as the same ``n`` and ``seed`` would give them."""
    unknown = [m for m in metrics if m not in ALL_METRICS]
    if unknown:
        raise GankitError(f"unknown metric {unknown[0]!r}; choose from {', '.join(ALL_METRICS)}")
    if n < 2:
        raise GankitError(f"--n must be at least 2 (10,000 is the usual protocol), got {n}")
    cfg = run.config
    translates = run.sampling.source != "latent"
    wrong = [m for m in metrics if (m in TRANSLATION_METRICS) != translates]
    if wrong:
        raise GankitError(f"run {run.path} translates images: score it with --metrics transfer" if translates else
                          f"--metrics transfer scores runs that translate images; run {run.path} samples from latents")
    if translates:
        from .translation import translation_scores

        scores = translation_scores(run, limit=n)
        return {"step": run.step, "scores": scores,
                "protocol": {"transfer": f"held-out {cfg.data.name}:test translations, judged as the dataset "
                             f"declares", "n_images": scores.get("n", scores.get("AtoB_n")), "seed": seed}}
    if run.info.kind == "points":
        from ..data import build_dataset

        toy = build_dataset(cfg.data)
        if not hasattr(toy, "mode_stats"):
            raise GankitError(f"dataset {cfg.data.name} has no modes to count")
        scores = toy.mode_stats(run.sample(2500, seed=seed))
        return {"step": run.step, "scores": scores, "protocol": {"n_fake": 2500, "criterion": "3 std"}}

    split = "test" if cfg.data.name in ("mnist5k", "fashion-mnist", "digits") else cfg.data.split
    scores, protocol = {}, {"n_fake": n, "reference": f"{cfg.data.name}:{split}", "seed": seed}
    if all(m in PATH_METRICS for m in metrics):  # path lengths draw their own pairs of codes
        return {"step": run.step, "scores": _latent_space_scores(run, metrics, n, seed, protocol),
                "protocol": protocol}
    fake = fakes[0] if fakes is not None else fake_images(run, n, seed)
    scores.update(_latent_space_scores(run, metrics, n, seed, protocol))
    if "parzen" in metrics:
        scores.update(parzen_of(cfg.data, split, to_unit(fake)))
        protocol["parzen"] = "Gaussian window on [0, 1] pixels, sigma best on one half of the reference, scored on the other"
    if "swd" in metrics:
        from .swd import swd

        reference = reference_images(cfg.data, split)
        scores.update(swd(reference, to_unit(fake[:len(reference)]), seed=seed))  # iid samples: the first suffice
        protocol["swd"] = (f"ProGAN's sliced Wasserstein distance x 1e3 over {min(len(reference), len(fake))} images "
                           "per set: 128 7x7 patches per image and level, 4 x 128 directions")
    if "ms_ssim" in metrics:
        from .msssim import ms_ssim_diversity

        scores["ms_ssim"] = ms_ssim_diversity(fake, seed=seed)
        scores["ms_ssim_real"] = ms_ssim_diversity(reference_images(cfg.data, split), seed=seed)
        protocol["ms_ssim"] = "mean MS-SSIM over 10,000 random pairs (lower: more diverse; ms_ssim_real: the reference)"
    if any(m in FEATURE_METRICS for m in metrics):
        from ..train.checkpoint import WEIGHTS

        weights = run.path / "checkpoints" / WEIGHTS  # a run trained again to the same step has other weights
        stamp = [weights.stat().st_size, weights.stat().st_mtime_ns] if weights.exists() else None
        identity = json.dumps([str(run.path.resolve()), run.step, seed, len(fake), stamp, run.config.to_yaml()])
        scores.update(feature_scores(cfg.data, split, fake, metrics, n, backbone, resize, knn_max, progress, protocol,
                                     inception_protocol, fake_identity=identity,
                                     fake_features=fakes[1] if fakes is not None else None))
    if run.sampling.condition == "text":  # does G draw what the caption says, and does D know a matching caption?
        from .text import caption_fidelity, matching_scores

        try:
            scores.update(caption_fidelity(run, n=min(n, 1000), seed=seed))
            scores.update(matching_scores(run, seed=seed))
            protocol["text"] = ("images from held-out paraphrases (text_*) and training captions (text_train_*) judged "
                                "by the dataset's classifier and colours; D's score of the right caption against 99 "
                                "of other groups on held-out real images (text_match_pairwise, text_r_precision)")
        except GankitError as e:
            protocol["text"] = f"skipped: {e}"
    elif run.info.num_classes:
        try:
            clf = build_backbone(f"classifier:{cfg.data.name}")
            _, probs = extract_all(clf, fake)
            scores["classes"] = class_histogram(probs, run.info.num_classes)
            if run.num_classes is not None:  # conditional runs: is each sample the class it was asked for?
                from .conditional import category_accuracy, class_accuracy

                if not run.sampling.named_classes:  # an unnamed categorical code: matched to the classes
                    scores["category_accuracy"] = category_accuracy(run, n=min(n, 1000), seed=seed)["category_accuracy"]
                else:
                    scores["class_accuracy"] = class_accuracy(run, n=min(n, 1000), seed=seed)["class_accuracy"]
        except GankitError as e:
            protocol["classes"] = f"skipped: {e}"
    return {"step": run.step, "scores": scores, "protocol": protocol}


def _latent_space_scores(run, metrics, n: int, seed: int, protocol: dict) -> dict:
    """The latent-space scores among ``metrics``: ppl_z / ppl_w (:mod:`gankit.metrics.ppl`) and sep_z / sep_w
    (:mod:`gankit.metrics.separability`); what they measured goes into ``protocol``."""
    from .ppl import perceptual_path_length
    from .separability import linear_separability

    scores = {}
    for m in (m for m in metrics if m in PATH_METRICS):
        kind, space = m.split("_")
        if kind == "ppl":
            scores[m] = perceptual_path_length(run, space, n=n, seed=seed)
            protocol[m] = (f"perceptual path length in {space.upper()} over {n} pairs, end sampling, eps 1e-4, 1-99 % "
                           "of the distances kept; EfficientNet-Lite0 perceptual distance, not the paper's LPIPS")
        else:
            scores[m] = linear_separability(run, space, n=n, seed=seed)
            protocol[m] = (f"linear separability in {space.upper()}: {n} samples, the more confident half by the "
                           f"{run.config.data.name} classifier, each class against the rest, linear SVM, exp(sum H)")
    return scores


def write_report(run, report: dict) -> Path:
    protocol = report["protocol"]
    name = protocol.get("backbone", "pixels" if any(m in protocol for m in PIXEL_METRICS)
                        else "paths" if any(m in protocol for m in PATH_METRICS)
                        else "transfer" if "transfer" in protocol else "modes")
    path = run.path / "eval" / f"step_{report['step']:07d}_{name}.json"
    write_text(path, json.dumps(report, indent=2))
    return path


def format_table(report: dict) -> str:
    protocol = {k: v for k, v in report["protocol"].items() if k != "warnings"}
    lines = [f"step {report['step']}  ({', '.join(f'{k}={v}' for k, v in protocol.items())})"]
    lines += [f"  warning: {w}" for w in report["protocol"].get("warnings", ())]
    for k, v in report["scores"].items():
        if isinstance(v, dict):
            v = f"{v['classes_present']} classes, KL to uniform {v['kl_to_uniform']:.4f}"
        elif isinstance(v, float):
            v = f"{v:.4f}"
        lines.append(f"  {k:<24} {v}")
    return "\n".join(lines)
