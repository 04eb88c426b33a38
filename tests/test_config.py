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
