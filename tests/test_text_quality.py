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
    """`mnist-text2image` as shipped (4,000 steps), scored by gankit's mnist5k classifier on 1,000 images from the 3
    held-out paraphrases and 1,000 from the 8 training templates, and by D on 500 held-out real digits.

    Measured 2026-12-08, every seed tried (held-out class / training-caption class / D right above one wrong caption /
    right caption first of 100; wall time on 2 cores, load about 2 from the run itself):
      seed 0: 83.3 % / 97.1 % / 98.4 % / 80.4 %  (386 s, a test run beside it);
      seed 1: 81.9 % / 95.6 % / 98.3 % / 82.6 %  (337 s);
      seed 2: 89.6 % / 95.7 % / 97.7 % / 76.2 %  (310 s).
    The issue's bar for held-out paraphrases, 85 %, holds on 1 seed of 3; the template that misses is "a scan of a hand
    drawn 7" (64 % on seed 0; the other two 89 % and 96 %). With 5 training templates instead of 8, seed 0 scored
    80.0 % / 97.5 %. Asserted: what held on every seed, with a margin."""
    run = _run("mnist-text2image", seed, tmp_path)
    f, m = caption_fidelity(run, n=1000), matching_scores(run, n_images=500)
    assert f["text_class_acc"] >= 0.78 and f["text_train_class_acc"] >= 0.93, f
    assert m["text_match_pairwise"] >= 0.95, m


@pytest.mark.xfail(strict=True, reason="the digit is not drawn yet: 14 % (chance 10 %) on seed 0, colours 99 %")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_colordigits_captions_draw_their_digit_and_colours(seed, tmp_path):
    """The issue's claims on `colordigits-text2image`: held-out paraphrases drawn with their digit >= 85 % and stroke
    colour >= 80 %; along "a red seven" -> "a blue seven" the stroke turns from red to blue monotonically (blue minus
    red of the mean stroke colour never falls by more than 2 of 255) while >= 90 % stay sevens.

    Measured 2026-12-08, seed 0 only (4,000 steps, 438 s, 4 training templates then, 6 now): held-out digit 14.3 %,
    stroke 99.3 %, background 88.1 %; training captions: digit 14.0 %, stroke 100 %, background 97.4 %; D right above
    one wrong caption 97.2 %, first of 100 37.2 %. G draws the colours but not the digit (the samples show coloured
    scribbles), so this claim does not hold yet and the test is an expected failure; seeds 1 and 2 were not run."""
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
    """The matching-aware D's wrong captions are what teach it to match: trained without them (2,000 steps of
    `mnist-text2image`), D ranks the right caption above a wrong one about as often as a coin would.

    Measured 2026-12-08 (D right above one wrong caption / first of 100): seed 0: 52.9 % / 2.0 %;
    seed 1: 59.5 % / 3.0 %; seed 2: 60.3 % / 1.0 % (chance: 50 % / 1 %).
    With wrong captions (the test above, 4,000 steps): 97.7-98.4 % / 76.2-82.6 %."""
    run = _run("mnist-text2image", seed, tmp_path, "text.matching_aware=false", "train.steps=2000")
    m = matching_scores(run, n_images=500)
    assert 0.35 <= m["text_match_pairwise"] <= 0.70, m
