"""Image-to-image translation (issue 7): datasets, networks, the pix2pix / CycleGAN / StarGAN recipes,
`gankit translate`, and the one-line refusals."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import fashion_available
from gankit import load_config, train
from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.data.translation import COLOR_ATTRIBUTES, canny_edges, colorize, ink_map, read_colors
from gankit.errors import ConfigError, DataError
from gankit.nets import build_patch_discriminator, build_translator
from gankit.nets.image2image import patch_layers, patch_receptive_field, unet_levels
from gankit.recipes.translation import HistoryPool

needs_fashion = pytest.mark.skipif(not fashion_available(), reason="apt-get install dataset-fashion-mnist")

TINY_G = ["g.width=8", "g.blocks=2"]
TINY = ["train.steps=4", "train.batch_size=8", "train.log_every=1", "train.sample_every=2",
        "train.checkpoint_every=2", "data.limit=32", "d.width=8"]


def _write_images(folder, n, size=(12, 12), color=(200, 40, 40), start=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(start)
    for i in range(n):
        arr = (rng.random((size[1], size[0], 3)) * 60 + np.array(color) * 0.7).clip(0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"img{start + i:03d}.png")


# ----------------------------------------------------------------------------- datasets


@needs_fashion
def test_edges2fashion_pairs_are_edge_maps_of_their_targets():
    ds = build_dataset(DataConfig(name="edges2fashion", split="test", limit=40))
    assert ds.pairing == "paired" and ds.shape == (1, 32, 32) and ds.source_shape == (1, 32, 32)
    assert set(torch.unique(ds.a).tolist()) <= {0, 255}  # binary edge maps
    inner = ds.b[:, 0, 2:30, 2:30].numpy()  # the 28x28 image inside its 2 px padding
    assert np.array_equal(canny_edges(inner), ds.a[:, 0, 2:30, 2:30].numpy())
    # the stream keeps pairs together: each batch's A is the edge map of its B
    a, b = ds.stream(8, seed=3).next()
    ua, ub = ((a + 1) * 127.5).round().byte(), ((b + 1) * 127.5).round().byte()
    assert np.array_equal(canny_edges(ub[:, 0, 2:30, 2:30].numpy()), ua[:, 0, 2:30, 2:30].numpy())


def test_canny_edges_finds_the_outline_of_a_square():
    img = np.zeros((1, 20, 20), np.uint8)
    img[0, 5:15, 5:15] = 255
    edges = canny_edges(img)[0] > 0
    assert edges[5:15, 5].any() and edges[5:15, 14].any() and not edges[9:11, 9:11].any()
    assert not edges[:3].any()  # nothing far from the square


def test_unpaired_stream_draws_sides_independently_and_resumes_exactly():
    ds = build_dataset(DataConfig(name="mnist2digits", split="test", limit=64))
    assert ds.pairing == "unpaired" and ds.shape == ds.source_shape == (1, 32, 32)
    s = ds.stream(16, seed=0)
    s.next()
    state = s.state_dict()
    after = [s.next() for _ in range(5)]
    s2 = ds.stream(16, seed=0)
    s2.load_state_dict(state)
    for (a, b), (a2, b2) in zip(after, [s2.next() for _ in range(5)]):
        assert torch.equal(a, a2) and torch.equal(b, b2)


def test_colordigits_attributes_are_read_back_from_pixel_colours():
    ds = build_dataset(DataConfig(name="colordigits", split="test"))
    assert ds.pairing == "domains" and ds.shape == (3, 28, 28) and ds.attributes == COLOR_ATTRIBUTES
    x = ds.images()
    assert torch.equal(read_colors(x, ds.ink), ds.y)  # every image shows its own labels
    # all 6 domains occur, each at least 50 times in 500 images
    domains = torch.bincount(ds.y[:, 0] * 2 + ds.y[:, 1], minlength=6)
    assert domains.min() >= 50, domains
    # the ink map turns every colouring back into the grey digit it was painted from
    grey = ds.ink.float() / 127.5 - 1
    assert (ink_map(x) - grey).abs().max() < 0.02


def test_colorize_blends_background_into_stroke():
    grey = torch.tensor([[[[0, 255, 128]]]], dtype=torch.uint8)
    out = colorize(grey, torch.tensor([2]), torch.tensor([1]))  # blue on white
    assert out[0, :, 0, 0].tolist() == [255, 255, 255]
    assert out[0, :, 0, 1].tolist() == [40, 70, 230]
    assert out[0, :, 0, 2].tolist() == [round(255 * (1 - 128 / 255) + 40 * 128 / 255),
                                        round(255 * (1 - 128 / 255) + 70 * 128 / 255),
                                        round(255 * (1 - 128 / 255) + 230 * 128 / 255)]


def test_folder_layouts_load_and_refuse_bad_ones(tmp_path):
    # paired: A|B side by side
    paired = tmp_path / "paired" / "train"
    paired.mkdir(parents=True)
    for i in range(3):
        arr = np.zeros((8, 16, 3), np.uint8)
        arr[:, 8:] = 255  # B is white, A black
        Image.fromarray(arr).save(paired / f"{i}.png")
    ds = build_dataset(DataConfig(name="paired-folder", root=str(tmp_path / "paired"), image_size=8))
    assert len(ds) == 3 and ds.a.max() == 0 and ds.b.min() == 255
    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(paired / "bad.png")
    with pytest.raises(DataError, match=r"bad.png is 12x8; a paired image must be twice as wide"):
        build_dataset(DataConfig(name="paired-folder", root=str(tmp_path / "paired")))
    # unpaired: CycleGAN layout, a missing side is named
    root = tmp_path / "unpaired"
    _write_images(root / "trainA", 4)
    _write_images(root / "trainB", 5, color=(40, 40, 200))
    ds = build_dataset(DataConfig(name="unpaired-folder", root=str(root), image_size=8))
    assert (len(ds.a), len(ds.b), ds.shape) == (4, 5, (3, 8, 8))
    with pytest.raises(DataError, match=r"testB"):
        _write_images(root / "testA", 2)
        build_dataset(DataConfig(name="unpaired-folder", root=str(root), split="test"))
    # domains: one folder each; an empty one is named
    doms = tmp_path / "domains"
    _write_images(doms / "cats", 3)
    _write_images(doms / "dogs", 2, color=(40, 200, 40))
    ds = build_dataset(DataConfig(name="domain-folder", root=str(doms), image_size=8))
    assert ds.attributes == (("domain", ("cats", "dogs")),) and ds.y[:, 0].tolist() == [0, 0, 0, 1, 1]
    (doms / "owls").mkdir()
    with pytest.raises(DataError, match=r"domain folder .*owls has no PNG/JPEG images"):
        build_dataset(DataConfig(name="domain-folder", root=str(doms)))


# ----------------------------------------------------------------------------- networks


def test_patchgan_receptive_field_is_the_papers_and_is_exact():
    assert [patch_receptive_field(n) for n in (1, 2, 3, 4, 5)] == [16, 34, 70, 142, 286]  # pix2pix's 16/70/286
    assert patch_layers(256) == 3 and patch_layers(32) == 1 and patch_layers(64) == 1
    cfg = load_config(None, ["d.name=patchgan", "d.width=4", "d.blocks=2", "d.batch_norm=false"])
    d = build_patch_discriminator(cfg.d, (1, 64, 64)).double()
    x = torch.randn(1, 1, 64, 64, dtype=torch.double, requires_grad=True)
    out = d(x)
    i = out.shape[-1] // 2
    (grad,) = torch.autograd.grad(out[0, 0, i, i], x)
    rows = torch.nonzero(grad[0, 0].abs().sum(1)).flatten()
    cols = torch.nonzero(grad[0, 0].abs().sum(0)).flatten()
    assert int(rows.max() - rows.min()) + 1 == 34 and int(cols.max() - cols.min()) + 1 == 34


def test_unet_depth_scales_and_skips_carry_the_input():
    assert unet_levels(256) == 8 and unet_levels(32) == 5
    cfg = load_config(None, ["g.name=unet", "g.width=4", "g.batch_norm=false"])
    g = build_translator(cfg.g, 2, 3, 32)
    assert len(g.down) == 5 and g(torch.randn(2, 2, 32, 32)).shape == (2, 3, 32, 32)
    # the outermost skip: changing one input pixel changes the output near it through the first level
    x = torch.randn(1, 2, 32, 32, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    (grad,) = torch.autograd.grad(g(x)[0, :, 10, 10].sum(), x)
    assert grad[0, :, 9:12, 9:12].abs().sum() > 0


def test_constant_label_maps_reach_the_output_only_with_zero_padding():
    """Why StarGAN's G is zero-padded: under reflection padding, a constant input map adds a constant to
    every output of the first convolution, which the instance norm after it subtracts again."""
    from gankit.nets.conditional import concat_labels

    cfg = load_config(None, ["g.name=resnet-translator", "g.width=4", "g.blocks=1", "g.norm=instance"])
    x = torch.randn(1, 3, 12, 12)
    y1, y2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    for padding, differs in (("reflect", False), ("zeros", True)):
        torch.manual_seed(0)
        g = build_translator(cfg.g, 5, 3, 12, padding=padding)
        gap = (g(concat_labels(x, y1)) - g(concat_labels(x, y2))).abs().max().item()
        assert (gap > 1e-3) == differs, (padding, gap)


def test_translation_nets_refuse_latents_and_bad_sizes(tmp_path):
    with pytest.raises(ConfigError, match="network 'unet' maps images to images"):
        train(load_config(None, ["g.name=unet", "train.steps=1"]), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()
    with pytest.raises(ConfigError, match="divisible by 4"):
        build_translator(load_config(None, ["g.name=resnet-translator"]).g, 1, 1, 30)
    with pytest.raises(ConfigError, match="g.name = dcgan cannot translate images"):
        build_translator(load_config(None).g, 1, 1, 32)


# ----------------------------------------------------------------------------- recipes


def test_history_pool_fills_then_mixes_old_and_new():
    torch.manual_seed(0)
    pool = HistoryPool(4, (1, 2, 2))
    first = torch.arange(4.0)[:, None, None, None].expand(4, 1, 2, 2)
    assert torch.equal(pool.query(first), first) and int(pool.filled) == 4  # filling: returned as given
    new = (10 + torch.arange(400.0))[:, None, None, None].expand(400, 1, 2, 2)
    out = pool.query(new)
    swapped = out[:, 0, 0, 0] != new[:, 0, 0, 0]
    assert 0.4 < swapped.float().mean() < 0.6  # half the time an older image comes back...
    assert set(out[swapped, 0, 0, 0].tolist()) <= set(range(4)) | set(range(10, 410))
    # ...and the new one takes its place: the pool holds every image once, returned or stored
    assert sorted(out[:, 0, 0, 0].tolist() + pool.images[:, 0, 0, 0].tolist()) == list(range(4)) + list(range(10, 410))
    assert torch.equal(HistoryPool(0, (1, 2, 2)).query(first), first)


def _train_tiny(tmp_path, name, overrides):
    cfg = load_config(name, TINY + overrides)
    return train(cfg, tmp_path / name, progress=False, tensorboard=False)


@needs_fashion
def test_pix2pix_trains_logs_both_terms_and_translates(tmp_path):
    run = _train_tiny(tmp_path, "edges2fashion-pix2pix", TINY_G + ["g.blocks=3"])
    rows = run.metrics()
    assert {"d_loss", "g_gan", "g_l1"} <= set(rows[-1])
    assert (run.path / "samples" / "final.png").exists()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    assert run.translate(x).shape == (3, 1, 32, 32)
    with pytest.raises(ConfigError, match="translates AtoB only, not BtoA"):
        run.translate(x, direction="BtoA")
    with pytest.raises(ConfigError, match="has no latent; use `gankit translate`"):
        run.sample(4)


@needs_fashion
def test_pix2pix_l1_only_baseline_has_no_discriminator(tmp_path):
    run = _train_tiny(tmp_path, "edges2fashion-pix2pix", TINY_G + ["g.blocks=3", "translate.gan_weight=0"])
    assert set(run.recipe().nets) == {"g"}
    assert "d_loss" not in run.metrics()[-1] and "g_l1" in run.metrics()[-1]


def test_pix2pix_loss_is_gan_plus_lambda_l1(tmp_path):
    """The G loss equals the objective's G loss on D(x, G(x)) plus 100 x mean |G(x) - y|, recomputed by hand."""
    from gankit.objectives import build_objective
    from gankit.recipes import DataInfo, build_recipe

    cfg = load_config("edges2fashion-pix2pix", TINY_G + ["g.blocks=3", "d.width=8", "train.n_critic=2"])
    info = DataInfo("image", (1, 32, 32), pairing="paired", source_shape=(1, 32, 32))
    torch.manual_seed(0)
    obj = build_objective(cfg.objective)
    recipe = build_recipe(cfg, info, obj).eval()
    a, b = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1
    recipe.loss("d", (a, b))
    loss, logs = recipe.loss("g", None)
    fake = recipe.nets["g"](a)
    expected = torch.nn.functional.softplus(-recipe.nets["d"](torch.cat([a, fake], 1))).mean() + \
        100 * (fake - b).abs().mean()
    assert torch.allclose(loss, expected, atol=1e-5)


def test_cyclegan_trains_resumes_exactly_with_its_history_pool(tmp_path):
    over = TINY_G + ["data.name=mnist2digits", "train.steps=6", "translate.pool_size=8", "translate.identity_weight=0.5"]
    straight = _train_tiny(tmp_path, "sneaker2boot-cyclegan", over)
    assert {"g_cycle", "g_identity", "d_loss_a", "d_loss_b"} <= set(straight.metrics()[-1])
    from gankit.train import Trainer

    cfg = load_config("sneaker2boot-cyclegan", TINY + over)
    half = Trainer(cfg, tmp_path / "half", progress=False, tensorboard=False)  # stopped after 3 of 6 steps
    for _ in range(3):
        half.train_step()
    half.save_checkpoint()
    half.close()  # a Trainer holds its run directory until fit returns or close is called
    resumer = Trainer(cfg, tmp_path / "half", resume=True, progress=False, tensorboard=False)
    assert int(resumer.recipe.pools["a"].filled) == 8  # the pool is recipe state, restored from the trainer state
    assert torch.equal(resumer.recipe.pools["b"].images, half.recipe.pools["b"].images)
    resumed = resumer.fit()
    a, b = straight.recipe().nets.state_dict(), resumed.recipe().nets.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    assert straight.translate(x, direction="BtoA").shape == (2, 1, 32, 32)


