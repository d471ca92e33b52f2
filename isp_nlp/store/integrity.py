"""Is the project database whole? Cheap and full checks, and a consistent backup.

:func:`quick_problems` runs SQLite's ``quick_check`` (before a command's first write);
:func:`full_problems` runs ``integrity_check`` and compares every table and column with
the current schema (``isp-nlp check``); :func:`backup_database` copies a live database
with SQLite's online backup, so the copy is consistent even while coders write.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from isp_nlp.store.migrations import schema

_LIMIT = 20  # problems reported at most


def quick_problems(conn: sqlite3.Connection) -> list[str]:
    """What ``PRAGMA quick_check`` finds wrong (empty when the file is whole)."""
    return _pragma(conn, "quick_check")


def _pragma(conn: sqlite3.Connection, check: str) -> list[str]:
    try:
        rows = [r[0] for r in conn.execute(f"PRAGMA {check}").fetchmany(_LIMIT)]
    except sqlite3.DatabaseError as exc:  # too damaged for the check to run at all
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def _columns(conn: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {t: {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')} for t in tables}


def full_problems(conn: sqlite3.Connection) -> list[str]:
    """Integrity problems, then tables or columns the current schema has and the file lacks."""
    problems = _pragma(conn, "integrity_check")
    expected_db = sqlite3.connect(":memory:")
    try:
        expected_db.executescript(schema())
        expected = _columns(expected_db)
    finally:
        expected_db.close()
    try:
        found = _columns(conn)
    except sqlite3.DatabaseError as exc:
        return [*problems, f"the tables cannot be listed ({exc})"]
    for table, columns in expected.items():
        if table not in found:
            problems.append(f"table '{table}' is missing")
            continue
        missing = sorted(columns - found[table])
        if missing:
            problems.append(f"table '{table}' lacks column(s) {', '.join(missing)}")
    return problems


def backup_database(conn: sqlite3.Connection, target: Path) -> None:
    """Write a consistent copy of the database behind ``conn`` to ``target``."""
    copy = sqlite3.connect(target)
    try:
        conn.backup(copy)
    finally:
        copy.close()
