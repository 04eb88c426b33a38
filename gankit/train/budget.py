"""Training for a budget of CPU seconds instead of a number of steps: the fair comparison of two families whose
steps cost differently (LAPGAN against a single-scale GAN, a VAE against a GAN)."""
from __future__ import annotations

import time
from typing import Callable, Optional

from .trainer import Trainer


class CpuBudgetTrainer(Trainer):
    """A :class:`Trainer` whose run ends, cleanly (checkpoint and final grid), after the step during which its
    process has used ``seconds`` of CPU time (``time.process_time``: every thread counted). ``at_half(trainer)``,
    when given, is called once half the budget is spent; the CPU time it takes is not charged to training."""

    def __init__(self, *args, seconds: float, at_half: Optional[Callable] = None, **kw):
        super().__init__(*args, **kw)
        self.seconds, self.at_half = seconds, at_half
        self.cpu_start = time.process_time()

    def train_step(self):
        logs = super().train_step()
        used = time.process_time() - self.cpu_start
        if self.at_half is not None and used >= self.seconds / 2:
            self.at_half(self)
            self.at_half = None
            self.cpu_start += time.process_time() - self.cpu_start - used  # the callback is not training time
            used = time.process_time() - self.cpu_start
        if used >= self.seconds:
            self.cfg.train.steps = self.step  # this step is the last one
        return logs
