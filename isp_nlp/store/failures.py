"""What a failing SQLite call means for the person at the keyboard.

SQLite reports a full disk, a read-only folder, a lock held by another process and a
damaged file as ``sqlite3.OperationalError`` or ``sqlite3.DatabaseError`` with a terse
message. :func:`explain_database_error` turns each into one sentence that names the
project file, says whether anything was changed, and gives the fix that is true for
that cause (a full disk must not be answered with "restore from a backup").
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from isp_nlp.errors import ProjectError
from isp_nlp.store.backend import PgError
from isp_nlp.store.team import refused_write

#: What a failing database call raises: catch these at the command-line boundary.
DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, PgError)


class DatabaseFull(ProjectError):
    """The disk (or quota) holding the project is full."""


class DatabaseReadOnly(ProjectError):
    """The project file or its folder cannot be written."""


class DatabaseLocked(ProjectError):
    """Another process held the project's write lock for longer than the wait."""


class DatabaseDamaged(ProjectError):
    """The project file is corrupt, truncated or missing part of its schema."""


def explain_database_error(exc: Exception, path: str | Path,
                           waited: float = 60.0) -> ProjectError:
    """The domain error for ``exc``, raised while working on the database at ``path``
    (``waited``: the lock timeout in seconds, for a "locked" error)."""
    message = str(exc)
    low = message.lower()
    where = str(path)
    if isinstance(exc, PgError):
        return _explain_postgres(exc, where, waited)
    if "disk is full" in low:
        return DatabaseFull(
            f"{where}: the disk holding the project is full, so nothing was changed; "
            "free some space (or move the project) and run the command again"
        )
    if "readonly" in low or "read-only" in low or "unable to open database" in low:
        return DatabaseReadOnly(
            f"{where}: the project cannot be written ({message}); check that the folder and "
            "project.sqlite are writable by you, or copy the project to a writable folder"
        )
    if "locked" in low or "busy" in low or "lock timeout" in low:
        return DatabaseLocked(
            f"{where}: another process held the project's write lock for longer than the "
            f"wait ({waited:g} s), so nothing was changed; let it finish and try again, or set "
            "ISP_NLP_LOCK_TIMEOUT to wait longer"
        )
    if ("malformed" in low or "not a database" in low or "no such table" in low
            or "no such column" in low or "corrupt" in low):
        return DatabaseDamaged(
            f"{where} is damaged ({message}); restore it from a backup, or rescue what is "
            f"left with `sqlite3 {Path(where).name} .recover` into a new file"
        )
    return ProjectError(f"{where}: the project database failed ({message}); "
                        "run the command again, and report it if it keeps failing")


def _explain_postgres(exc: PgError, where: str, waited: float) -> ProjectError:
    """The domain error for a failing call on a PostgreSQL project (by SQLSTATE class)."""
    state = exc.sqlstate or ""
    if state == "42501":
        return ProjectError(f"{where}: {refused_write(exc)}")
    if state == "55P03":
        return DatabaseLocked(
            f"{where}: another process held the project's write lock for longer than the "
            f"wait ({waited:g} s), so nothing was changed; let it finish and try again, or set "
            "ISP_NLP_LOCK_TIMEOUT to wait longer")
    if state.startswith("53"):
        return DatabaseFull(
            f"{where}: the PostgreSQL server ran out of disk or memory ({exc}), so nothing was "
            "changed; ask its administrator to free space, and run the command again")
    if state.startswith(("08", "57P")):
        return ProjectError(
            f"{where}: the connection to the PostgreSQL server was lost ({exc}), so the "
            "command's last change was not made; check that the server runs, and run the "
            "command again")
    if state in ("42P01", "42703"):
        return DatabaseDamaged(
            f"{where}: the project's PostgreSQL database lacks part of its schema ({exc}); "
            "run `isp-nlp check`, and restore the database from a backup (pg_dump)")
    return ProjectError(f"{where}: the project database failed ({exc}); "
                        "run the command again, and report it if it keeps failing")
