"""Progressive GAN's claims (issue 19), measured on the mnist-progan preset over 3 seeds (slow).

Numbers in each docstring: every seed tried, failures included. CPU seconds are the training process's own
(``time.process_time``, both threads counted).
"""
import math

import numpy as np
import pytest

from gankit import load_config, load_run, train
from gankit.metrics.evaluate import evaluate_run
from gankit.train.budget import CpuBudgetTrainer

pytestmark = pytest.mark.slow

SEEDS = (0, 1, 2)
#: the growth of the preset: 250 steps at 4 px, a 250-step fade to 8 px, 250 at 8 px, a fade to 16 px
GROWTH_STEPS = 1000


def gaps(run) -> dict:
    """{training step (0-based): |E D(real) - E D(fake)|} from a run logged every step."""
    return {r["step"] - 1: abs(r["d_real"] - r["d_fake"]) for r in run.metrics() if "d_real" in r}


def transitions(recipe, steps: int) -> list:
    """[(first step of a new level or fade, steps of the stable phase before it)] from the recipe's schedule."""
    out, stable_from = [], 0
    for s in range(1, steps):
        before, now = recipe.lod_at(s - 1), recipe.lod_at(s)
        if before == math.floor(before) and now != before:  # a stable phase ends: a fade or a switch starts
            out.append((s, s - stable_from))
        if now == math.floor(now) and before != now:  # a fade ends
            stable_from = s
    return out


@pytest.fixture(scope="module")
def growth_runs(tmp_path_factory):
    """{(arm, seed): run}: the preset's growth logged every step, faded (as shipped) and abrupt (fade_images=0:
    stable phases of 250 steps, then an instant switch)."""
    root = tmp_path_factory.mktemp("progan")
    runs = {}
    for seed in SEEDS:
        for arm, extra, steps in (("fade", [], GROWTH_STEPS), ("abrupt", ["progan.fade_images=0"], 750)):
            cfg = load_config("mnist-progan", [f"train.seed={seed}", f"train.steps={steps}", "train.log_every=1",
                                               "train.sample_every=100000", *extra])
            runs[arm, seed] = train(cfg, root / f"{arm}{seed}", progress=False, tensorboard=False)
    return runs


def peak_ratios(run, window: int) -> list:
    """Per level change: the largest critic gap over its first ``window`` steps, over the mean gap of the last
    10 % of the stable phase before it."""
    g = gaps(run)
    out = []
    for start, stable in transitions(load_run(run.path).recipe(), max(g) + 1):
        tail = max(1, stable // 10)
        baseline = np.mean([g[s] for s in range(start - tail, start)])
        out.append(max(g[s] for s in range(start, start + window)) / baseline)
    return out


def test_fading_in_does_not_spike_the_critic(growth_runs):
    """Claim 1: over the first 10 % of each fade (25 steps) the critic gap |E D(x) - E D(G(z))| stays within 2x
    its mean over the last 10 % of the stable phase before; an abrupt switch's peak over the same 25 steps exceeds
    the fade's in most seeds.

    Measured on 2026-12-07 (peak / baseline, to 8 px and to 16 px), fade vs abrupt:
    (filled in from the run below)
    """
    window = 25
    rows = {}
    for seed in SEEDS:
        fade = peak_ratios(growth_runs["fade", seed], window)
        abrupt = peak_ratios(growth_runs["abrupt", seed], window)
        rows[seed] = (fade, abrupt)
        print(f"seed {seed}: fade {['%.2f' % r for r in fade]}  abrupt {['%.2f' % r for r in abrupt]}")
    for seed, (fade, abrupt) in rows.items():
        assert len(fade) == len(abrupt) == 2, (seed, fade, abrupt)
        assert max(fade) <= 2.0, (seed, fade)
    worse = sum(a > f for seed in SEEDS for f, a in zip(*rows[seed]))
    assert worse >= 4, rows  # of the 6 level changes (2 per seed)


@pytest.fixture(scope="module")
def budget_runs(tmp_path_factory):
    """{(arm, seed): run} trained for the same CPU seconds: the preset as shipped (progressive) and the same
    networks at 16 px from the first step (fixed: lod 0 after step 0; its EMA from the start)."""
    root = tmp_path_factory.mktemp("budget")
    runs = {}
    for seed in SEEDS:
        for arm, extra in (("progressive", []),
                           ("fixed", ["progan.stable_images=1", "progan.fade_images=0", "train.ema_start=0"])):
            cfg = load_config("mnist-progan", [f"train.seed={seed}", "train.steps=100000",
                                               "train.sample_every=100000", "train.checkpoint_every=100000", *extra])
            t = CpuBudgetTrainer(cfg, root / f"{arm}{seed}", seconds=BUDGET, progress=False, tensorboard=False)
            runs[arm, seed] = t.fit()
    return runs


BUDGET = 240.0


def test_progressive_reaches_lower_swd_and_fid_than_fixed_resolution_at_equal_cpu(budget_runs):
    """Claim 2 (the paper's Table 1, rows a -> b: progressive growing lowers the average SWD, 6.26 -> 4.28 x 1e3 on
    CelebA; and "comparable quality 2-6x faster"): with 240 CPU seconds each, the progressive run's SWD (16 px
    level, against the 500 test digits) and FID (gankit's mnist5k classifier features, 2,000 samples) are lower
    than those of the same networks trained at 16 px from the start, on average over 3 seeds.

    Measured on 2026-12-07:
    (filled in from the run below)
    """
    scores = {}
    for (arm, seed), run in budget_runs.items():
        report = evaluate_run(load_run(run.path), ("fid", "swd"), n=2000, backbone="classifier:mnist5k", seed=seed)
        s = report["scores"]
        scores[arm, seed] = (s["swd"], s["fid_classifier_mnist5k"], run.step)
        print(arm, seed, "swd %.2f fid %.1f steps %d" % scores[arm, seed])
    for k, name in ((0, "swd"), (1, "fid")):
        prog = np.mean([scores["progressive", s][k] for s in SEEDS])
        fixed = np.mean([scores["fixed", s][k] for s in SEEDS])
        assert prog < fixed, (name, prog, fixed, scores)
