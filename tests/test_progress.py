"""Progress off a terminal is a plain line at a steady rate; the quality line that ends a run."""
import io
import json
import os
import subprocess

from gankit.train.progress import PlainProgress, format_duration, progress_bar


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_plain_progress_prints_one_line_per_interval_and_a_last_one():
    out, clock = io.StringIO(), Clock()
    bar = PlainProgress(1000, 0, "run", stream=out, interval=30, clock=clock)
    for _ in range(1000):
        clock.t += 0.1  # 10 steps/s: 100 s in all
        bar.update(1)
        bar.set_postfix({"D": "0.500", "G": "1.000"})
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # at 30, 60 and 90 s, then the last
    assert lines[0].startswith("run step 300/1000 (30 %)  D 0.500 G 1.000  10.0 step/s  ETA 1m10s")
    assert lines[-1].endswith("took 1m40s") and "\r" not in out.getvalue()


def test_a_resumed_bar_counts_its_rate_from_where_it_started():
    out, clock = io.StringIO(), Clock()
    bar = PlainProgress(100, 60, "r", stream=out, interval=5, clock=clock)
    for _ in range(10):
        clock.t += 1
        bar.update(1)
    assert "r step 65/100 (65 %)" in out.getvalue() and "1.0 step/s  ETA 35s" in out.getvalue()


def test_bar_kind_follows_the_stream():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert type(progress_bar(10, 0, "x", stream=io.StringIO())).__name__ == "PlainProgress"
    from tqdm import tqdm

    assert isinstance(progress_bar(10, 0, "x", stream=Tty()), tqdm)
    silent = progress_bar(10, 0, "x", enabled=False, stream=io.StringIO())
    silent.update(5)
    silent.close()
    assert format_duration(3725) == "1h02m05s" and format_duration(59.6) == "1m00s"


def test_training_into_a_pipe_writes_lines_not_carriage_returns(tmp_path, tiny_overrides):
    env = {**os.environ, "GANKIT_CACHE": str(tmp_path / "cache")}
    r = subprocess.run(["gankit", "train", "--runs", str(tmp_path), "--name", "t", *tiny_overrides],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr
    assert "t step 6/6 (100 %)" in r.stderr  # the closing line
    # digits has labels but no shipped classifier: the run says how to get its quality line
    assert "gankit classifier train digits" in r.stderr
    assert not (tmp_path / "t" / "quality.json").exists()


def test_quality_line_of_an_mnist5k_run_agrees_with_the_classifier(tmp_path, monkeypatch):
    """The shipped mnist5k classifier scores the run's EMA samples: quality.json's confident share and class
    spread equal a direct computation with predict_classes' network on the same samples."""
    import torch

    from gankit import load_config, train
    from gankit.data.base import from_bytes, quantise
    from gankit.metrics.classifier import ClassifierBackbone, SHIPPED_DIR

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))  # the shipped weights, not a user's
    assert (SHIPPED_DIR / "classifier-mnist5k.safetensors").exists()
    cfg = load_config(None, ["g.width=8", "d.width=8", "train.steps=4", "train.batch_size=16",
                             "train.quality_n=300", "train.sample_every=100"])
    run = train(cfg, tmp_path / "r", progress=False, tensorboard=False)
    q = json.loads((run.path / "quality.json").read_text())
    x = from_bytes(quantise(run.sample(300, seed=0)))  # scored as 8-bit images, as gankit eval scores them
    bb = ClassifierBackbone("mnist5k")
    with torch.no_grad():
        p = bb.net(bb.prepare(x))[1].double().softmax(1)
    hist = torch.bincount(p.argmax(1), minlength=10) / 300
    assert q["n"] == 300 and q["step"] == 4
    assert abs(q["confident"] - float((p.max(1).values >= 0.9).double().mean())) < 1e-9
    assert abs(q["rarest"] - float(hist.min())) < 1e-9 and abs(q["commonest"] - float(hist.max())) < 1e-9
    assert q["real_confident"] > 0.95 and q["fid_classifier"] > 0  # real digits: 97.6 % (5,000, all split)
    assert q["classifier_test_accuracy"] >= 0.98
