"""A throwaway PostgreSQL server for the study tests, and for .ci/run (``python3 tests/postgres_server.py start DIR``).

The server runs from Debian's ``postgresql`` binaries in a private folder, listening on a Unix socket in that
folder only (no TCP port), with trust authentication; as root it runs as the ``postgres`` user (the server
refuses root). ``GANKIT_TEST_POSTGRES`` names a server that is already running (what .ci/run exports).
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

ENV = "GANKIT_TEST_POSTGRES"
PORT = 54329


def server_bin() -> Optional[Path]:
    """The folder of ``initdb``/``pg_ctl``: on the PATH, or Debian's /usr/lib/postgresql/VERSION/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _as_server_user(cmd: list, folder: Path) -> list:
    if os.geteuid() != 0:
        return cmd
    shutil.chown(folder, "postgres", "postgres")
    return ["runuser", "-u", "postgres", "--", *cmd]


def start(folder: Path) -> str:
    """Create and start a server in ``folder``; returns its URL (database ``postgres``)."""
    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binary (install Debian's postgresql)")
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    data = folder / "data"
    run = lambda cmd: subprocess.run(_as_server_user(cmd, folder), check=True, capture_output=True, text=True)  # noqa: E731
    if not data.exists():
        run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    opts = f"-k {folder} -p {PORT} -c listen_addresses='' -c fsync=off -c max_connections=100"
    run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "server.log"), "-w", "start"])
    return url(folder)


def url(folder: Path, database: str = "postgres") -> str:
    return f"postgresql://postgres@/{database}?host={Path(folder).resolve()}&port={PORT}"


def stop(folder: Path) -> None:
    bin_dir = server_bin()
    data = Path(folder).resolve() / "data"
    if bin_dir is not None and data.exists():
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                                       Path(folder).resolve()), capture_output=True)


#: the prefixes of the folders these helpers make (``tempfile.mkdtemp`` in the tests, ``mktemp -d`` in .ci/run)
FOLDER_PREFIXES = ("gankit-pg-", "gankit-ci-pg.")


def discard(folder) -> None:
    """Remove a server folder that the tests or .ci/run made, and nothing else: ``folder`` must be an absolute path with
    no ".", ".." or link in it, naming a real folder directly in the temporary directory whose name has one of
    :data:`FOLDER_PREFIXES`; anything else (an empty name, ".", "..", a relative name, a user's folder, a link to a
    server folder) is refused with ValueError."""
    text = str(folder)
    path = Path(text)
    tmp = Path(tempfile.gettempdir()).resolve()
    plain = bool(text) and path.is_absolute() and os.path.normpath(text) == text.rstrip("/")  # no ".", ".." or "//"
    if not plain or path.is_symlink() or not path.is_dir() or path.resolve() != path \
            or path.parent != tmp or not path.name.startswith(FOLDER_PREFIXES):
        raise ValueError(f"{text!r} is not a PostgreSQL test folder in {tmp}; not removing it")
    shutil.rmtree(path)


def new_database(server_url: str, name: str) -> str:
    """A fresh, empty database on the server; returns its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(server_url)
    with psycopg.connect(dbname=u.database, user=u.username, password=u.password, host=u.host or u.query.get("host"),
                         port=u.port or u.query.get("port"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return str(u.set(database=name).render_as_string(hide_password=False))


if __name__ == "__main__":
    action, where = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        print(start(where))
    elif action == "stop":
        stop(where)
    else:  # discard: stop it, then remove the folder (only a server folder these helpers made)
        stop(where)
        discard(where)
