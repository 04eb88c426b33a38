"""Checkpoints: network weights (and their EMA) as safetensors, trainer state with weights_only loading.

``checkpoints/last.safetensors`` holds ``nets.<name>.<param>`` and ``ema.<name>.<param>`` tensors and,
as metadata, the step and the data description needed to rebuild the networks without the
dataset. ``checkpoints/last.state.pt`` holds the step, optimisers, schedulers, objective state,
the data stream's position and every RNG. Both carry the step; a mismatch is reported.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import RunDirError
from ..io import load_state, load_tensors, save_state, save_tensors
from ..recipes.base import DataInfo

WEIGHTS = "last.safetensors"
STATE = "last.state.pt"


def save_weights(ckpt_dir: Path, step: int, info: DataInfo, nets, ema=None) -> None:
    tensors = {f"nets.{k}": v for k, v in nets.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    meta = {"step": str(step), "data_info": json.dumps(info.to_json())}
    save_tensors(ckpt_dir / WEIGHTS, tensors, meta)


def read_weights(ckpt_dir: Path) -> tuple[dict, dict, int, DataInfo]:
    path = ckpt_dir / WEIGHTS
    if not path.exists():
        raise RunDirError(f"no checkpoint in {ckpt_dir} (expected {WEIGHTS}); the run has not saved one yet")
    tensors, meta = load_tensors(path)
    info = DataInfo.from_json(json.loads(meta["data_info"]))
    nets = {k[5:]: v for k, v in tensors.items() if k.startswith("nets.")}
    ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
    return nets, ema, int(meta["step"]), info


def copy_as_best(ckpt_dir: Path) -> None:
    """checkpoints/best.* := checkpoints/last.* (atomic per file)."""
    from ..io import atomic_path

    for name in (WEIGHTS, STATE):
        with atomic_path(ckpt_dir / name.replace("last", "best")) as tmp:
            tmp.write_bytes((ckpt_dir / name).read_bytes())


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_trainer_state(ckpt_dir: Path, state: dict) -> None:
    save_state(ckpt_dir / STATE, state)


def read_trainer_state(ckpt_dir: Path, step: int) -> dict:
    path = ckpt_dir / STATE
    if not path.exists():
        raise RunDirError(f"{path} is missing; the run cannot be resumed exactly (its weights can still be sampled)")
    state = load_state(path)
    if int(state["step"]) != step:
        raise RunDirError(f"{ckpt_dir}: weights are at step {step} but trainer state at {state['step']}; "
                          "the checkpoint was interrupted while being written")
    return state
