"""Progressive GAN (issue 19): the growing networks' exact invariants at alpha = 0 and 1, equalized learning rate,
pixel norm, the drift term, the authors' schedule, the real-image fade, Adam resets, exact resumes mid-fade,
sampling from disk at the current level, the growth figure, and the SWD and MS-SSIM metrics checked against
independent numpy / scipy implementations written here."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage, signal, stats

from conftest import built_recipe
from gankit import load_config, load_run, train
from gankit.cli import main
from gankit.data import build_dataset
from gankit.metrics.msssim import ms_ssim_diversity, ms_ssim_pairs
from gankit.metrics.swd import level_sizes, normalise, patch_descriptors, sliced_wasserstein, swd
from gankit.nets.progressive import (EqualizedConv2d, ProgressiveDiscriminator, ProgressiveGenerator, pixel_norm)
from gankit.objectives import build_objective
from gankit.recipes.progan import fade_reals, level_and_alpha, level_of_detail
from gankit.train import Trainer
from gankit.train.checkpoint import read_weights
from gankit.viz import milestones

# 16 px digits; 16 images (2 steps of 8) per stable phase and per fade. The level of detail is that of the images
# shown before a step (the authors'): 2, 2, 2, 1.5, 1, 1, 1, 0.5, 0, ... at steps 0, 1, ...; at steps 2 and 6 the
# fade weight of the next level would be 0, which equals the previous level exactly
SMALL = ["recipe=progan", "data.name=digits", "data.image_size=16", "latent.dim=8", "progan.width=4",
         "progan.max_width=8", "progan.stable_images=16", "progan.fade_images=16", "train.batch_size=8",
         "train.n_samples=8", "objective.name=wgan-gp", "objective.drift=0.001", "d.minibatch_std=true"]


def grown_pair(levels=2):
    torch.manual_seed(0)
    g = ProgressiveGenerator(8, 3, levels, 4, 16)
    d = ProgressiveDiscriminator(3, levels, 4, 16, mbstd_group=4)
    for net in (g, d):  # non-zero biases, so that a wrong path cannot hide behind zeros
        for name, p in net.named_parameters():
            if name.endswith("bias"):
                p.data.normal_()
    return g, d


@pytest.mark.parametrize("level", [1, 2])
def test_at_alpha_zero_the_grown_nets_equal_the_previous_ones(level):
    g, d = grown_pair()
    z = torch.randn(8, 8)
    with torch.no_grad():
        previous = g(z, level - 1, 1.0)
        assert torch.allclose(g(z, level, 0.0), F.interpolate(previous, scale_factor=2, mode="nearest"), atol=1e-6)
        x = torch.randn(8, 3, 4 * 2**level, 4 * 2**level)
        assert torch.allclose(d(x, 0.0), d(F.avg_pool2d(x, 2), 1.0), atol=1e-6)


def test_at_alpha_one_only_the_new_layers_count():
    g, d = grown_pair()
    z, x = torch.randn(8, 8), torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        before_g, before_d = g(z, 2, 1.0), d(x, 1.0)
        g.to_rgb[1].weight.add_(1.0)  # the previous level's output layers
        d.from_rgb[1].weight.add_(1.0)
        assert torch.equal(g(z, 2, 1.0), before_g) and torch.equal(d(x, 1.0), before_d)
        assert not torch.allclose(g(z, 2, 0.5), before_g)  # ...which a fade does use
        assert not torch.allclose(d(x, 0.5), before_d)


def test_pixel_norm_gives_unit_mean_square_per_pixel_vector():
    x = torch.randn(4, 16, 5, 5) * 7 + 3
    ms = pixel_norm(x).pow(2).mean(1)
    assert torch.allclose(ms, torch.ones_like(ms), atol=1e-5)


def test_the_drift_term_is_epsilon_times_the_mean_square_of_real_outputs():
    cfg = load_config(None, ["objective.name=wgan-gp", "objective.drift=0.001", "objective.penalty=none"])
    obj = build_objective(cfg.objective)
    real, fake = torch.tensor([1.0, -2.0, 3.0]), torch.tensor([0.5, 0.25])
    want = 0.375 - 2.0 / 3 + 1e-3 * (1 + 4 + 9) / 3
    assert obj.d_loss(real, fake).item() == pytest.approx(want, abs=1e-7)
    plain = build_objective(load_config(None, ["objective.name=wgan-gp", "objective.penalty=none"]).objective)
    assert plain.d_loss(real, fake).item() == pytest.approx(0.375 - 2.0 / 3, abs=1e-7)


def test_equalized_lr_makes_layers_of_different_fan_in_learn_at_the_same_relative_speed():
    """One Adam step moves every raw weight by about lr; the run-time scale makes that the same relative change of
    the effective weights for fan-in 9 * 16 and 9 * 512. With a plain He-initialised layer it is sqrt(32) apart."""
    def relative_change(layer, weight_of):
        opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
        before = weight_of(layer).detach().clone()
        target = torch.randn_like(before)
        (weight_of(layer) * target).sum().backward()
        opt.step()
        return float((weight_of(layer).detach() - before).norm() / before.norm())

    torch.manual_seed(0)
    equal = [relative_change(EqualizedConv2d(c, 8, 3), lambda m: m.weight * m.scale) for c in (16, 512)]
    plain = []
    for c in (16, 512):
        conv = torch.nn.Conv2d(c, 8, 3)
        torch.nn.init.kaiming_normal_(conv.weight)
        plain.append(relative_change(conv, lambda m: m.weight))
    assert equal[0] / equal[1] == pytest.approx(1.0, abs=0.05)
    assert plain[1] / plain[0] > 4


def authors_lod(kimg, levels, training_kimg, transition_kimg):
    """TrainingSchedule's lod (progressive_growing_of_gans, train.py), transcribed for this test."""
    phase_dur = training_kimg + transition_kimg
    phase_idx = int(np.floor(kimg / phase_dur)) if phase_dur > 0 else 0
    phase_kimg = kimg - phase_idx * phase_dur
    lod = levels - phase_idx
    if transition_kimg > 0:
        lod -= max(phase_kimg - training_kimg, 0.0) / transition_kimg
    return max(lod, 0.0)


