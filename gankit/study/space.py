"""The hyperparameter ranges of Lucic et al. 2018 ("Are GANs Created Equal?", sec. 5 and table 3), drawn
through an Optuna trial so that any Optuna sampler can search them.

- ``wide``: lr log-uniform in [1e-5, 1e-2] (G and D share it), Adam beta1 uniform in [0, 1], D updates
  per G update in {1, ..., 5}, batch norm in D on or off;
- ``narrow``: beta1 = 0.5, lr log-uniform in [1e-4, 1e-3], one D update, batch norm as in the preset.
Objectives with a per-example gradient penalty never get batch norm in D (it mixes the examples that the
penalty treats one at a time); the trial records that as a fixed setting.
"""
from __future__ import annotations

SPACES = ("wide", "narrow")


def per_example_penalty(objective: str) -> bool:
    """True when the objective's default penalty is per example (WGAN-GP, DRAGAN, Cramér's GP)."""
    from ..objectives import OBJECTIVES

    cls = OBJECTIVES.get(objective)
    return cls.default_penalty in ("gp", "dragan") or objective == "cramer"


def suggest(trial, space: str, objective: str) -> list[str]:
    """Draw one setting from ``space`` with ``trial`` and return it as config overrides."""
    if space == "wide":
        lr = trial.suggest_float("lr", 1e-5, 1e-2, log=True)
        beta1 = trial.suggest_float("beta1", 0.0, 1.0)
        n_critic = trial.suggest_int("n_critic", 1, 5)
        bn = trial.suggest_categorical("d_batch_norm", [True, False])
    else:
        lr = trial.suggest_float("lr", 1e-4, 1e-3, log=True)
        beta1, n_critic, bn = 0.5, 1, None
    if per_example_penalty(objective):
        bn = False
        trial.set_user_attr("d_batch_norm_fixed", False)
    out = [f"optim.g.lr={lr}", f"optim.d.lr={lr}", f"optim.g.betas={beta1},0.999", f"optim.d.betas={beta1},0.999",
           f"train.n_critic={n_critic}"]
    if bn is not None:
        out.append(f"d.batch_norm={str(bn).lower()}")
    return out
