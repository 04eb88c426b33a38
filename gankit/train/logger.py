"""metrics.jsonl (one JSON object per logged step) and TensorBoard events."""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..io import write_text


def read_metrics(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    rows = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by a crash: everything before it is good
    return rows


class MetricsLogger:
    def __init__(self, run_dir: Path, start_step: int, tensorboard: bool = True):
        self.path = run_dir / "metrics.jsonl"
        kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= start_step]
        # Rows past the checkpoint belong to an interrupted future: drop them so the log matches the weights.
        # Atomic: a kill while rewriting keeps the old file whole.
        write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self.rows = kept
        self._file = open(self.path, "a")
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=start_step + 1 if start_step else None)

    def log(self, step: int, values: dict) -> None:
        row = {"step": step, **{k: (v if math.isfinite(v) else str(v)) for k, v in values.items()}}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        self.rows.append(row)
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)

    def image(self, tag: str, array, step: int) -> None:
        if self.tb is not None:
            self.tb.add_image(tag, array, step, dataformats="HW" if array.ndim == 2 else "HWC")

    def close(self) -> None:
        self._file.close()
        if self.tb is not None:
            self.tb.close()
            self.tb = None
