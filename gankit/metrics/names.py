"""Metric and backbone names, and which way each score is better: a leaf module (it imports nothing of
gankit), so that the config can validate ``train.eval_*`` without importing the metrics themselves."""
from __future__ import annotations

#: the scores ``gankit eval`` and ``train.eval_metrics`` know (parzen, swd and ms_ssim work on the pixels: no backbone)
ALL_METRICS = ("fid", "kid", "is", "pr", "dc", "parzen", "swd", "ms_ssim", "ppl_z", "ppl_w", "sep_z", "sep_w", "transfer")
#: the scores computed on the pixels themselves
PIXEL_METRICS = ("parzen", "swd", "ms_ssim")
#: scores of the latent space, in Z and W (StyleGAN's): the perceptual path lengths (a fixed offline perceptual
#: distance) and the linear separability (the dataset's classifier); no --backbone
PATH_METRICS = ("ppl_z", "ppl_w", "sep_z", "sep_w")
#: the scores of a run that translates images (the judge its dataset declares: L1 and domain FID, the share of
#: translations read as the target class or showing the target attributes); the only metric such runs take
TRANSLATION_METRICS = ("transfer",)
#: the feature extractors (``--backbone``, ``train.eval_backbone``; ``classifier`` takes ``:DATASET``)
BACKBONE_NAMES = ("classifier", "effnet-lite0", "inception")
#: scores (by the start of their name) for which lower is better; every other score is better higher
LOWER_IS_BETTER = ("fid", "kid", "mode_kl", "swd", "ms_ssim", "ppl", "sep", "l1")


def higher_is_better(score: str) -> bool:
    """True for IS, precision, recall, density, coverage, modes covered...; False for FID, KID, mode KL, SWD,
    MS-SSIM (a diversity score: lower is more varied), the perceptual path lengths and the separabilities."""
    return not score.startswith(LOWER_IS_BETTER)
