"""What the store asks of a database connection, and the few things SQLite and PostgreSQL
do differently.

The store writes its SQL once, in the subset both engines accept (``?`` placeholders,
``INSERT ... ON CONFLICT``, ``RETURNING id``, ``"end"`` quoted), against
:class:`Connection`: a ``sqlite3.Connection`` in autocommit mode, or a
:class:`isp_nlp.store.postgres.PgConnection`, which speaks the same DB-API subset. The
functions here are the rest: taking the single writer's lock, listing tables and
columns, deferring foreign keys, and telling a lock wait from another failure.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from isp_nlp.errors import ProjectError

#: Names of the two backends, as :func:`dialect` returns them.
SQLITE, POSTGRES = "sqlite", "postgres"


class PgError(Exception):
    """A failing call on a PostgreSQL project (the driver's error is its ``__cause__``;
    ``sqlstate`` is PostgreSQL's error code). Defined here, so catching database errors
    does not import the driver."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class PgLockTimeout(PgError):
    """Another process held the project's write lock for longer than the wait."""


class Cursor(Protocol):
    """The part of a DB-API cursor the store reads."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the store uses (``sqlite3.Connection`` has it)."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    def executescript(self, script: str, /) -> Any: ...

    def close(self) -> None: ...


def dialect(conn: Connection) -> str:
    """``sqlite`` or ``postgres``."""
    return SQLITE if isinstance(conn, sqlite3.Connection) else POSTGRES


def table_names(conn: Connection) -> list[str]:
    """The project's tables (SQLite's own tables left out)."""
    if dialect(conn) == SQLITE:
        sql = ("SELECT name FROM sqlite_master WHERE type = 'table'"
               " AND name NOT LIKE 'sqlite_%' ORDER BY name")
    else:
        sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema ="
               " current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")
    return [r[0] for r in conn.execute(sql)]


def table_columns(conn: Connection, table: str) -> set[str]:
    """The column names of ``table`` (empty when it does not exist)."""
    if dialect(conn) == SQLITE:
        return {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
    return {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = ?", (table,))}


def defer_foreign_keys(conn: Connection) -> None:
    """Check foreign keys at COMMIT rather than per statement, for this transaction."""
    if dialect(conn) == SQLITE:
        conn.execute("PRAGMA defer_foreign_keys = ON")
    else:  # the PostgreSQL schema declares every foreign key DEFERRABLE
        conn.execute("SET CONSTRAINTS ALL DEFERRED")


def begin_write(conn: Connection, wait: float) -> None:
    """Begin a transaction holding the project's single write lock, waiting at most
    ``wait`` seconds for another process's; a lock still held after that raises
    ``sqlite3.OperationalError`` or :class:`PgLockTimeout` (see :func:`is_lock_wait`)."""
    if dialect(conn) == SQLITE:
        conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn.begin_write(wait)  # type: ignore[attr-defined]


def is_connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the PostgreSQL server went away (the connection dropped, the
    server restarted or ended this session): SQLSTATE class 08 or 57P."""
    return isinstance(exc, PgError) and (exc.sqlstate or "").startswith(("08", "57P"))


def is_lock_wait(exc: BaseException) -> bool:
    """Whether ``exc`` says another process holds the write lock (the wait ran out)."""
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    return isinstance(exc, PgLockTimeout)


class ChangeRefused(ProjectError):
    """An UPDATE changed fewer rows than it matched: the database protects some of them
    (row-level security on a PostgreSQL project lets a coder change only their own)."""


def update_every(conn: Connection, table: str, assign: str, where: str,
                 assign_args: Sequence[Any], where_args: Sequence[Any]) -> int:
    """``UPDATE table SET assign WHERE where``, checking that it changed every row it
    matched; ChangeRefused (and the transaction rolled back by the caller) when the
    database silently left some alone. Returns how many rows changed."""
    seen = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}",
                        tuple(where_args)).fetchone()[0]
    done = conn.execute(f"UPDATE {table} SET {assign} WHERE {where}",
                        (*assign_args, *where_args)).rowcount
    if done != seen:
        raise ChangeRefused(
            f"the database changed {done} of the {seen} {table} rows this needs, as the "
            "others belong to another coder, so nothing was changed; only their coder (or "
            "the project's owner) can change them")
    return int(done)