@pytest.mark.parametrize("images", [0, 50, 100, 101, 150, 199, 200, 250, 333, 399, 400, 10_000])
def test_the_schedule_is_the_authors(images):
    got = level_of_detail(images, 2, 100, 100)
    assert got == pytest.approx(authors_lod(images / 1000, 2, 0.1, 0.1), abs=1e-12)
    assert level_of_detail(150, 2, 100, 100) == 1.5 and level_of_detail(100, 2, 100, 0) == 1.0  # abrupt
    level, alpha = level_and_alpha(got, 2)
    assert 4 * 2**level == {2: 4, 1: 8, 0: 16}[math.floor(got)]  # a fade trains the new, larger size
    assert alpha == pytest.approx(1 - (got - math.floor(got)))


def small_recipe(extra=()):
    return built_recipe([*SMALL, *extra])


def test_the_plan_grows_resets_adam_at_each_integer_crossing_and_fades_the_reals():
    recipe, _ = small_recipe()
    plans = [recipe.plan(s) for s in range(10)]
    assert [recipe.lod_at(s) for s in range(10)] == [2, 2, 2, 1.5, 1, 1, 1, 0.5, 0, 0]
    assert [p.resolution for p in plans] == [4, 4, 4, 8, 8, 8, 8, 16, 16, 16]
    assert [s for s, p in enumerate(plans) if p.reset] == [3, 4, 7, 8]  # a fade starts, ends, starts, ends
    assert [recipe.milestone(s) for s in (3, 4, 7, 8)] == ["4px stable", "8px faded in", "8px stable", "16px faded in"]
    assert recipe.milestone(5) is None
    recipe.set_step(3)  # half-way through the fade to 8 px
    assert (recipe.level, recipe.alpha) == (1, 0.5)
    real = torch.randn(8, 1, 8, 8)
    seen = {}
    d = recipe.nets["d"]
    original = d.forward

    def spy(x, alpha=1.0):
        seen.setdefault("real", (x.detach().clone(), alpha))
        return original(x, alpha)

    d.forward = spy
    recipe.loss("d", (real, None))
    x, alpha = seen["real"]
    coarse = F.interpolate(F.avg_pool2d(real, 2), scale_factor=2, mode="nearest")
    assert alpha == 0.5 and torch.allclose(x, 0.5 * coarse + 0.5 * real, atol=1e-6) and torch.equal(x, fade_reals(real, 0.5))


