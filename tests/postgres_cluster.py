"""A throwaway PostgreSQL cluster for the tests: on a unix socket in a temporary directory, no
TCP, stopped at the end of the session.

``.ci/run`` starts one itself and names it in ``SANSIO_TEST_POSTGRES``; otherwise the session
starts its own from the server's binaries (Debian's ``/usr/lib/postgresql/*/bin`` or ``PATH``),
as the ``postgres`` user when run as root (the server refuses to run as root). Where neither
works, the tests that need it skip, saying why.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

ENVIRONMENT = "SANSIO_TEST_POSTGRES"  # a libpq URL of a server the tests may create databases on


def _binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise RuntimeError("running as root and runuser is missing")
    return ["runuser", "-u", "postgres", "--"]


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """A running cluster: its admin URL. Raises RuntimeError saying why one cannot start."""
    bin_dir = _binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb) installed")
    run_as = _as_server_user()
    home = Path(tempfile.mkdtemp(prefix="sansio-pg-"))
    try:
        if run_as:
            shutil.chown(home, "postgres")
        data, log = home / "data", home / "log"

        def quiet(command: list[str]) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(
                command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=home
            )

        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        done = quiet([*run_as, *initdb, "--no-sync"])
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')[-300:]}")
        server = f"-c listen_addresses='' -c unix_socket_directories={home}"
        ctl = [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log)]
        done = quiet([*ctl, "-o", server, "-w", "start"])
        if done.returncode:
            raise RuntimeError(f"the server did not start: {log.read_text()[-300:]}")
        try:
            yield f"postgresql:///postgres?host={home}&user=postgres"
        finally:
            quiet([*ctl, "-m", "fast", "-w", "stop"])
    finally:
        shutil.rmtree(home, ignore_errors=True)


_names = itertools.count()


def fresh_database(admin_url: str) -> str:
    """A new, empty database on the server: its URL."""
    import psycopg

    name = f"t{os.getpid()}_{next(_names)}"
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    path, _, query = admin_url.partition("?")
    return f"{path.rsplit('/', 1)[0]}/{name}?{query}"
