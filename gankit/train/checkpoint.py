"""Checkpoints: network weights (and their EMA) as safetensors, trainer state with weights_only loading.

``checkpoints/last.safetensors`` holds ``nets.<name>.<param>`` and ``ema.<name>.<param>`` tensors and,
as metadata, the step and the data description needed to rebuild the networks without the
dataset. ``checkpoints/last.state.pt`` holds the step, optimisers, schedulers, objective state,
the data stream's position and every RNG. Both carry the step.

The pair is written so that a kill at any instant leaves a complete checkpoint (the new one or the
previous one): the new state goes to ``last.state-<step>.pt`` first, then the weights replace
``last.safetensors`` (the commit point), then the state file is renamed to ``last.state.pt``. A reader
takes the weights' step and finds its state in ``last.state.pt`` or, after a kill between the last two
renames, in ``last.state-<step>.pt``; :func:`tidy` settles such a pair when a run is resumed. Nothing
non-finite is ever written: :func:`first_nonfinite` is checked first.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Optional

import torch

from ..errors import CheckpointError, RunDirError
from ..io import atomic_path, fsync_dir, load_state, load_tensors, save_state, save_tensors
from ..data.info import DataInfo

WEIGHTS = "last.safetensors"
STATE = "last.state.pt"


def _weights(d: Path, prefix: str) -> Path:
    return d / f"{prefix}.safetensors"


def _state(d: Path, prefix: str) -> Path:
    return d / f"{prefix}.state.pt"


def _pending(d: Path, prefix: str, step: int) -> Path:
    return d / f"{prefix}.state-{step}.pt"


def first_nonfinite(named: Iterable[tuple[str, object]]) -> Optional[str]:
    """The name of the first floating-point tensor (inside nested dicts / lists too) holding NaN or inf."""
    for name, value in named:
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                return name
        elif isinstance(value, dict):
            bad = first_nonfinite((f"{name}.{k}", v) for k, v in value.items())
            if bad:
                return bad
        elif isinstance(value, (list, tuple)):
            bad = first_nonfinite((f"{name}.{i}", v) for i, v in enumerate(value))
            if bad:
                return bad
    return None


def weight_tensors(nets, ema=None) -> dict:
    tensors = {f"nets.{k}": v for k, v in nets.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    return tensors


def save_pair(d: Path, step: int, state: dict, tensors: dict, info: DataInfo, prefix: str = "last") -> None:
    """Write one checkpoint (state + weights) so that a kill at any instant leaves a complete one."""
    pending = _pending(d, prefix, step)
    save_state(pending, state)
    meta = {"step": str(step), "data_info": json.dumps(info.to_json())}
    try:
        save_tensors(_weights(d, prefix), tensors, meta)  # the commit point
    except BaseException:  # a full disk, say: the previous pair stays as it was
        pending.unlink(missing_ok=True)
        raise
    os.replace(pending, _state(d, prefix))
    fsync_dir(d)


def read_weights(ckpt_dir: Path, prefix: str = "last") -> tuple[dict, dict, int, DataInfo]:
    path = _weights(ckpt_dir, prefix)
    if not path.exists():
        raise RunDirError(f"no checkpoint in {ckpt_dir} (expected {path.name}); the run has not saved one yet")
    tensors, meta = load_tensors(path)
    try:
        step = int(meta["step"])
        if step < 0:
            raise ValueError("a negative step")
        info = DataInfo.from_json(json.loads(meta["data_info"]))
    except (KeyError, TypeError, ValueError) as e:
        reason = f"no {e}" if isinstance(e, KeyError) else str(e).splitlines()[0][:200]
        raise CheckpointError(f"{path} is corrupt or not a gankit checkpoint (its metadata: {reason}); "
                              "restore it from a copy or train the run again") from None
    nets = {k[5:]: v for k, v in tensors.items() if k.startswith("nets.")}
    ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
    if len(nets) + len(ema) != len(tensors):
        odd = next(k for k in tensors if not k.startswith(("nets.", "ema.")))
        raise CheckpointError(f"{path} is corrupt or not a gankit checkpoint (unexpected tensor {odd!r})")
    return nets, ema, step, info


def copy_as_best(ckpt_dir: Path) -> None:
    """checkpoints/best.* := checkpoints/last.*, with the same kill-safe order as :func:`save_pair`."""
    nets, ema, step, _ = read_weights(ckpt_dir)
    state = _state(ckpt_dir, "last")
    pending = _pending(ckpt_dir, "best", step)
    with atomic_path(pending) as tmp:
        tmp.write_bytes(state.read_bytes())
    with atomic_path(_weights(ckpt_dir, "best")) as tmp:
        tmp.write_bytes(_weights(ckpt_dir, "last").read_bytes())
    os.replace(pending, _state(ckpt_dir, "best"))
    fsync_dir(ckpt_dir)


def tidy(ckpt_dir: Path) -> None:
    """Settle pairs that a kill interrupted: the pending state of the weights' step becomes the pair's state
    file; states of steps that never got their weights are deleted. Called with the run's lock held."""
    for prefix in ("last", "best"):
        pending = [f for f in ckpt_dir.glob(f"{prefix}.state-*.pt")
                   if f.name[len(prefix) + 7 : -3].isdigit() and f.is_file()]  # only names save_pair writes
        if not pending:
            continue
        step = read_weights(ckpt_dir, prefix)[2] if _weights(ckpt_dir, prefix).exists() else None
        for f in pending:
            if step is not None and f.name == _pending(ckpt_dir, prefix, step).name:
                os.replace(f, _state(ckpt_dir, prefix))
            else:
                f.unlink(missing_ok=True)
    fsync_dir(ckpt_dir)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def read_trainer_state(ckpt_dir: Path, step: int) -> dict:
    """The trainer state of the weights' ``step``: ``last.state.pt``, or the pending state a kill left."""
    path, pending = _state(ckpt_dir, "last"), _pending(ckpt_dir, "last", step)
    if path.exists():
        state = load_state(path)
        if int(state["step"]) == step:
            return state
    if pending.exists():
        state = load_state(pending)
        if int(state["step"]) == step:
            return state
    if not path.exists():
        raise RunDirError(f"{path} is missing; the run cannot be resumed exactly (its weights can still be sampled)")
    raise RunDirError(f"{ckpt_dir}: weights are at step {step} but trainer state at {state['step']}; "
                      "the files come from different checkpoints (its weights can still be sampled)")