def test_batch_sizes_per_resolution_set_the_stream_and_the_schedule():
    recipe, _ = small_recipe(["progan.batch_sizes=[16,8,4]"])
    plans = [recipe.plan(s) for s in range(14)]
    # images before each step: 0, 16 (4 px: the fade weight is still 0), 32 (8 px, batch 8; a batch of 16
    # stepped over the fade), 40, 48, 56 (fading to 16 px, batch 4), 60, 64
    assert [recipe.images_before(s) for s in range(8)] == [0, 16, 32, 40, 48, 56, 60, 64]
    assert [p.batch_size for p in plans[:8]] == [16, 16, 8, 8, 8, 4, 4, 4]


def test_bad_settings_are_refused_in_one_line(tmp_path, capsys):
    for argv, needle in ((["data.image_size=28"], "set data.image_size to 8, 16, 32 or 64"),
                         (["progan.batch_sizes=[8,8]"], "needs 3 positive sizes"),
                         (["data.name=ring8", "data.image_size=null"], "holds points"),
                         (["recipe=unconditional", "progan.width=8", "data.image_size=16"], "'progan', not by this run's recipe 'unconditional'"),
                         (["objective.name=ns", "objective.drift=0.1"], "objective.drift")):
        code = main(["train", "--run-dir", str(tmp_path / "run"), "--no-progress", *SMALL, *argv])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and needle in err, (argv, err)
        assert not (tmp_path / "run").exists()


def test_a_run_killed_mid_fade_resumes_exactly_and_samples_its_level_from_disk(tmp_path):
    over = ["train.steps=10", "train.ema_decay=0.9", "train.checkpoint_every=1", "train.sample_every=100"]
    straight = train(load_config(None, [*SMALL, *over]), tmp_path / "straight", progress=False, tensorboard=False)

    class StopsMidFade(Trainer):
        def train_step(self):
            logs = super().train_step()
            if self.step == 7:  # half-way through the fade to 16 px
                self.request_stop()
            return logs

    StopsMidFade(load_config(None, [*SMALL, *over]), tmp_path / "resumed", progress=False, tensorboard=False).fit()
    mid = load_run(tmp_path / "resumed")
    assert mid.step == 7 and mid.recipe().alpha == 0.5
    x = mid.sample(4, seed=1)
    assert x.shape == (4, 1, 16, 16)
    Trainer(load_config(None, [*SMALL, *over]), tmp_path / "resumed", resume=True, progress=False,
            tensorboard=False).fit()
    a, b = read_weights(straight.path / "checkpoints"), read_weights(tmp_path / "resumed" / "checkpoints")
    assert a[2] == b[2] == 10
    assert all(torch.equal(a[0][k], b[0][k]) for k in a[0]) and all(torch.equal(a[1][k], b[1][k]) for k in a[1])
    # the growth figure: one row per phase end, and the final row; the resumed run's equals the straight one's
    _, meta = __import__("gankit.io", fromlist=["load_tensors"]).load_tensors(
        straight.path / "samples" / "milestones.safetensors")
    rows = json.loads(meta["rows"])
    assert [r["label"] for r in rows] == ["4px stable", "8px faded in", "8px stable", "16px faded in", "final"]
    assert (straight.path / "samples" / "milestones.png").exists()
    _, meta_resumed = __import__("gankit.io", fromlist=["load_tensors"]).load_tensors(
        tmp_path / "resumed" / "samples" / "milestones.safetensors")
    assert json.loads(meta_resumed["rows"]) == rows


def test_a_run_in_its_first_phase_samples_4px_images_enlarged(tmp_path):
    run = train(load_config(None, [*SMALL, "train.steps=1"]), tmp_path / "r", progress=False, tensorboard=False)
    x = load_run(run.path).sample(3, seed=0)
    assert x.shape == (3, 1, 16, 16)
    blocks = x.reshape(3, 1, 4, 4, 4, 4)  # every 4 x 4 block is one pixel of the 4 px image
    assert torch.equal(blocks, blocks[:, :, :, :1, :, :1].expand_as(blocks))


def test_milestone_rows_from_a_lost_future_are_dropped(tmp_path):
    for step in (10, 20, 30):
        milestones.record(tmp_path, step, f"s{step}", torch.zeros(8, 1, 4, 4))
    milestones.record(tmp_path, 15, "again", torch.ones(8, 1, 8, 8))  # a resume from step 10's checkpoint
    from gankit.io import load_tensors

    tensors, meta = load_tensors(tmp_path / "milestones.safetensors")
    assert [r["step"] for r in json.loads(meta["rows"])] == [10, 15] and len(tensors) == 2


