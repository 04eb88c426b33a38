"""DiffAugment (train.augment): each policy against a direct reference, gradients through it, and where the
trainer applies it (every D input, real and fake, D's step and G's step; never at sampling)."""
import numpy as np
import pytest
import torch

from conftest import built_recipe
from gankit.data.augment import augment, color, cutout, parse_policy, translation
from gankit.errors import ConfigError


def _images(n=16, c=1, s=16, seed=0):
    return torch.rand(n, c, s, s, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_policy_names_are_checked():
    assert parse_policy("translation, cutout") == ("translation", "cutout")
    assert parse_policy("") == ()
    with pytest.raises(ConfigError, match="unknown augmentation 'cutuot'.*cutout"):
        parse_policy("translation,cutuot")
    with pytest.raises(ConfigError, match="twice"):
        parse_policy("color,color")


def test_translation_is_a_whole_pixel_shift_with_zero_padding():
    """Every output image is its input shifted by some (dy, dx) with |dy|, |dx| <= 2 (1/8 of 16 px, rounded),
    zeros where the shift uncovered the border; a numpy reference finds the shift; many shifts occur."""
    x = _images(64)
    torch.manual_seed(1)
    y = translation(x).numpy()
    shifts = set()
    for a, b in zip(x.numpy(), y):
        found = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = np.zeros_like(a)
                src = np.pad(a, ((0, 0), (2, 2), (2, 2)))
                ref[:] = src[:, 2 - dy : 2 - dy + 16, 2 - dx : 2 - dx + 16]
                if np.array_equal(ref, b):
                    found.append((dy, dx))
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) >= 15  # of the 25 possible, over 64 images


def test_cutout_zeroes_one_clipped_square_of_half_the_side():
    x = _images(64, s=16) * 0.5 + 0.6  # no zero pixels in the input
    torch.manual_seed(2)
    y = cutout(x)
    for b in y[:, 0]:
        rows = torch.nonzero((b == 0).any(1)).flatten()
        cols = torch.nonzero((b == 0).any(0)).flatten()
        assert 1 <= len(rows) <= 8 and 1 <= len(cols) <= 8
        assert rows.diff().eq(1).all() and cols.diff().eq(1).all()  # one contiguous block
        block = b[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        assert (block == 0).all() and int((b == 0).sum()) == len(rows) * len(cols)
        if 0 < rows[0] and rows[-1] < 15:  # away from the border the square is whole
            assert len(rows) == 8
    assert (y == 0).float().mean() > 0.1


def test_color_matches_the_formula_per_image_of_the_stack():
    """Brightness b - 0.5 added, saturation scale 2 s around each pixel's channel mean, contrast c + 0.5 around the
    image mean; in a 6-channel stack of two RGB images each image has its own means."""
    x = _images(4, c=6, s=8)
    torch.manual_seed(3)
    y = color(x, channels=3)
    torch.manual_seed(3)
    b, s, c = (torch.rand(4, 1, 1, 1, 1) for _ in range(3))
    ref = x.reshape(4, 2, 3, 8, 8).double() + (b.double() - 0.5)
    m = ref.mean(2, keepdim=True)
    ref = (ref - m) * (2 * s.double()) + m
    m = ref.mean((2, 3, 4), keepdim=True)
    ref = (ref - m) * (c.double() + 0.5) + m
    assert torch.allclose(y.double(), ref.reshape(4, 6, 8, 8), atol=1e-5)
    with pytest.raises(ValueError, match="not a stack"):
        color(x, channels=4)


def test_gradient_flows_through_every_policy():
    x = _images(8, c=3).requires_grad_()
    augment(x, ("color", "translation", "cutout"), 3).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_recipe_augments_what_d_sees_in_training_only():
    recipe, _ = built_recipe(["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8",
                              "latent.dim=8", "train.augment=translation,cutout"])
    x = _images(32)
    recipe.train()
    torch.manual_seed(0)
    seen = recipe.d_input(x)
    assert not torch.equal(seen, x) and (seen == 0).float().mean() > 0.1
    recipe.eval()
    assert torch.equal(recipe.d_input(x), x)


def test_d_and_g_steps_see_augmented_images(monkeypatch):
    """Both phases' D inputs pass through the augmentation: counted calls, real and fake in D's step."""
    import gankit.recipes.base as base

    calls = []
    real_augment = base.augment

    def counting(x, policy, channels):
        calls.append(len(x))
        return real_augment(x, policy, channels)

    monkeypatch.setattr(base, "augment", counting)
    recipe, cfg = built_recipe(["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8",
                                "latent.dim=8", "train.batch_size=8", "train.augment=translation"])
    recipe.train()
    real = _images(8)
    recipe.loss("d", (real, torch.zeros(8, dtype=torch.long)))
    assert calls == [8, 8]
    recipe.loss("g", (real, torch.zeros(8, dtype=torch.long)))
    assert calls == [8, 8, 8]


@pytest.mark.parametrize("overrides, message", [
    (["data.name=ring8", "g.name=mlp", "d.name=mlp", "train.augment=translation"], "2-D points"),
    (["recipe=lapgan", "data.name=digits", "data.image_size=16", "train.augment=cutout"], "parts of images"),
    (["train.augment=rotate"], "unknown augmentation 'rotate'"),
])
def test_augmentation_is_refused_where_it_cannot_apply(overrides, message):
    with pytest.raises(ConfigError, match=message):
        built_recipe(overrides)


def test_cli_refuses_a_bad_policy_in_one_line(tmp_path):
    import subprocess

    r = subprocess.run(["gankit", "train", "--runs", str(tmp_path), "train.augment=flip"], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "unknown augmentation 'flip'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
