"""Training progress on stderr: tqdm's bar on a terminal; elsewhere (CI logs, ``nohup``, a pipe) a plain line
every ``interval`` seconds, since a bar redrawn with carriage returns fills a log with thousands of copies."""
from __future__ import annotations

import sys
import time


def format_duration(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class PlainProgress:
    """The bar's interface (update, set_postfix, write, close) writing one line per ``interval`` seconds:
    ``NAME step S/T (P %)  D .. G ..  R step/s  ETA ..``, and a last line when it closes."""

    def __init__(self, total: int, initial: int, desc: str, stream=None, interval: float = 30.0, clock=time.monotonic):
        self.total, self.n, self.desc = total, initial, desc
        self.stream = stream if stream is not None else sys.stderr
        self.interval, self.clock = interval, clock
        self.start_n, self.start_t = initial, clock()
        self.last_print = self.start_t
        self.postfix: dict = {}
        self.closed = False

    def line(self) -> str:
        elapsed = self.clock() - self.start_t
        done = self.n - self.start_n
        rate = done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.desc} step {self.n}/{self.total} ({100 * self.n / max(self.total, 1):.0f} %)"]
        if self.postfix:
            parts.append(" ".join(f"{k} {v}" for k, v in self.postfix.items()))
        if rate > 0:
            parts.append(f"{rate:.1f} step/s")
            parts.append(f"ETA {format_duration((self.total - self.n) / rate)}" if self.n < self.total
                         else f"took {format_duration(elapsed)}")
        return "  ".join(parts)

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self.last_print >= self.interval:
            self.last_print = now
            self.write(self.line())

    def set_postfix(self, values: dict, refresh: bool = False) -> None:
        self.postfix = dict(values)

    def write(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.n > self.start_n:
                self.write(self.line())


class SilentProgress(PlainProgress):
    """No progress output (``--no-progress``); messages passed to :meth:`write` still go to stdout, as tqdm's do."""

    def write(self, message: str) -> None:
        print(message, flush=True)

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        self.closed = True


def progress_bar(total: int, initial: int, desc: str, enabled: bool = True, stream=None):
    """tqdm's bar when ``enabled`` and the stream is a terminal, plain lines when it is not, nothing when disabled."""
    stream = stream if stream is not None else sys.stderr
    if not enabled:
        return SilentProgress(total, initial, desc, stream)
    if getattr(stream, "isatty", lambda: False)():
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, dynamic_ncols=True, desc=desc, unit="step", file=stream)
    return PlainProgress(total, initial, desc, stream)
