"""The run directory's safety rules: what may be created, replaced or resumed, and by whom.

- A run name is a relative path of safe components inside the runs folder (``mnist-dcgan``,
  ``sweeps/lr-1e-3``); ``..``, ``.``, absolute paths and empty names are refused
  (:func:`gankit.config.check_run_name`, part of validating a config).
- ``--overwrite`` only ever replaces a gankit run directory: one that has ``config.yaml`` and holds no
  other run, and is not the working folder or one of its parents. The old directory is moved aside
  (renamed, so nothing is lost if the new run fails to start) and deleted only once the new run has
  taken its first step; if the new run fails before that, the old one is put back (:class:`Replacement`).
- One process at a time: a training process holds an exclusive lock on ``RUN/.lock`` (``flock``, so the
  lock dies with the process, kill -9 included); a second one is refused in one line (:class:`RunLock`).
- Files that a killed process left half-written (``.NAME.*.tmp``, see :func:`gankit.io.atomic_path`) are
  removed when a run is resumed (:func:`remove_stale_temporaries`).
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from ..errors import RunDirError

LOCK = ".lock"


def _is_inside(a: Path, b: Path) -> bool:
    """True when ``a`` is ``b`` or one of its parents."""
    return a == b or a in b.parents


def check_replaceable(path: Path) -> None:
    """Refuse to replace anything but a gankit run directory that holds no other run."""
    real = path.resolve()
    if _is_inside(real, Path.cwd().resolve()):
        raise RunDirError(f"--overwrite would replace {path}, which holds the current folder; "
                          "choose another --run-dir or --name")
    if not (path / "config.yaml").is_file():
        raise RunDirError(f"{path} exists but is not a gankit run directory (no config.yaml), so --overwrite will "
                          "not replace it; choose another --run-dir or --name, or move it away yourself")
    nested = next((p.parent for p in path.rglob("config.yaml") if p.parent != path), None)
    if nested is not None:
        raise RunDirError(f"{path} holds another run ({nested}), so --overwrite will not replace it; "
                          "choose another --run-dir or --name")


class RunLock:
    """An exclusive ``flock`` on ``RUN/.lock`` for as long as a process trains the run."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self._file = None

    def acquire(self) -> "RunLock":
        try:
            import fcntl
        except ImportError:  # no flock on this platform: run without the guard
            return self
        f = open(self.path, "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):  # a file system without locks
                f.close()
                return self
            f.seek(0)
            owner = f.read().strip() or "another process"
            f.close()
            raise RunDirError(f"run directory {self.path.parent} is in use by {owner}; wait for it to finish "
                              "or stop it (Ctrl-C saves a checkpoint) before starting another") from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file drops the flock
            self._file = None


class Replacement:
    """An old run moved aside by ``--overwrite``: :meth:`discard` deletes it once the new run has started
    cleanly; :meth:`restore` puts it back if the new run fails before that."""

    def __init__(self, path: Path, aside: Path):
        self.path, self.aside = path, aside

    def discard(self) -> None:
        if self.aside.is_symlink():  # --overwrite of a link to a run: drop the link, never what it points to
            self.aside.unlink()
        else:
            shutil.rmtree(self.aside, ignore_errors=True)

    def restore(self) -> None:
        if self.aside.exists() or self.aside.is_symlink():
            shutil.rmtree(self.path, ignore_errors=True)  # the new run's folder, which gankit created
            os.replace(self.aside, self.path)


def prepare_run_dir(path: Path, resume: bool, overwrite: bool) -> tuple[RunLock, Optional[Replacement]]:
    """Check, lock and (for a new run) create ``path``; returns the held lock and, with ``--overwrite``, the
    old run that was moved aside."""
    if path.exists() and not path.is_dir():
        raise RunDirError(f"run directory {path} is a file, not a folder; choose another --run-dir or --name")
    if resume:
        if not (path / "config.yaml").exists():
            raise RunDirError(f"cannot resume {path}: it has no config.yaml (is it a gankit run directory?)")
        return RunLock(path).acquire(), None
    replaced = None
    if path.exists() and any(p.name != LOCK for p in path.iterdir()):
        if not overwrite:
            raise RunDirError(f"run directory {path} already exists; use --resume to continue it, "
                              "--overwrite to replace it, or --name to choose another")
        check_replaceable(path)
        old_lock = RunLock(path).acquire()  # refuses to replace a run that is training right now
        aside = _unused_name(path)
        os.replace(path, aside)
        old_lock.release()
        replaced = Replacement(path, aside)
    try:
        path.mkdir(parents=True, exist_ok=True)
        return RunLock(path).acquire(), replaced
    except BaseException:
        if replaced is not None:
            replaced.restore()
        raise


def _unused_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for the run that --overwrite sets aside (an earlier one, kept
    after a kill, is never reused or deleted)."""
    taken = Path(tempfile.mkdtemp(prefix=f".{path.name}.replaced-", dir=path.parent))
    taken.rmdir()  # only the unique name is wanted: the rename below creates it
    return taken


#: the temporary files of :func:`gankit.io.atomic_path` (``tempfile.mkstemp``: ".NAME." + 8 characters + ".tmp")
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def remove_stale_temporaries(run_dir: Path) -> int:
    """Delete the temporary files that a killed gankit writer left in the run directory and its own
    sub-folders (not in folders reached through a symbolic link); returns how many."""
    removed = 0
    folders = [run_dir] + [p for p in run_dir.iterdir()
                           if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
    for folder in folders:
        for f in folder.iterdir():
            if _TEMPORARY.match(f.name) and f.is_file() and not f.is_symlink():
                f.unlink(missing_ok=True)
                removed += 1
    return removed
