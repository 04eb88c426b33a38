import pytest
import yaml

from gankit.config import Config, config_from_dict, load_config, parse_overrides, preset_names
from gankit.errors import ConfigError

REQUIRED_PRESETS = {"ring-ns", "ring-wgan-gp", "mnist-mlp-gan", "mnist-dcgan", "fashion-dcgan",
                    "fashion-wgan-gp", "fashion-lsgan"}


def test_required_presets_exist_and_validate():
    assert REQUIRED_PRESETS <= set(preset_names())
    for name in preset_names():
        cfg = load_config(name)
        assert cfg.name == name


def test_overrides_are_typed():
    cfg = load_config("mnist-dcgan", ["train.steps=12", "optim.d.type=sgd", "optim.d.lr=1e-3",
                                      "optim.g.betas=0.0,0.9", "g.spectral_norm=true", "data.limit=none",
                                      "train.grad_clip=5"])
    assert cfg.train.steps == 12 and isinstance(cfg.train.steps, int)
    assert cfg.optim["d"].type == "sgd" and cfg.optim["d"].lr == 1e-3
    assert cfg.optim["g"].betas == (0.0, 0.9)
    assert cfg.g.spectral_norm is True and cfg.data.limit is None and cfg.train.grad_clip == 5.0


@pytest.mark.parametrize("override,fragment", [
    (["train.stpes=5"], "unknown config key 'train.stpes' (did you mean 'train.steps'?)"),
    (["optim.d.lrr=5"], "did you mean 'optim.d.lr'?"),
    (["objectve.name=ns"], "did you mean 'objective"),
    (["train.steps=abc"], "train.steps must be an integer, got 'abc'"),
    (["train.steps=0"], "train.steps = 0 must be >= 1"),
    (["objective.name=wgangp"], "unknown objective 'wgangp' (did you mean 'wgan-gp'?)"),
    (["latent.dist=normal"], "latent.dist = 'normal' is not allowed"),
    (["g.batch_norm=maybe"], "g.batch_norm must be true or false"),
    (["train.device=gpu"], "train.device = 'gpu' is not a device"),
    (["optim.g.betas=0.5"], "optim.g.betas must be 2 comma-separated values"),
    (["steps"], "must look like key=value"),
    (["data.name=cifar10"], "unknown dataset 'cifar10'"),
    (["train.eval_metrics=fid,kdi"], "unknown metric 'kdi' (did you mean 'kid'?)"),
    (["train.eval_backbone=inceptoin"], "unknown backbone 'inceptoin' (did you mean 'inception'?)"),
])
def test_bad_overrides_name_the_key(override, fragment):
    with pytest.raises(ConfigError) as e:
        load_config("mnist-dcgan", override)
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


def test_unknown_preset_suggests_closest():
    with pytest.raises(ConfigError, match="unknown preset 'mnist-dcgn' \\(did you mean 'mnist-dcgan'\\?\\)"):
        load_config("mnist-dcgn")


def test_resolved_config_round_trips_through_yaml():
    cfg = load_config("fashion-wgan-gp", ["train.seed=7", "optim.d.type=sgd"])
    again = config_from_dict(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg


def test_yaml_file_as_preset(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("data: {name: ring8}\ng: {name: mlp}\nd: {name: mlp}\ntrain: {steps: 7}\n")
    cfg = load_config(str(p))
    assert cfg.train.steps == 7 and cfg.data.name == "ring8"
    p.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(p))


def test_parse_overrides_nests():
    assert parse_overrides(["a.b=1", "a.c=x"]) == {"a": {"b": "1", "c": "x"}}


def test_new_optimiser_group_starts_from_defaults():
    cfg = load_config(None, ["optim.q.lr=1e-3"])
    assert cfg.optim["q"].lr == 1e-3 and cfg.optim["q"].type == "adam"
    assert set(cfg.optim) == {"g", "d", "q"}


def test_defaults_are_a_valid_config():
    assert isinstance(load_config(), Config)


@pytest.mark.parametrize("argv,fragment", [
    (["g.name=mlp", "g.fc=1024"], "g.fc is read by network 'dcgan', not by g.name = mlp"),
    (["g.blocks=3"], "g.blocks is read by network 'resnet-translator' / 'unet', not by g.name = dcgan"),
    (["cond.categorical=5"], "cond.categorical is read by recipe 'infogan', not by this run's recipe 'unconditional'"),
    (["translate.l1_weight=7"], "translate.l1_weight is read by recipe 'pix2pix'"),
    (["objective.margin=3"], "objective.margin is read by objective 'ebgan', not by this run's objective 'hinge'"),
    (["objective.name=wgan-gp", "objective.clip=0.1"], "objective.clip is read by objective"),
    (["d.name=patchgan", "d.minibatch_std=true"], "d.minibatch_std is read by the discriminator of network"),
    (["g.minibatch_std=true"], "read by discriminators only; did you mean d.minibatch_std?"),
])
def test_settings_no_chosen_component_reads_are_refused(capsys, argv, fragment):
    from gankit.cli import main

    assert main(["train", "--dry-run", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err


def test_settings_the_chosen_components_read_are_accepted(capsys):
    from gankit.cli import main

    assert main(["train", "--dry-run", "recipe=infogan", "cond.categorical=5", "objective.name=ebgan",
                 "objective.margin=3", "d.minibatch_std=true", "g.fc=64"]) == 0


def test_list_name_shows_a_components_own_settings(capsys):
    from gankit.cli import main

    assert main(["list", "infogan"]) == 0
    out = capsys.readouterr().out
    assert "recipe infogan" in out and "cond.categorical = 10" in out and "cond.q_optimizer = g" in out
    assert main(["list", "dcgan"]) == 0
    assert "d.minibatch_std = False" in capsys.readouterr().out
    assert main(["list", "wgan-gpp"]) == 2
    assert "(did you mean 'wgan-gp'?)" in capsys.readouterr().err


def test_a_new_family_adds_its_settings_from_its_own_module(capsys, tmp_path):
    """register_section: a component's options become a config section without touching gankit/config.py; YAML,
    key=value overrides, type checks, closest-match errors, the saved config.yaml and the owner check all work."""
    from dataclasses import dataclass

    from gankit.cli import main
    from gankit.config import SECTIONS, ranged, register_section

    @register_section("growth", "recipe", "unconditional")
    @dataclass
    class GrowthOptions:
        fade_images: int = ranged(600_000, lo=1)
        final_size: int = 32

    try:
        cfg = load_config(None, ["growth.fade_images=1000"])
        assert cfg.growth.fade_images == 1000 and cfg.growth.final_size == 32
        assert config_from_dict(yaml.safe_load(cfg.to_yaml())).growth.fade_images == 1000
        assert load_config(None).growth.fade_images == 600_000  # defaults when not given
        with pytest.raises(ConfigError, match="growth.fade_images = 0 must be >= 1"):
            load_config(None, ["growth.fade_images=0"])
        with pytest.raises(ConfigError, match=r"unknown config key 'growth.fade_imgs' \(did you mean 'growth.fade_images'\?\)"):
            load_config(None, ["growth.fade_imgs=3"])
        assert main(["train", "--dry-run", "recipe=cgan", "growth.final_size=64"]) == 2
        assert "growth.final_size is read by recipe 'unconditional', not by this run's recipe 'cgan'" in \
            capsys.readouterr().err
        assert main(["list", "unconditional"]) == 0
        assert "growth.fade_images = 600000" in capsys.readouterr().out
    finally:
        SECTIONS.pop("growth")


def test_an_override_that_replaces_a_component_drops_the_presets_settings_of_the_old_one():
    """mnist-dcgan-fc sets g.fc / d.fc, which only the DCGAN family reads: g.name=mlp takes the MLP with its own
    defaults (g.fc goes, d.fc stays), a setting the user gives is still checked, and a recipe switch drops the
    sections the old recipe owned."""
    from gankit.recipes.options import check_settings_are_read

    cfg = load_config("mnist-dcgan-fc", ["g.name=mlp"])
    assert (cfg.g.name, cfg.g.fc, cfg.d.fc, cfg.g.width) == ("mlp", 0, 256, 32)
    check_settings_are_read(cfg)
    with pytest.raises(ConfigError, match="g.fc is read by network 'dcgan', not by g.name = mlp"):
        check_settings_are_read(load_config("mnist-dcgan-fc", ["g.name=mlp", "g.fc=12"]))
    progan = load_config("mnist-progan", ["recipe=unconditional", "g.name=dcgan", "d.name=dcgan"])
    check_settings_are_read(progan)
    assert progan.progan.stable_images == load_config(None, []).progan.stable_images  # the section's defaults
    began = load_config("mnist-dcgan-fc", ["objective.name=began", "objective.gamma=0.7"])
    assert began.objective.gamma == 0.7
    assert load_config("mnist-dcgan-fc", []).g.fc == 256  # no override, nothing dropped
    assert load_config("mnist-dcgan-fc", ["recipe=vae"]).objective.name == "ns"  # no critic: the preset's hinge goes
