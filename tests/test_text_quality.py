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

    Measured 2026-12-08 with the preset as shipped (DCGAN with G's FC stage, hinge, G lr 4x D's, betas (0, 0.99)),
    every seed tried (held-out class / training-caption class / D right above one wrong caption / right caption
    first of 100; wall time on 2 cores, measured alone):
      seed 0: 93.4 % / 99.6 % / 99.2 % / 93.6 %  (344 s);
      seed 1: 93.4 % / 99.0 % / 99.2 % / 95.2 %  (333 s);
      seed 2: 92.8 % / 99.4 % / 99.3 % / 94.0 %  (258 s).
    The plain DCGAN nets with the ns loss (the preset until then) scored 83.3 / 81.9 / 89.6 % on held-out paraphrases,
    95.6-97.1 % on training captions, D 97.7-98.4 % / 76.2-82.6 %; the template that missed most was "a scan of a hand
    drawn 7" (64 % on seed 0). Asserted: the issue's 85 % on held-out paraphrases, and what held on every seed with
    a margin."""
    run = _run("mnist-text2image", seed, tmp_path)
    f, m = caption_fidelity(run, n=1000), matching_scores(run, n_images=500)
    assert f["text_class_acc"] >= 0.85 and f["text_train_class_acc"] >= 0.96, f
    assert m["text_match_pairwise"] >= 0.97 and m["text_r_precision"] >= 0.85, m


@pytest.fixture(scope="module")
def colordigits_runs(tmp_path_factory):
    """`colordigits-text2image` as shipped, trained once per seed for the two tests below."""
    runs = {}

    def get(seed):
        if seed not in runs:
            runs[seed] = _run("colordigits-text2image", seed, tmp_path_factory.mktemp(f"colordigits{seed}"))
        return runs[seed]
    return get


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_colordigits_captions_draw_their_digit_and_colours(seed, colordigits_runs):
    """The issue's claim on `colordigits-text2image`: images from held-out paraphrases show the caption's digit
    >= 85 % and its stroke colour >= 80 % of the time; D ranks the right caption above a wrong one >= 97 %.

    Measured 2026-12-08 with the preset as shipped, every seed tried (held-out digit / stroke / background; training
    captions' digit; D right above one wrong caption / first of 100; wall time on 2 cores, alone):
      seed 0: 90.3 % / 98.2 % / 98.0 %; 93.7 %; 99.1 % / 77.0 %  (280 s);
      seed 1: 92.0 % / 99.9 % / 98.7 %; 90.6 %; 99.1 % / 74.8 %  (261 s);
      seed 2: 88.6 % / 99.4 % / 97.6 %; 94.0 %; 99.3 % / 79.4 %  (283 s).
    Before hard wrong captions and the default's nets (seed 0): digit 14.3 %, stroke 99.3 %: G drew coloured
    scribbles, and D could reject 50 of 59 wrong captions by a colour alone."""
    run = colordigits_runs(seed)
    f, m = caption_fidelity(run, n=1000), matching_scores(run, n_images=500)
    assert f["text_class_acc"] >= 0.85 and f["text_stroke_acc"] >= 0.80, f
    assert m["text_match_pairwise"] >= 0.97, m


@pytest.mark.parametrize("seed", [pytest.param(0, marks=pytest.mark.xfail(
    strict=True, reason="measured: 87.5 % sevens at the midpoint on seed 0 (see the docstring)")), 1, 2])
def test_colordigits_caption_interpolation_turns_a_red_seven_blue(seed, colordigits_runs):
    """Along "a red seven" -> "a blue seven" (on black; 256 images, z held, 8 steps) the stroke turns from red to
    blue monotonically (blue minus red of the mean stroke colour never falls by more than 2 of 255) while >= 90 %
    stay sevens at every step.

    Measured 2026-12-08 (blue minus red from the first to the last step; the fewest sevens at any step):
      seed 0: -173 -> +178, monotonic; 87.5 % sevens at the midpoint: fails, a strict expected failure;
      seed 1: -178 -> +169, monotonic; 97.7 %;
      seed 2: -184 -> +178, monotonic; 96.5 %.
    The claim holds on 2 seeds of 3. With 64 images (the function's default) seed 2's last step dips by 8 of 255:
    sampling noise, hence 256."""
    run = colordigits_runs(seed)
    path = caption_interpolation(run, "a red seven on a black background", "a blue seven on a black background", n=256)
    blue_minus_red = path["stroke_colour"][:, 2] - path["stroke_colour"][:, 0]
    assert bool((blue_minus_red[1:] >= blue_minus_red[:-1] - 2.0).all()), blue_minus_red  # 2 of 255: rounding
    assert blue_minus_red[-1] - blue_minus_red[0] > 100, blue_minus_red
    assert float(path["class_share"][:, 7].min()) >= 0.90, path["class_share"][:, 7]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_wrong_captions_d_cannot_tell_a_matching_caption(seed, tmp_path):
    """The matching-aware D's wrong captions are what teach it to match: trained without them (2,000 steps of
    `mnist-text2image`), D ranks the right caption above a wrong one far less often than with them.

    Measured 2026-12-08 with the preset as shipped (D right above one wrong caption / first of 100):
      seed 0: 67.4 % / 16.4 %;  seed 1: 55.7 % / 11.6 %;  seed 2: 62.3 % / 11.4 %  (chance: 50 % / 1 %).
    With wrong captions (the test above, 4,000 steps): 99.2-99.3 % / 93.6-95.2 %. Not quite chance, as the issue
    expected: G's fakes carry their caption, so a D that rejects fakes drawn off their caption learns some matching
    without wrong pairs (with the plain DCGAN nets and ns loss, whose G followed captions less: 52.9-60.3 % / 1-3 %).
    Asserted: below 75 % / 30 %."""
    run = _run("mnist-text2image", seed, tmp_path, "text.matching_aware=false", "train.steps=2000")
    m = matching_scores(run, n_images=500)
    assert 0.35 <= m["text_match_pairwise"] <= 0.75 and m["text_r_precision"] <= 0.30, m
