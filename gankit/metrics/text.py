"""Does a text-to-image G draw what the caption says, and does its D know a matching caption? (``gankit eval`` on
a text2image run adds these to the image scores.)

* :func:`caption_fidelity`: images generated from the dataset's **held-out paraphrases** (templates never trained
  on; :mod:`gankit.data.captions`) and, for comparison, from its training captions: the share whose class the
  dataset's classifier reads as the caption's class (``text_class_acc``), and on colordigits the share whose
  stroke colour, and whose background, read from the pixels are the caption's (``text_stroke_acc``,
  ``text_background_acc``). The classification accuracy of generated images is the usual check of conditional
  GANs (Odena et al. 2017, sec. 4.1); on text it is the semantic accuracy of e.g. AttnGAN's R-precision, measured
  with gankit's own classifier.
* :func:`matching_scores`: on held-out real images, D's matching score for a training caption of the image's group
  against 99 captions of other groups: the share of wrong captions it scores lower (``text_match_pairwise``) and
  the share of images whose right caption scores highest of all 100 (``text_r_precision``), an analogue of
  AttnGAN's R-precision (Xu et al. 2018, sec. 5) with D's score in place of the DAMSM image-text similarity.
"""
from __future__ import annotations

import torch

from ..errors import GankitError


def _texts_by_group(captions: tuple, n: int) -> tuple[list, torch.Tensor]:
    """``n`` captions cycling over ``captions`` ((text, group) pairs), so every caption is used about equally."""
    picks = [captions[i % len(captions)] for i in range(n)]
    return [t for t, _ in picks], torch.tensor([g for _, g in picks])


@torch.no_grad()
def generate_from_texts(run, texts: list, seed: int = 0, batch: int = 250) -> torch.Tensor:
    """One sample per caption (z from ``seed``); captions with words a learned encoder never saw are read with its
    unknown-word token, so held-out paraphrases can be scored (a user's ``--text`` refuses them)."""
    recipe = run.recipe()
    return torch.cat([run.generate(recipe.latent(len(texts[i:i + batch]), torch.Generator().manual_seed(seed + i),
                                                 texts=texts[i:i + batch], unknown="allow"))
                      for i in range(0, len(texts), batch)])


def _read(images: torch.Tensor, groups: torch.Tensor, ds) -> dict:
    """The shares of ``images`` showing their groups' class (and colours, on colordigits)."""
    from ..data.translation import ink_map, read_colors
    from .classifier import predict_classes

    colours = ds.group_attributes is not None
    classes = torch.tensor([ds.group_classes[int(g)] for g in groups])
    gray = ink_map(images) if colours else images
    scores = {"class_acc": float((predict_classes(gray, ds.classifier) == classes).float().mean())}
    if colours:
        ink = ((ink_map(images) + 1) * 127.5).round().to(torch.uint8)
        shown = read_colors(images, ink)
        want = torch.tensor([ds.group_attributes[int(g)] for g in groups])
        scores["stroke_acc"] = float((shown[:, 0] == want[:, 0]).float().mean())
        scores["background_acc"] = float((shown[:, 1] == want[:, 1]).float().mean())
    return scores


def caption_fidelity(run, n: int = 1000, seed: int = 0) -> dict:
    """Scores of ``n`` images from held-out paraphrases (``text_*``) and ``n`` from training captions
    (``text_train_*``); see the module's doc."""
    from .translation import held_out

    ds = held_out(run, 1)
    if not ds.held_out or ds.classifier is None:
        raise GankitError(f"dataset {run.config.data.name} has no held-out captions or classifier to judge "
                          "generated images by; text fidelity is measured on the captioned-* datasets")
    scores = {}
    for prefix, captions in (("text_", ds.held_out), ("text_train_", run.info.captions)):
        texts, groups = _texts_by_group(tuple(captions), n)
        images = generate_from_texts(run, texts, seed)
        scores.update({prefix + k: v for k, v in _read(images, groups, ds).items()})
    return scores


@torch.no_grad()
def matching_scores(run, n_images: int = 500, wrong: int = 99, seed: int = 0) -> dict:
    """D's matching scores on held-out real images (see the module's doc)."""
    from ..recipes.text2image import wrong_captions
    from .translation import held_out

    recipe = run.recipe()
    ds = held_out(run)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds), generator=gen)[:n_images]
    x = ds.images()[idx]
    # the group of each image's own caption, then one training caption of that group from the run's pool
    own_groups = ds.caption_groups()[ds.first[idx]]
    pool = recipe.pool
    right = pool.pick(own_groups, gen)
    wrongs = torch.stack([wrong_captions(own_groups, pool.groups, gen) for _ in range(wrong)], 1)  # (N, wrong)
    s_right = recipe.discriminate(x, recipe.embed(right))[:, 0]
    s_wrong = torch.stack([recipe.discriminate(x, recipe.embed(wrongs[:, k]))[:, 0] for k in range(wrong)], 1)
    return {"text_match_pairwise": float((s_right[:, None] > s_wrong).float().mean()),
            "text_r_precision": float((s_right > s_wrong.max(1).values).float().mean()), "text_match_n": len(x)}


@torch.no_grad()
def caption_interpolation(run, start: str, end: str, steps: int = 8, n: int = 64, seed: int = 0) -> dict:
    """Images along the straight line from caption ``start``'s embedding to ``end``'s, each z held (GAN-INT's figure,
    Reed et al. 2016, fig. 8): per step, the mean stroke colour (each channel in [0, 255], where the image's own ink map is over
    one half) and the share of images the dataset's classifier reads as each class."""
    from ..data.translation import ink_map
    from .classifier import predict_classes
    from .translation import held_out

    ds = held_out(run, 1)
    z0, z1 = run.latent(n, seed, texts=[start]), run.latent(n, seed, texts=[end])  # one seed: the same noise
    colours, classes = [], []
    for t in torch.linspace(0, 1, steps):
        images = run.generate(torch.lerp(z0, z1, float(t)))
        ink = ink_map(images)
        mask = (ink > 0).float()
        colours.append(((images + 1) * 127.5 * mask).sum((0, 2, 3)) / mask.sum((0, 2, 3)).clamp_min(1))
        gray = ink if ds.group_attributes is not None else images
        pred = predict_classes(gray, ds.classifier)
        classes.append(torch.bincount(pred, minlength=10).float() / n)
    return {"stroke_colour": torch.stack(colours), "class_share": torch.stack(classes)}
