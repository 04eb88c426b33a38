"""Safe files: atomic writes (temporary file in the same folder, flushed to disk, then one rename),
safetensors for weights, read only after their header has been checked, and
``torch.load(weights_only=True)`` for trainer state."""
from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch

from .errors import CheckpointError

# safetensors dtype names and their sizes in bytes (the format's specification)
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
                "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename in ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file (mkstemp's own files are private, 0600)


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; on success it is flushed to disk and replaces ``path`` in
    one rename, so a reader (or a kill at any instant) sees the old file or the new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, FILE_MODE)
    try:
        yield Path(tmp)
        _fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_tensors(path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save_file

    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp), metadata=metadata)


def check_safetensors(path) -> dict:
    """Validate a safetensors file's header against the file before any tensor is read: its length, the
    JSON, every dtype, shape and byte range. Returns the header; raises CheckpointError naming the fault."""
    path = Path(path)

    def corrupt(why: str):
        return CheckpointError(f"{path} is corrupt or not a gankit checkpoint ({why}); "
                               "restore it from a copy or train the run again")

    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise corrupt("shorter than a safetensors header")
        (n,) = struct.unpack("<Q", head)
        if n > min(MAX_HEADER_BYTES, size - 8):
            raise corrupt(f"its header claims {n} bytes but the file has {size}")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise corrupt("its header is not JSON") from None
    if not isinstance(header, dict):
        raise corrupt("its header is not a mapping")
    data_bytes = size - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise corrupt("its metadata is not a mapping of strings")
            continue
        if not isinstance(entry, dict) or entry.get("dtype") not in _DTYPE_BYTES:
            raise corrupt(f"tensor {name!r} has no valid dtype")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
            raise corrupt(f"tensor {name!r} has an invalid shape")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= data_bytes):
            raise corrupt(f"tensor {name!r} points outside the file")
        if offsets[1] - offsets[0] != math.prod(shape) * _DTYPE_BYTES[entry["dtype"]]:
            raise corrupt(f"tensor {name!r} has {offsets[1] - offsets[0]} bytes for shape {shape}")
    return header


def load_tensors(path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    check_safetensors(path)
    out = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            for k in f.keys():
                out[k] = f.get_tensor(k)
    except Exception as e:  # the library's own error types vary across versions
        raise CheckpointError(f"{path} is corrupt or not a gankit checkpoint ({str(e).splitlines()[0][:200]}); "
                              "restore it from a copy or train the run again") from None
    return out, meta


def save_state(path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path) -> dict:
    """Trainer state, loaded with ``weights_only=True``: a file holding anything but tensors and plain
    containers (a pickle payload) is refused as corrupt; it is never unpickled."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # UnpicklingError, RuntimeError, EOFError...: torch's message advises unsafe loading
        raise CheckpointError(f"{path} is corrupt or not a gankit checkpoint (it is not a plain tensor file); "
                              "restore it from a copy or train the run again") from None
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{path} is corrupt or not a gankit checkpoint (no trainer state in it)")
    return state