# -- SWD ---------------------------------------------------------------------------------------------------


def test_swd_levels_patches_and_normalisation_match_numpy():
    assert level_sizes(16) == [16] and level_sizes(32) == [32, 16] and level_sizes(28) == [28] \
        and level_sizes(128) == [128, 64, 32, 16]
    x = torch.randn(3, 2, 12, 10, dtype=torch.float64)
    gen = torch.Generator().manual_seed(4)
    desc = patch_descriptors(x, 5, gen)
    again = torch.Generator().manual_seed(4)
    top = torch.randint(12 - 7 + 1, (3, 5), generator=again)
    left = torch.randint(10 - 7 + 1, (3, 5), generator=again)
    arr = x.numpy()
    want = np.stack([arr[i, :, top[i, p]:top[i, p] + 7, left[i, p]:left[i, p] + 7] for i in range(3) for p in range(5)])
    assert np.array_equal(desc.numpy(), want)
    flat = normalise(desc).numpy().reshape(15, 2, 7, 7)
    ref = (want - want.mean((0, 2, 3), keepdims=True)) / want.std((0, 2, 3), keepdims=True)
    assert np.allclose(flat, ref, atol=1e-12)


def test_sliced_wasserstein_agrees_with_scipy_per_direction():
    torch.manual_seed(0)
    a, b = torch.randn(300, 6, dtype=torch.float64), torch.randn(300, 6, dtype=torch.float64) * 1.5 + 0.2
    got = sliced_wasserstein(a, b, repeats=2, directions=5, generator=torch.Generator().manual_seed(9), chunk=2)
    gen = torch.Generator().manual_seed(9)
    per = []
    for _ in range(2):
        dirs = torch.randn(6, 5, generator=gen, dtype=torch.float64)
        dirs = (dirs / dirs.norm(dim=0, keepdim=True)).numpy()
        per += [stats.wasserstein_distance(a.numpy() @ dirs[:, k], b.numpy() @ dirs[:, k]) for k in range(5)]
    assert got == pytest.approx(np.mean(per), rel=1e-10)
    assert sliced_wasserstein(a, a, 2, 5, torch.Generator().manual_seed(1)) == 0.0


def test_swd_is_zero_for_a_set_against_itself_and_sees_a_difference():
    """Identical sets score 0; two halves of one set score far less at the finest level than one half against the
    other half made noisy or blurred (measured: 20 against 186 and 74)."""
    images = build_dataset(load_config(None, ["data.name=digits", "data.image_size=32"]).data).images()[:600]
    same = swd(images, images.clone(), patches=32, repeats=2, directions=32)
    assert same == {"swd_32": 0.0, "swd_16": 0.0, "swd": 0.0}
    a, b = images[:300], images[300:]
    torch.manual_seed(0)
    halves = swd(a, b, patches=64, repeats=2, directions=32)["swd_32"]
    noisy = swd(a, (b + 0.3 * torch.randn_like(b)).clamp(-1, 1), patches=64, repeats=2, directions=32)["swd_32"]
    blurred = swd(a, F.avg_pool2d(b, 3, 1, 1), patches=64, repeats=2, directions=32)["swd_32"]
    assert noisy > 4 * halves and blurred > 2 * halves, (halves, noisy, blurred)
    rgb = swd(images.expand(-1, 3, -1, -1), images.expand(-1, 3, -1, -1).flip(-1), patches=8, repeats=1,
              directions=8)
    assert rgb["swd"] > 0 and np.isfinite(rgb["swd"])


# -- MS-SSIM -----------------------------------------------------------------------------------------------


