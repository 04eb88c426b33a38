"""Issue 4's quality bar (slow): gankit's best toy presets in the PacGAN setup, 5 seeds each.

Scored as in PacGAN (Lin et al. 2018): 2,500 samples; high quality = within 3 std of the nearest mode.
Measured over seeds 0-4 (2,500 samples, one CPU thread each): ring8-pacgan 8/8 modes in every seed with
92.5-95.3 % high quality; grid25-pacgan 20-23 of 25 modes with 91.7-94.9 %; 150-205 s per run.
The issue asks for ring >= 95 % and grid >= 24 modes in 5 of 5 seeds: NOT reached yet. These bars
guard what is reached, a little below the measured minimum to allow for the sampling seed.
"""
import time

import pytest

from gankit import load_config, load_run, train
from gankit.data import build_dataset

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("preset,modes,hq", [("ring8-pacgan", 8, 0.90), ("grid25-pacgan", 19, 0.88)])
def test_best_toy_preset_covers_the_modes_sharply_in_every_seed(tmp_path, preset, modes, hq):
    results = []
    for seed in range(5):
        cfg = load_config(preset, [f"train.seed={seed}"])
        t0 = time.perf_counter()
        train(cfg, tmp_path / f"s{seed}", progress=False, tensorboard=False)
        wall = time.perf_counter() - t0
        x = load_run(tmp_path / f"s{seed}").sample(2500, seed=1000 + seed)
        stats = build_dataset(cfg.data).mode_stats(x)
        results.append((seed, stats["modes_covered"], round(stats["high_quality"], 4), round(wall)))
    print(preset, results)
    assert all(m >= modes and q >= hq for _, m, q, _ in results), results
