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


def fade_and_abrupt(growth_runs, window: int = 25) -> dict:
    rows = {}
    for seed in SEEDS:
        rows[seed] = (peak_ratios(growth_runs["fade", seed], window), peak_ratios(growth_runs["abrupt", seed], window))
        print(f"seed {seed}: fade {['%.2f' % r for r in rows[seed][0]]}  abrupt {['%.2f' % r for r in rows[seed][1]]}")
        assert len(rows[seed][0]) == len(rows[seed][1]) == 2, rows[seed]
    return rows


def test_fading_in_spikes_the_critic_less_than_an_abrupt_switch(growth_runs):
    """Claim 1, the comparison: over the 25 steps after each level change (10 % of a fade), the critic gap
    |E D(x) - E D(G(z))| relative to its mean over the last 10 % of the stable phase before peaks higher after an
    abrupt switch (``progan.fade_images=0``) than after the start of a fade, at most level changes.

    Measured on 2026-12-07 (the preset's growth, logged every step; peak / baseline of the critic gap over the 25
    steps after each level change, to 8 px and to 16 px), fade vs abrupt:
        seed 0: fade 1.20, 2.87   abrupt 3.96, 3.30
        seed 1: fade 15.13, 1.54  abrupt 24.52, 6.75
        seed 2: fade 0.86, 4.39   abrupt 0.99, 15.84
    The abrupt switch's peak exceeds the fade's at all 6 level changes; the fade stays within 2x its baseline at only
    3 of 6. The gap itself is noisy and often negative at this learning rate (Adam 1e-3, one critic step per G step:
    the critic lags G, e.g. seed 1 at 4 px ends near 0.03 and the fade to 8 px reaches -0.69 within 25 steps), so a
    ratio to the mean |gap| of a quiet phase can be large without any instability.
    """
    rows = fade_and_abrupt(growth_runs)
    worse = sum(a > f for fade, abrupt in rows.values() for f, a in zip(fade, abrupt))
    assert worse >= 4, rows  # of the 6 level changes (2 per seed)


@pytest.mark.xfail(strict=True, reason="measured not to hold at 3 of 6 level changes; see the docstring")
def test_fading_in_keeps_the_critic_gap_within_twice_its_stable_level(growth_runs):
    """Claim 1, the bound: over the first 10 % of each fade the critic gap stays within 2x its mean over the end of
    the previous stable phase. It does not hold on this preset: measured on 2026-12-07, peak / baseline at the fades
    to 8 px and to 16 px: seed 0: 1.20, 2.87; seed 1: 15.13, 1.54; seed 2: 0.86, 4.39 (3 of 6 within 2x; see the
    comparison test for the abrupt runs and why the ratio is noisy).
    """
    rows = fade_and_abrupt(growth_runs)
    assert all(max(fade) <= 2.0 for fade, _ in rows.values()), rows


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


@pytest.mark.xfail(strict=True, reason="measured not to hold on 16 px MNIST: fixed resolution wins; see the docstring")
def test_progressive_reaches_lower_swd_and_fid_than_fixed_resolution_at_equal_cpu(budget_runs):
    """Claim 2 (the paper's Table 1, rows a -> b: progressive growing lowers the average SWD, 6.26 -> 4.28 x 1e3 on
    CelebA; and "comparable quality 2-6x faster"): with 240 CPU seconds each, the progressive run's SWD (16 px
    level, against the 500 test digits) and FID (gankit's mnist5k classifier features, 2,000 samples) are lower
    than those of the same networks trained at 16 px from the start, on average over 3 seeds.

    Measured on 2026-12-07 (2 quiet cores; SWD x 1e3 / FID / steps reached in 240 CPU seconds):
        seed 0: progressive 50.3 / 477 / 1860   fixed 21.7 / 293 / 1547
        seed 1: progressive 69.2 / 890 / 1940   fixed 32.8 / 398 / 1477
        seed 2: progressive 27.0 / 257 / 1961   fixed 23.3 / 272 / 1472
    It does not hold here: the fixed-resolution run is better on average (SWD 25.9 against 48.8, FID 321 against
    541) and on SWD in every seed. With only two doublings to 16 px the cheap low-resolution phases buy little
    (about 400 more steps in the budget), while the progressive run spends 1,000 of its steps growing and keeps
    only about 900 at 16 px for its EMA (started when the growth ends) to average; the paper's gain is at 128 px
    and above. Seed 1's progressive run is a poor one (FID 890).
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
