"""One D step for every recipe (issue 17, item 4): every objective, through every recipe that accepts it,
gets its loss, its penalty on exactly the inputs the loss saw, and its after-step hook from the shared
code, whichever family it is."""
import pytest
import torch

from gankit import load_config
from gankit.errors import ConfigError
from gankit.objectives import OBJECTIVES, build_objective, critic_kind
from gankit.registry import RECIPES
from gankit.train import Trainer

from test_recipe_contract import contract_config, recipe_params


def takes_a_penalty(objective: str) -> bool:
    """False for the objectives that bring their own constraint on D and refuse the generic penalties."""
    try:
        build_objective(load_config(None, [f"objective.name={objective}", "objective.penalty=gp"]).objective)
    except ConfigError:
        return False
    return True


def pairs():
    for param in recipe_params():
        name = param.values[0]
        for objective in OBJECTIVES.names():
            cls = RECIPES.get(name)
            if critic_kind(objective) in cls.critics and (OBJECTIVES.get(objective).separable or not cls.separable_only):
                yield pytest.param(name, objective, marks=param.marks, id=f"{name}-{objective}")


@pytest.mark.parametrize("recipe,objective", list(pairs()))
def test_every_objective_gets_the_shared_d_step_in_every_recipe(recipe, objective, tmp_path):
    scalar = critic_kind(objective) == "scalar"
    clips = "objective.clip" in OBJECTIVES.get(objective).options  # the weight-clipping critics
    extra = [f"objective.name={objective}", "d.batch_norm=false", "train.n_critic=2", "tricks.instance_noise=0.1"]
    extra += ["objective.clip=0.003"] if clips else []
    penalised_loss = scalar and takes_a_penalty(objective)
    if penalised_loss:
        extra.append("objective.penalty=gp")  # a penalty for every critic that takes one, to see that it applies
    cfg = contract_config(recipe, extra)
    with Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False) as t:
        critics = [p for ph in t.recipe.phases() for p in ph.critics]
        if not critics:  # no D at all (GMMN): nothing to check
            assert objective == "gmmn"
            return
        noised, penalised, hooked = [], [], []
        d_input = t.recipe.d_input

        def spy_input(x):
            out = d_input(x)
            noised.append(out)
            return out

        # every objective the recipe plays its critics with (one for most families; one per level for LAPGAN)
        objectives = {id(o): o for ph in t.recipe.phases() if ph.critics for o, _ in t.recipe.critic_objectives(ph)}

        def spy(obj):
            regularizer, after = obj.regularizer, obj.after_d_step

            def spy_regularizer(d, real, fake):
                penalised.append((real, fake))
                return regularizer(d, real, fake)

            def spy_after(modules):
                hooked.append(modules)
                return after(modules)

            obj.regularizer, obj.after_d_step = spy_regularizer, spy_after

        for obj in objectives.values():
            spy(obj)
        t.recipe.d_input = spy_input
        logs = t.train_step()

    # the hook follows every D update, called by the trainer, on every critic of the phase exactly once (a phase
    # with a cadence, such as StyleGAN's lazy R1, runs at step 0)
    assert sorted(id(m) for modules in hooked for m in modules) == \
        sorted(id(t.recipe.nets[n]) for ph in t.recipe.phases() for n in ph.critics for _ in range(ph.repeat))
    assert penalised, "the objective's regularizer was never asked"
    seen = {id(x) for x in noised}
    for real, fake in penalised:  # the penalty judged exactly the (noised) inputs of the loss
        assert id(real) in seen and id(fake) in seen
    if penalised_loss:
        penalties = [v for k, v in logs.items() if k.rpartition("/")[2].startswith("d_penalty")]  # "level1/d_penalty"
        assert penalties and all(float(p) > 0 for p in penalties)
    if clips:
        for name in critics:
            for p in t.recipe.nets[name].parameters():
                assert float(p.detach().abs().max()) <= 0.003 + 1e-7, (name, objective)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in logs.values())


def _tiny_recipe(tmp_path, objective):
    t = Trainer(contract_config("unconditional", [f"objective.name={objective}", "d.batch_norm=false"]),
                tmp_path / objective, progress=False, tensorboard=False)
    t.close()
    return t.recipe


def test_weighted_fake_terms_follow_the_matching_aware_formula(tmp_path):
    """GAN-INT-CLS (Reed et al. 2016, Algorithm 1): L_D = log D(x, h) + (log(1 - D(x, h')) + log(1 - D(x', h))) / 2,
    here with D's own judge for each kind; with ns the terms are softplus(-r) and softplus(f)."""
    import torch.nn.functional as F

    recipe = _tiny_recipe(tmp_path, "ns")
    torch.manual_seed(0)
    real, fake, wrong = (torch.randn(4, *recipe.info.shape) for _ in range(3))
    loss, logs, _ = recipe.d_step(real, fake, recipe.judge, fake_weight=0.5, extra_fakes=((wrong, 0.5),))
    d = recipe.judge
    expected = F.softplus(-d(real)).mean() + 0.5 * F.softplus(d(fake)).mean() + 0.5 * F.softplus(d(wrong)).mean()
    assert torch.allclose(loss, expected, atol=1e-6)
    assert torch.allclose(recipe.d_step(real, fake, d)[0], recipe.objective.d_loss(d(real), d(fake)))


def test_objectives_that_do_not_separate_are_refused_for_weighted_fakes(tmp_path):
    recipe = _tiny_recipe(tmp_path, "fisher")
    x = torch.randn(4, *recipe.info.shape)
    with pytest.raises(ConfigError, match="objective 'fisher' does not split into a real and a fake term.*ns"):
        recipe.d_step(x, x, recipe.judge, extra_fakes=((x, 0.5),))


@pytest.mark.parametrize("objective,attribute", [("began", "_balance"), ("fisher", "_constraint")])
def test_stateful_objectives_average_their_statistics_through_the_sync_hook(objective, attribute):
    from gankit.objectives import build_objective

    obj = build_objective(load_config(None, [f"objective.name={objective}"]).objective)
    setattr(obj, attribute, 0.25)
    obj.sync(lambda t: (t + 0.75) / 2)  # as if a second process had 0.75
    assert getattr(obj, attribute) == pytest.approx(0.5)


def test_magan_syncs_its_window_sums():
    from gankit.objectives import build_objective

    obj = build_objective(load_config(None, ["objective.name=magan"]).objective)
    obj._pending = (2.0, 6.0, 4)
    obj.sync(lambda t: t / 2)
    assert obj._pending == (1.0, 3.0, 2.0)
    stateless = build_objective(load_config(None, ["objective.name=ns"]).objective)
    stateless.sync(lambda t: 1 / 0)  # nothing to average: never called
