"""Is the project database whole? Cheap and full checks, and a consistent backup.

:func:`quick_problems` runs SQLite's ``quick_check`` (before a command's first write);
:func:`full_problems` runs ``integrity_check`` and compares every table and column with
the current schema (``isp-nlp check``); :func:`backup_project` copies a live database
with SQLite's online backup, so the copy is consistent even while coders write, and the
trained models beside it.

On PostgreSQL the server keeps its pages whole itself: :func:`quick_problems` finds
nothing, :func:`full_problems` compares the tables and columns and counts rows whose
foreign keys point nowhere (every foreign key the database declares; none, unless
constraints were dropped or disabled by hand), and a backup is a SQLite snapshot of
the project written by the same verified copy as ``isp-nlp pull``
(:mod:`isp_nlp.store.transfer`), with the folder's models.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from isp_nlp.errors import ProjectError
from isp_nlp.store.backend import POSTGRES, Connection, dialect, table_columns, table_names
from isp_nlp.store.failures import DATABASE_ERRORS
from isp_nlp.store.files import atomic_path
from isp_nlp.store.migrations import schema
from isp_nlp.store.transfer import copy_models, not_plain, write_snapshot

_LIMIT = 20  # problems reported at most


def quick_problems(conn: Connection) -> list[str]:
    """What ``PRAGMA quick_check`` finds wrong (empty when the file is whole; always
    empty on PostgreSQL, whose server checks its own pages)."""
    if dialect(conn) == POSTGRES:
        return []
    return _pragma(conn, "quick_check")


def _pragma(conn: Connection, check: str) -> list[str]:
    try:
        rows = [r[0] for r in conn.execute(f"PRAGMA {check}").fetchmany(_LIMIT)]
    except sqlite3.DatabaseError as exc:  # too damaged for the check to run at all
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def _columns(conn: Connection) -> dict[str, set[str]]:
    return {t: table_columns(conn, t) for t in table_names(conn)}


def schema_foreign_keys() -> list[tuple[str, str, str, str]]:
    """(table, column, referenced table, referenced column) of every foreign key the
    current schema declares (read from schema.sql, so a key dropped from a database by
    hand is still checked)."""
    expected_db = sqlite3.connect(":memory:")
    try:
        expected_db.executescript(schema())
        return [(t, r[3], r[2], r[4] or "id") for t in table_names(expected_db)
                for r in expected_db.execute(f'PRAGMA foreign_key_list("{t}")')]
    finally:
        expected_db.close()


def _postgres_problems(conn: Connection) -> list[str]:
    problems = []
    try:
        conn.execute("SELECT 1").fetchone()
        found = set(table_names(conn))
        for table, column, parent, key in schema_foreign_keys():
            if not {table, parent} <= found:
                continue
            n = conn.execute(
                f'SELECT COUNT(*) FROM {table} c WHERE c."{column}" IS NOT NULL AND NOT'
                f' EXISTS (SELECT 1 FROM {parent} p WHERE p."{key}" = c."{column}")'
            ).fetchone()[0]
            if n:
                problems.append(f"{n} rows of '{table}' point at no row of '{parent}'")
    except DATABASE_ERRORS as exc:
        problems.append(f"the database cannot be read ({exc})")
    return problems


def _sqlite_foreign_keys(conn: Connection) -> list[str]:
    """Rows whose foreign key points nowhere (``PRAGMA foreign_key_check``), by table."""
    counts: dict[tuple[str, str], int] = {}
    try:
        for row in conn.execute("PRAGMA foreign_key_check"):
            counts[(row[0], row[2])] = counts.get((row[0], row[2]), 0) + 1
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [f"{n} rows of '{table}' point at no row of '{parent}'"
            for (table, parent), n in sorted(counts.items())]


def full_problems(conn: Connection) -> list[str]:
    """Integrity problems, then tables or columns the current schema has and the file lacks."""
    if dialect(conn) == POSTGRES:
        problems = _postgres_problems(conn)
    else:
        problems = _pragma(conn, "integrity_check") or _sqlite_foreign_keys(conn)
    expected_db = sqlite3.connect(":memory:")
    try:
        expected_db.executescript(schema())
        expected = _columns(expected_db)
    finally:
        expected_db.close()
    try:
        found = _columns(conn)
    except DATABASE_ERRORS as exc:
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
    """Write a consistent copy of the database behind ``conn`` to ``target`` (atomically)."""
    with atomic_path(target, what="the backup") as tmp:
        copy = sqlite3.connect(tmp)
        try:
            conn.backup(copy)
        finally:
            copy.close()


def backup_project(conn: Connection, db_path: Path, directory: str | Path) -> Path:
    """Copy the project of ``db_path`` (database and trained models) into the new or empty
    folder ``directory``, which must lie outside the project; return the copy's path."""
    target, project = Path(directory), db_path.parent
    check_backup_folder(target, project)
    if not isinstance(conn, sqlite3.Connection):  # PostgreSQL: a verified SQLite snapshot
        write_snapshot(conn, target, str(target / "project.sqlite"))
        copy_models(project, target)
        return target / "project.sqlite"
    target.mkdir(parents=True, exist_ok=True)
    backup_database(conn, target / db_path.name)
    models = project / "models"
    if models.is_dir():
        shutil.copytree(models, target / "models", ignore=not_plain, dirs_exist_ok=True)
    return target / db_path.name


def check_backup_folder(target: Path, project: Path) -> None:
    """Refuse a backup folder that is the project, lies inside it, holds files, or is not
    a folder at all (a device, a pipe, a file, a symlink to one), before creating it."""
    where, home = target.resolve(), project.resolve()
    if where == home:
        raise ProjectError(f"{target} is the project itself; choose a new folder for the "
                           "backup")
    if where.is_relative_to(home):
        raise ProjectError(f"{target} is inside the project folder {project}, so the backup "
                           "would copy itself; choose a folder outside the project")
    if target.exists() and not target.is_dir():
        raise ProjectError(f"{target} is not a folder (a file, device or pipe); give the "
                           "path of a new folder for the backup")
    if target.exists() and any(target.iterdir()):
        raise ProjectError(f"{target} already holds files; choose a new or empty folder "
                           "for the backup")