def test_cyclegan_identity_loss_needs_equal_channels(tmp_path):
    from gankit.data.translation import UnpairedDataset
    from gankit.train import Trainer

    ds = UnpairedDataset(torch.zeros(16, 1, 8, 8, dtype=torch.uint8), torch.zeros(16, 3, 8, 8, dtype=torch.uint8), "x")
    cfg = load_config("sneaker2boot-cyclegan", TINY + TINY_G + ["translate.identity_weight=0.5"])
    with pytest.raises(ConfigError, match="identity loss needs A and B with the same channels"):
        Trainer(cfg, tmp_path / "r", dataset=ds, progress=False)
    assert not (tmp_path / "r").exists()


def test_stargan_domain_loss_is_one_cross_entropy_per_attribute(tmp_path):
    from gankit.objectives import build_objective
    from gankit.recipes import DataInfo, build_recipe

    cfg = load_config("colordigits-stargan", TINY + TINY_G)
    info = DataInfo("image", (3, 28, 28), pairing="domains", source_shape=(3, 28, 28), attributes=COLOR_ATTRIBUTES)
    recipe = build_recipe(cfg, info, build_objective(cfg.objective))
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5, 0.0], [0.0, 1.0, 0.0, -2.0, 1.0]])
    y = torch.tensor([[0, 1], [2, 0]])
    p1 = np.exp([2.0, 0, -1]) / np.exp([2.0, 0, -1]).sum()
    p2 = np.exp([0.0, 1, 0]) / np.exp([0.0, 1, 0]).sum()
    q1 = np.exp([0.5, 0]) / np.exp([0.5, 0]).sum()
    q2 = np.exp([-2.0, 1]) / np.exp([-2.0, 1]).sum()
    expected = -(np.log(p1[0]) + np.log(p2[2])) / 2 - (np.log(q1[1]) + np.log(q2[0])) / 2
    assert abs(recipe.domain_loss(logits, y).item() - expected) < 1e-6
    assert recipe.one_hot(y).tolist() == [[1, 0, 0, 0, 1], [0, 0, 1, 1, 0]]


