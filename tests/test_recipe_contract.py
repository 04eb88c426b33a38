"""The contract every registered recipe keeps, driven by what it declares (its data layout, and the
:class:`~gankit.recipes.base.Sampling` of a built instance). A new recipe is covered the moment it is
registered: it builds, takes a step, checkpoints, resumes bit-identically, samples through ``Run`` as it
declares, and a command it does not declare is refused in one line with exit status 2."""
import pytest
import torch

from gankit import load_config, load_run, train
from gankit.cli import main
from gankit.registry import RECIPES
from gankit.train import Trainer
from gankit.train.checkpoint import read_weights

from conftest import fashion_available, text_extra_available

#: a small dataset of each layout a recipe can declare (``Recipe.pairings``)
DATA = {
    None: ["data.name=digits", "data.image_size=16"],
    "paired": ["data.name=edges2fashion", "data.limit=16"],
    "unpaired": ["data.name=mnist2digits", "data.limit=16"],
    "domains": ["data.name=colordigits", "data.limit=16"],
    "captioned": ["data.name=captioned-mnist5k", "data.limit=16"],
}
#: small networks for each source of samples
NETS = {
    "latent": ["g.width=8", "d.width=8", "latent.dim=8"],
    "image": ["g.name=unet", "g.width=8", "d.name=patchgan", "d.width=8", "d.blocks=2"],
}
STEPS = ["train.steps=2", "train.batch_size=8", "train.log_every=1", "train.sample_every=1",
         "train.checkpoint_every=1", "train.n_samples=8"]


def contract_config(name: str, extra=()):
    cls = RECIPES.get(name)
    return load_config(None, [f"recipe={name}", *DATA[cls.pairings[0]], *NETS[cls.source], *STEPS, *extra])


def recipe_params():
    for name, cls in RECIPES.items():
        marks = []
        if cls.pairings[0] == "paired" and not fashion_available():
            marks.append(pytest.mark.skip(reason="apt-get install dataset-fashion-mnist"))
        if cls.pairings[0] == "captioned" and not text_extra_available():
            marks.append(pytest.mark.skip(reason='pip install -e ".[text]"'))
        yield pytest.param(name, marks=marks, id=name)


def weights(path):
    nets, ema, step, _ = read_weights(path / "checkpoints")
    return nets, ema, step


@pytest.mark.parametrize("name", list(recipe_params()))
def test_every_recipe_keeps_the_contract(name, tmp_path, capsys):
    cfg = contract_config(name, ["train.ema_decay=0.9"])
    straight = train(cfg, tmp_path / "straight", progress=False, tensorboard=False)
    assert (straight.path / "samples" / "final.png").exists()

    class StopsAfterOne(Trainer):
        def train_step(self):
            logs = super().train_step()
            self.request_stop()
            return logs

    StopsAfterOne(cfg, tmp_path / "resumed", progress=False, tensorboard=False).fit()
    assert weights(tmp_path / "resumed")[2] == 1
    Trainer(cfg, tmp_path / "resumed", resume=True, progress=False, tensorboard=False).fit()
    a, b = weights(straight.path), weights(tmp_path / "resumed")
    assert a[2] == b[2] == 2
    for key in a[0]:
        assert torch.equal(a[0][key], b[0][key]), key
    for key in a[1]:
        assert torch.equal(a[1][key], b[1][key]), key

    run = load_run(straight.path)
    declared = run.sampling
    assert run.recipe().step == 2  # a loaded run knows its step
    shape = tuple(run.info.shape)
    refused = []  # commands this run does not declare
    if declared.source == "latent":
        x = run.sample(3, seed=1)
        assert x.shape == (3, *shape) and torch.isfinite(x).all()
        assert torch.equal(x, run.sample(3, seed=1))
        if declared.classes:
            k = declared.classes
            labels = torch.arange(k)
            assert run.sample(k, labels=labels).shape == (k, *shape)
            code = run.latent(k, labels=labels)
            assert torch.equal(code[:, declared.class_part.columns].argmax(1), labels)
        else:
            refused.append(["sample", run.path, "--class", "1"])
        if declared.condition == "text":
            caption = run.info.captions[0][0]
            x = run.sample(2, seed=1, texts=[caption])
            assert x.shape == (2, *shape) and torch.equal(x, run.sample(2, seed=1, texts=caption))
        else:
            refused.append(["sample", run.path, "--text", "a caption"])
        if not declared.options:
            refused.append(["sample", run.path, "--opt", "psi=0.5"])
        for code in declared.codes:
            assert main(["traverse", str(run.path), "--code", code, "--rows", "2", "--steps", "3"]) == 0
        if not declared.codes:
            refused.append(["traverse", run.path, "--code", "c1"])
        refused.append(["translate", run.path, "--input", tmp_path, "--out", tmp_path / "o"])
    else:
        c, h, _ = run.recipe().input_shape(declared.directions[0] if declared.directions else None)
        x = torch.rand(2, c, h, h) * 2 - 1
        for direction in declared.directions or (None,):
            y = run.translate(x, direction=direction)
            assert y.shape[0] == 2 and torch.isfinite(y).all()
        refused += [["sample", run.path], ["sample", run.path, "--class", "1"], ["interpolate", run.path],
                    ["traverse", run.path, "--code", "c1"], ["sample", run.path, "--class-grid"]]
    for argv in refused:
        code = main([str(a) for a in argv])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and err.startswith("gankit: error: "), (argv, err)
        assert "Traceback" not in err