def reference_ms_ssim(img1, img2):
    """The MS-SSIM of one pair of (H, W, C) images in [0, 255], in numpy / scipy (fftconvolve 'valid' filtering,
    ndimage 'reflect' 2 x 2 downsampling), with negative terms taken as 0."""
    weights = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
    im1, im2 = img1.astype(np.float64)[None], img2.astype(np.float64)[None]
    values = []
    for _ in range(5):
        _, h, w, _ = im1.shape
        size = min(11, h, w)
        sigma = size * 1.5 / 11
        radius, offset = size // 2, 0.0
        start, stop = -radius, radius + 1
        if size % 2 == 0:
            offset, stop = 0.5, stop - 1
        x, y = np.mgrid[offset + start:stop, offset + start:stop]
        g = np.exp(-((x**2 + y**2) / (2.0 * sigma**2)))
        window = (g / g.sum()).reshape(1, size, size, 1)
        mu1, mu2 = signal.fftconvolve(im1, window, mode="valid"), signal.fftconvolve(im2, window, mode="valid")
        s11 = signal.fftconvolve(im1 * im1, window, mode="valid") - mu1 * mu1
        s22 = signal.fftconvolve(im2 * im2, window, mode="valid") - mu2 * mu2
        s12 = signal.fftconvolve(im1 * im2, window, mode="valid") - mu1 * mu2
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        v1, v2 = 2.0 * s12 + c2, s11 + s22 + c2
        values.append((np.mean((2 * mu1 * mu2 + c1) * v1 / ((mu1**2 + mu2**2 + c1) * v2)), np.mean(v1 / v2)))
        box = np.ones((1, 2, 2, 1)) / 4.0
        im1, im2 = [ndimage.convolve(im, box, mode="reflect")[:, ::2, ::2, :] for im in (im1, im2)]
    ssim, cs = np.maximum(np.array(values), 0).T
    return float(np.prod(cs[:4] ** weights[:4]) * ssim[4] ** weights[4])


@pytest.mark.parametrize("shape", [(1, 16, 16), (1, 28, 28), (3, 32, 32), (1, 13, 13)])
def test_ms_ssim_agrees_with_a_numpy_scipy_reference(shape):
    torch.manual_seed(1)
    base = torch.rand(6, *shape) * 2 - 1
    a = base
    b = (base + 0.4 * torch.randn_like(base)).clamp(-1, 1)
    b[3] = torch.rand(*shape) * 2 - 1  # an unrelated pair
    got = ms_ssim_pairs(a, b).numpy()
    pix = lambda t: ((t.clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 1).numpy()  # noqa: E731
    want = [reference_ms_ssim(pix(a)[i], pix(b)[i]) for i in range(6)]
    assert np.allclose(got, want, rtol=1e-6, atol=1e-9), (got, want)
    assert torch.allclose(ms_ssim_pairs(a, a), torch.ones(6, dtype=torch.float64), atol=1e-12)


def test_ms_ssim_diversity_is_lower_for_a_more_varied_set():
    images = build_dataset(load_config(None, ["data.name=digits", "data.image_size=16"]).data).images()[:200]
    varied = ms_ssim_diversity(images, pairs=500)
    collapsed = ms_ssim_diversity(images[:1].repeat(200, 1, 1, 1) + 0.01 * torch.randn(200, 1, 16, 16), pairs=500)
    assert 0 < varied < collapsed <= 1


def test_swd_and_ms_ssim_through_gankit_eval(tmp_path):
    from gankit.metrics.evaluate import evaluate_run, write_report

    run = train(load_config(None, [*SMALL, "train.steps=2"]), tmp_path / "r", progress=False, tensorboard=False)
    report = evaluate_run(run, ("swd", "ms_ssim"), n=64)
    assert {"swd", "swd_16", "ms_ssim", "ms_ssim_real"} <= set(report["scores"])
    assert all(np.isfinite(v) for v in report["scores"].values())
    assert write_report(run, report).name.endswith("_pixels.json")


def test_ac_progan_adds_the_class_term_to_both_players_and_samples_by_class(tmp_path):
    recipe, cfg = small_recipe(["recipe=ac-progan", "cond.class_weight=0.5"])
    assert recipe.sampling().condition == "class" and recipe.nets["g"].latent_dim == 8 + 10
    recipe.set_step(0)
    real, labels = torch.randn(8, 1, 4, 4), torch.arange(8)
    torch.manual_seed(3)
    loss, logs = recipe.loss("d", (real, labels))
    logits = recipe.nets["d"](real)[:, 1:]
    assert logs["d_class_loss"].item() > 0.5 * F.cross_entropy(logits, labels).item()  # real term + fake term
    code = recipe.latent(4, labels=torch.tensor([1, 2, 3, 4]))
    assert torch.equal(code[:, 8:].argmax(1), torch.tensor([1, 2, 3, 4]))
    _, g_logs = recipe.loss("g", None)
    assert "g_class_loss" in g_logs
    plain, _ = small_recipe()
    with pytest.raises(Exception, match="ac-progan"):
        plain.latent(2, labels=torch.tensor([0, 1]))
