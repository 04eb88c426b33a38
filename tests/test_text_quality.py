"""Text-to-image claims (issue 22), measured on the presets as shipped over 3 seeds (slow). Numbers in the docstrings."""
import pytest

from conftest import text_extra_available
from gankit import load_config, train
from gankit.metrics.text import caption_fidelity, caption_interpolation, matching_scores

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not text_extra_available(), reason='pip install -e ".[text]"')]


def _run(preset, seed, tmp_path, *overrides):
    return train(load_config(preset, [f"train.seed={seed}", *overrides]), tmp_path / preset, progress=False,
                 tensorboard=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mnist_captions_draw_their_digit_and_d_knows_a_matching_caption(seed, tmp_path):
    """MNIST_DOCSTRING"""
    run = _run("mnist-text2image", seed, tmp_path)
    f, m = caption_fidelity(run, n=1000), matching_scores(run, n_images=500)
    assert f["text_class_acc"] >= 0.85, f
    assert m["text_match_pairwise"] >= 0.90, m


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_colordigits_captions_draw_their_digit_and_colours(seed, tmp_path):
    """COLOR_DOCSTRING"""
    run = _run("colordigits-text2image", seed, tmp_path)
    f, m = caption_fidelity(run, n=1000), matching_scores(run, n_images=500)
    assert f["text_class_acc"] >= 0.85 and f["text_stroke_acc"] >= 0.80, f
    assert m["text_match_pairwise"] >= 0.90, m
    path = caption_interpolation(run, "a red seven on a black background", "a blue seven on a black background")
    blue_minus_red = path["stroke_colour"][:, 2] - path["stroke_colour"][:, 0]
    assert bool((blue_minus_red[1:] >= blue_minus_red[:-1] - 2.0).all()), blue_minus_red  # 2 of 255: rounding
    assert blue_minus_red[-1] - blue_minus_red[0] > 100, blue_minus_red
    assert float(path["class_share"][:, 7].min()) >= 0.90, path["class_share"][:, 7]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_wrong_captions_d_cannot_tell_a_matching_caption(seed, tmp_path):
    """NOCLS_DOCSTRING"""
    run = _run("mnist-text2image", seed, tmp_path, "text.matching_aware=false", "train.steps=2000")
    m = matching_scores(run, n_images=500)
    assert 0.35 <= m["text_match_pairwise"] <= 0.65, m
