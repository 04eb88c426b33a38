"""The command line as a user meets it: commands that work, and one-line errors with exit code 2."""
import subprocess
import sys

import pytest
from PIL import Image

from gankit.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def tiny_run(tmp_path, tiny_overrides, capsys):
    code, out, err = run_cli(capsys, "train", "--run-dir", str(tmp_path / "run"), "--no-progress", *tiny_overrides)
    assert code == 0, err
    return tmp_path / "run"


def assert_one_line_error(code, err, fragment):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_list_shows_every_axis(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for word in ("mnist-dcgan", "ring-wgan-gp", "wgan-gp", "lsgan", "hinge", "dragan", "minimax (gan, mm)",
                 "dcgan", "mlp", "unconditional", "mnist5k", "fashion-mnist", "ring8", "folder"):
        assert word in out, word


def test_train_sample_interpolate_resume(tiny_run, capsys, tmp_path):
    code, out, err = run_cli(capsys, "sample", str(tiny_run), "--n", "9", "--seed", "0", "--out", str(tmp_path / "x.png"))
    assert code == 0, err
    im = Image.open(tmp_path / "x.png")
    assert im.size[0] == im.size[1] and im.size[0] >= 3 * 16
    code, out, err = run_cli(capsys, "interpolate", str(tiny_run), "--pairs", "3", "--steps", "5")
    assert code == 0, err
    assert (tiny_run / "interpolation" / "interpolation.png").exists()
    gif = Image.open(tiny_run / "interpolation" / "interpolation.gif")
    assert gif.n_frames > 10
    code, out, err = run_cli(capsys, "train", "--resume", str(tiny_run), "--no-progress", "train.steps=8")
    assert code == 0, err
    assert "step 8" in out


def test_dry_run_prints_resolved_config(capsys):
    code, out, _ = run_cli(capsys, "train", "--config", "fashion-wgan-gp", "--dry-run", "train.steps=3")
    assert code == 0 and "name: wgan-gp" in out and "steps: 3" in out


@pytest.mark.parametrize("argv,fragment", [
    (["train", "--config", "mnist-dcgn"], "unknown preset 'mnist-dcgn' (did you mean 'mnist-dcgan'?)"),
    (["train", "train.stpes=3"], "did you mean 'train.steps'?"),
    (["train", "optim.d.lr=fast"], "optim.d.lr must be a number, got 'fast'"),
    (["train", "data.name=folder"], "needs data.root"),
    (["sample", "/nonexistent/run"], "not a gankit run directory"),
    (["interpolate", "/nonexistent/run"], "not a gankit run directory"),
    (["train", "--resume", "/nonexistent/run"], "cannot resume /nonexistent/run"),
])
def test_user_errors_are_one_line_exit_2(capsys, argv, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_existing_run_dir_refused_then_overwrite(tiny_run, capsys, tiny_overrides):
    before = (tiny_run / "checkpoints" / "last.safetensors").read_bytes()
    code, _, err = run_cli(capsys, "train", "--run-dir", str(tiny_run), "--no-progress", *tiny_overrides)
    assert_one_line_error(code, err, "already exists; use --resume to continue it, --overwrite to replace it")
    assert (tiny_run / "checkpoints" / "last.safetensors").read_bytes() == before
    code, _, err = run_cli(capsys, "train", "--run-dir", str(tiny_run), "--overwrite", "--no-progress",
                           *tiny_overrides, "train.seed=9")
    assert code == 0, err
    assert (tiny_run / "checkpoints" / "last.safetensors").read_bytes() != before


def test_missing_dataset_says_how_to_get_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "train", "--config", "fashion-dcgan")
    assert_one_line_error(code, err, "apt-get install dataset-fashion-mnist")


def test_unreadable_image_is_named(capsys, tmp_path, monkeypatch):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "train", "data.name=folder", f"data.root={tmp_path / 'imgs'}")
    assert_one_line_error(code, err, "bad.png")


def test_resume_refuses_conflicting_flags(tiny_run, capsys):
    code, _, err = run_cli(capsys, "train", "--resume", str(tiny_run), "--overwrite")
    assert_one_line_error(code, err, "--resume continues a run")


def test_console_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "gankit", "train", "train.steps=-1"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip() == "gankit: error: train.steps = -1 must be >= 1"