def test_stargan_trains_and_translate_cli_writes_every_domain(tmp_path):
    run = _train_tiny(tmp_path, "colordigits-stargan", TINY_G + ["objective.name=wgan-gp"])  # the paper's loss
    assert {"d_cls", "g_cls", "g_rec", "d_penalty"} <= set(run.metrics()[-1])
    inputs = tmp_path / "in"
    _write_images(inputs, 2, size=(28, 28))
    out = tmp_path / "out"
    assert main(["translate", str(run.path), "--input", str(inputs), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 2 * 5 + 1 and "img000_stroke=blue.png" in names and "sheet.png" in names
    assert Image.open(out / "img000_background=white.png").size == (28, 28)
    assert main(["translate", str(run.path), "--input", str(inputs / "img001.png"), "--out", str(tmp_path / "o2"),
                 "--to", "stroke=green,background=black"]) == 0
    assert sorted(p.name for p in (tmp_path / "o2").iterdir()) == ["img001.png", "sheet.png"]


def test_translate_refusals_are_one_line_and_write_nothing(tmp_path, capsys):
    run = _train_tiny(tmp_path, "colordigits-stargan", TINY_G + ["train.steps=2"])
    inputs = tmp_path / "in"
    _write_images(inputs, 1, size=(28, 28))
    cases = [
        (["--to", "hair=blond"], "attribute 'hair' does not exist; this run has stroke=red|green|blue; background=black|white"),
        (["--to", "stroke=purple"], "stroke='purple' is not a value of stroke"),
        (["--to", "stroke"], "--to takes attr=value pairs"),
        (["--direction", "BtoA"], "--direction is for pix2pix and CycleGAN runs"),
    ]
    for extra, msg in cases:
        out = tmp_path / f"out{len(extra[1])}"
        assert main(["translate", str(run.path), "--input", str(inputs), "--out", str(out)] + extra) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1, err
        assert not any(out.glob("*.png"))
    assert main(["translate", str(run.path), "--input", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # an existing output is never replaced without --overwrite
    out = tmp_path / "keep"
    assert main(["translate", str(run.path), "--input", str(inputs), "--out", str(out), "--to", "stroke=red"]) == 0
    before = (out / "img000.png").read_bytes()
    assert main(["translate", str(run.path), "--input", str(inputs), "--out", str(out), "--to", "stroke=blue"]) == 2
    assert "already exists" in capsys.readouterr().err and (out / "img000.png").read_bytes() == before
    # a run that does not translate
    cfg = load_config(None, ["data.name=digits", "data.image_size=16", "g.width=8", "d.width=8", "latent.dim=8",
                             "train.batch_size=16", "train.steps=1"])
    plain = train(cfg, tmp_path / "plain", progress=False, tensorboard=False)
    assert main(["translate", str(plain.path), "--input", str(inputs), "--out", str(tmp_path / "o3")]) == 2
    assert "does not translate images" in capsys.readouterr().err


def test_recipe_and_data_layout_must_match(tmp_path):
    for over, msg in [
        (["recipe=pix2pix", "g.name=unet", "d.name=patchgan"], "recipe 'pix2pix' trains on paired (A, B) images, but dataset 'digits' holds plain examples"),
        (["data.name=colordigits"], "recipe 'unconditional' trains on plain examples, but dataset 'colordigits' holds images with domain attributes; use recipe stargan"),
        (["recipe=stargan", "data.name=colordigits", "g.name=resnet-translator", "d.name=patchgan", "train.eval_every=2"], "this run translates images: its periodic evaluation is train.eval_metrics=transfer"),
    ]:
        cfg = load_config(None, ["data.name=digits", "data.image_size=16", "train.steps=1", "train.batch_size=8",
                                 "data.limit=16", "g.width=8", "d.width=8", "d.batch_norm=false"] + over)
        with pytest.raises(ConfigError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            train(cfg, tmp_path / "r", progress=False, tensorboard=False)
        assert not (tmp_path / "r").exists()


def test_held_out_scores_of_a_stargan_run(tmp_path):
    """attribute_transfer sends each test image to another domain and reads colours and digits back;
    a barely trained G shows few target colours (the bar's test is slow; this checks the measurement)."""
    from gankit.metrics.classifier import ensure_classifier
    from gankit.metrics.translation import attribute_transfer

    ensure_classifier("mnist5k")
    run = _train_tiny(tmp_path, "colordigits-stargan", TINY_G + ["train.steps=2"])
    s = attribute_transfer(run, "mnist5k", limit=60)
    assert s["n"] == 60 and 0 <= s["attribute_accuracy"] < 0.5 and 0 <= s["digit_accuracy"] <= 1


@needs_fashion
def test_held_out_scores_of_a_pix2pix_run(tmp_path):
    from gankit.metrics.classifier import ensure_classifier
    from gankit.metrics.translation import held_out, paired_scores

    ensure_classifier("mnist5k")  # any 1-channel classifier gives features; the bar uses fashion-mnist's
    run = _train_tiny(tmp_path, "edges2fashion-pix2pix", TINY_G + ["g.blocks=3"])
    s = paired_scores(run, "mnist5k", limit=50, dropout=False)
    a, b = held_out(run, 50).fixed_batch(50)
    assert s["n"] == 50 and abs(s["l1"] - float((run.translate(a, dropout=False) - b).abs().mean())) < 1e-6
    assert s["fid"] > 0


def test_recipes_train_on_the_users_folders(tmp_path):
    """cyclegan on CycleGAN's folder layout and stargan on one folder per domain, then `gankit translate`."""
    root = tmp_path / "unpaired"
    _write_images(root / "trainA", 8)
    _write_images(root / "trainB", 8, color=(40, 40, 200))
    data = ["data.image_size=8", "data.channels=3", "train.batch_size=4"]
    cyc = _train_tiny(tmp_path, "sneaker2boot-cyclegan", TINY_G + data + ["data.name=unpaired-folder",
                                                                          f"data.root={root}"])
    assert cyc.info.shape == (3, 8, 8) and (cyc.path / "samples" / "final.png").exists()
    doms = tmp_path / "domains"
    _write_images(doms / "red", 6)
    _write_images(doms / "blue", 6, color=(40, 40, 200))
    star = _train_tiny(tmp_path, "colordigits-stargan", TINY_G + data + ["data.name=domain-folder", f"data.root={doms}",
                                                                         "d.blocks=1"])
    assert star.info.attributes == (("domain", ("blue", "red")),)
    out = tmp_path / "out"
    assert main(["translate", str(star.path), "--input", str(doms / "red"), "--out", str(out), "--to", "domain=blue"]) == 0
    assert len(list(out.glob("img*.png"))) == 6


def test_translation_runs_report_their_transfer_during_training_and_in_gankit_eval(tmp_path, capsys):
    """train.eval_every with train.eval_metrics=transfer scores a StarGAN run on held-out colordigits as the dataset
    declares (attribute and digit accuracy) at every eval step, in metrics.jsonl and eval/*.json, and keeps the best
    checkpoint by it; gankit eval --metrics transfer gives the same numbers; other metrics are refused in one line."""
    from gankit.metrics.classifier import ensure_classifier
    from gankit.metrics.translation import attribute_transfer

    ensure_classifier("mnist5k")
    run = _train_tiny(tmp_path, "colordigits-stargan", TINY_G + ["train.eval_every=2", "train.eval_metrics=transfer",
                                                                "train.eval_n=60"])
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/attribute_accuracy" in r]
    assert [r["step"] for r in evals] == [2, 4]
    want = attribute_transfer(run, "mnist5k", limit=60)
    assert evals[-1]["eval/attribute_accuracy"] == pytest.approx(want["attribute_accuracy"])
    assert evals[-1]["eval/digit_accuracy"] == pytest.approx(want["digit_accuracy"])
    best = json.loads((run.path / "checkpoints" / "best.json").read_text())
    assert best["metric"] == "attribute_accuracy"
    capsys.readouterr()
    assert main(["eval", str(run.path), "--metrics", "transfer", "--n", "60"]) == 0
    report = json.loads((run.path / "eval" / "step_0000004_transfer.json").read_text())
    assert report["scores"]["attribute_accuracy"] == pytest.approx(want["attribute_accuracy"])
    assert main(["eval", str(run.path), "--metrics", "fid"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "translates images: score it with --metrics transfer" in err


def test_transfer_is_refused_for_latent_runs_and_for_data_gankit_cannot_judge(tmp_path, capsys):
    with pytest.raises(ConfigError, match="eval_metrics=transfer scores runs that translate images"):
        train(load_config("mnist-dcgan", ["data.name=digits", "data.image_size=16", "train.eval_every=2",
                                          "train.eval_metrics=transfer"]), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()
    folder = tmp_path / "domains"
    for domain, color in (("red", (200, 40, 40)), ("blue", (40, 40, 200))):
        _write_images(folder / domain, 6, color=color)
    run = _train_tiny(tmp_path, "colordigits-stargan", TINY_G + ["data.name=domain-folder", f"data.root={folder}",
                                                                "data.image_size=12", "d.blocks=1"])
    capsys.readouterr()
    assert main(["eval", str(run.path), "--metrics", "transfer"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no judge for translations of domain-folder" in err
