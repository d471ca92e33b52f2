"""Opening the SQLite file: WAL, durable commits, foreign keys, and the lock wait.

The wait for another process's write lock is ``ISP_NLP_LOCK_TIMEOUT`` seconds (default
60); a project whose file or folder cannot be written is opened read-only and immutable.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from isp_nlp.errors import ProjectError

LOCK_TIMEOUT_ENV = "ISP_NLP_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 60.0


def lock_timeout() -> float:
    """Seconds a write waits for another process's lock: ``ISP_NLP_LOCK_TIMEOUT`` or 60."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        raise ProjectError(f"{LOCK_TIMEOUT_ENV}={raw!r} is not a number of seconds; "
                           "set it to e.g. 60 or unset it") from None
    if not 0 <= value <= 86_400:
        raise ProjectError(f"{LOCK_TIMEOUT_ENV}={raw!r} is outside 0-86400 seconds; "
                           "set it to e.g. 60 or unset it")
    return value


def writable(path: Path) -> bool:
    """Whether the database file and its folder (for the WAL files) can be written."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    timeout = lock_timeout()
    if read_only:  # nobody can write here, so the file cannot change under us
        uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn
