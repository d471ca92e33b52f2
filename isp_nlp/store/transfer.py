"""Moving a project between SQLite and PostgreSQL, verified: ``push``, ``pull``, and the
PostgreSQL backup.

:func:`copy_database` copies every table of one project database into an empty other
one, whichever the two backends are, in one transaction on the target:

* the target gets the current schema (schema.sql, in its dialect), then every table the
  source has, column by column, rows and explicit ids as they are (tables are listed from
  the databases, not named here, so a table a later schema adds comes along);
* foreign keys are checked at COMMIT (rows go in table by table, in any order);
* on PostgreSQL each identity column's sequence is moved past the largest copied id
  (``setval(pg_get_serial_sequence(...))``), so the next row gets a new id;
* before COMMIT, the row count of every table and :func:`coded_checksum` (a sha256 over
  the coded data, computed alike on both backends) must equal the source's; anything
  else rolls the whole copy back and leaves the target as empty as it was.

Model bundles: a SQLite project keeps each model's files under ``models/<id>/`` in its
folder; a PostgreSQL project (schema 12) keeps them in the table ``model_files``. A push
with ``models_from`` (the SQLite project's folder) fills ``model_files`` from those
folders in the same transaction (their rows are counted and verified on top of the
source's), and :func:`write_bundles` writes a pulled project's ``model_files`` rows
back into ``models/<id>/`` (the rows stay in the SQLite copy too, so its row counts
equal the source's). On a schema without ``model_files`` neither happens.

The source is read in one snapshot (a deferred SQLite transaction in WAL mode, or a
``REPEATABLE READ`` PostgreSQL transaction), so coders may keep working while it is
copied; what they write after the snapshot is not in the copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isp_nlp.errors import ProjectError
from isp_nlp.store import postgres
from isp_nlp.store.backend import (
    POSTGRES,
    SQLITE,
    Connection,
    begin_write,
    defer_foreign_keys,
    dialect,
    table_columns,
    table_names,
)
from isp_nlp.store.failures import DATABASE_ERRORS
from isp_nlp.store.migrations import schema

#: The tables whose rows are the project's coded data: what :func:`coded_checksum` covers.
CODED_TABLES = ("annotations", "attributes", "codebook", "codes", "coders", "codings",
                "dimensions", "log", "notes")
_BATCH = 2000
DB_NAME = "project.sqlite"


@dataclass
class Transfer:
    """What a verified copy moved: rows per table, the coded-data checksum, the time."""

    rows: dict[str, int] = field(default_factory=dict)
    checksum: str = ""
    seconds: float = 0.0
    #: Model files put into ``model_files`` from the SQLite project's folder.
    model_files: int = 0
    #: Models whose files were not found in the folder (not copied; train again).
    missing_models: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def row_counts(conn: Connection) -> dict[str, int]:
    """Rows in every table of the project database, by table name."""
    return {t: int(conn.execute(f"SELECT COUNT(*) FROM {_quoted(t)}").fetchone()[0])
            for t in table_names(conn)}


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, bool):
        return int(value)
    return value


def coded_checksum(conn: Connection) -> str:
    """A sha256 (hex) over the coded data (:data:`CODED_TABLES`): each table's name, its
    column names sorted, and its rows as JSON with the columns in that order, the rows
    sorted as text (in Python, so neither engine's collation matters). Equal on SQLite
    and PostgreSQL for the same rows."""
    digest = hashlib.sha256()
    present = set(table_names(conn))
    for table in CODED_TABLES:
        if table not in present:
            continue
        columns = sorted(table_columns(conn, table))
        select = ", ".join(_quoted(c) for c in columns)
        rows = sorted(json.dumps([_canonical(v) for v in row], ensure_ascii=False,
                                 separators=(",", ":"))
                      for row in conn.execute(f"SELECT {select} FROM {_quoted(table)}"))
        digest.update(json.dumps([table, columns, len(rows)]).encode("utf-8") + b"\n")
        for row in rows:
            digest.update(row.encode("utf-8") + b"\n")
    return digest.hexdigest()


@contextmanager
def _snapshot(conn: Connection, *, hold: bool = False) -> Iterator[None]:
    """Read ``conn`` in one consistent snapshot (``hold``: SQLite's write lock too, so
    nobody writes while it is read)."""
    if dialect(conn) == SQLITE:
        conn.execute("BEGIN IMMEDIATE" if hold else "BEGIN")
        conn.execute("SELECT COUNT(*) FROM meta").fetchone()  # the snapshot starts here
    else:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _check_empty(conn: Connection, where: str) -> None:
    tables = table_names(conn)
    if tables:
        raise ProjectError(
            f"{where} is not empty (it holds {len(tables)} table(s), such as "
            f"'{tables[0]}'), and a project is copied only into an empty database; create "
            "a new one (`createdb NAME`) and give its URL")


def copy_database(source: Connection, target: Connection, where: str, *,
                  hold: bool = False, models_from: Path | None = None) -> Transfer:
    """Copy every table of the project database ``source`` into the empty database
    ``target`` (see the module docstring), verified, all or nothing; ``where`` names
    the target in messages. ``hold``: keep other writers of a SQLite source out while
    it is read. ``models_from``: the folder whose ``models/<id>/`` files go into the
    target's ``model_files`` (a push to PostgreSQL)."""
    started = time.monotonic()
    with _snapshot(source, hold=hold):
        kind = dialect(target)
        if kind == POSTGRES:
            begin_write(target, 0)  # the project's write lock: two copies do not mix
        _check_empty(target, where)
        try:
            if kind == POSTGRES:
                target.execute(postgres.pg_schema(schema()))
            else:
                target.executescript(schema())
                target.execute("BEGIN IMMEDIATE")
            defer_foreign_keys(target)
            tables = table_names(source)
            known = set(table_names(target))
            unknown = [t for t in tables if t not in known]
            if unknown:
                raise ProjectError(
                    f"the project has table(s) {', '.join(unknown)} that this isp-nlp does "
                    "not know, so it cannot be copied whole; upgrade isp-nlp and try again")
            for table in tables:
                _copy_table(source, target, table)
            added, missing = 0, list[str]()
            if models_from is not None and "model_files" in known:
                added, missing = _store_bundles(source, target, models_from)
            if kind == POSTGRES:
                _reset_identities(target)
            transfer = _verify(source, target, where, {"model_files": added})
            transfer.model_files, transfer.missing_models = added, missing
            target.execute("COMMIT")
        except BaseException as exc:
            if target.in_transaction:
                with suppress(*DATABASE_ERRORS):
                    target.execute("ROLLBACK")
            if isinstance(exc, DATABASE_ERRORS):
                raise ProjectError(
                    f"copying the project into {where} failed ({_first_line(exc)}), so "
                    "nothing was kept there; fix the cause and run the command again"
                ) from exc
            raise
    transfer.seconds = time.monotonic() - started
    return transfer


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _copy_table(source: Connection, target: Connection, table: str) -> None:
    columns = sorted(table_columns(source, table))
    missing = sorted(set(columns) - table_columns(target, table))
    if missing:
        raise ProjectError(
            f"the project's table '{table}' has column(s) {', '.join(missing)} that this "
            "isp-nlp does not know, so it cannot be copied whole; upgrade isp-nlp and try "
            "again")
    names = ", ".join(_quoted(c) for c in columns)
    rows = source.execute(f"SELECT {names} FROM {_quoted(table)}")
    if dialect(target) == POSTGRES:
        raw = target.raw  # type: ignore[attr-defined]
        try:
            with raw.cursor() as cur, cur.copy(
                    f"COPY {_quoted(table)} ({names}) FROM STDIN") as copy:
                while batch := rows.fetchmany(_BATCH):
                    for row in batch:
                        copy.write_row([bytes(v) if isinstance(v, memoryview) else v
                                        for v in row])
        except postgres._psycopg().Error as exc:
            raise postgres._wrapped(exc) from exc
        return
    insert = (f"INSERT INTO {_quoted(table)} ({names}) "
              f"VALUES ({', '.join('?' * len(columns))})")
    while batch := rows.fetchmany(_BATCH):
        target.executemany(insert, batch)


def _reset_identities(conn: Connection) -> None:
    """Move every identity column's sequence past the largest id copied into it."""
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall():
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({_quoted(column)}), 0)"
            f" + 1, false) FROM {_quoted(table)}", (_quoted(table), column)).fetchone()


def _store_bundles(source: Connection, target: Connection, folder: Path
                   ) -> tuple[int, list[str]]:
    """Put the files of every model registered in ``source`` whose folder (its ``path``
    under ``folder``) holds them into ``target``'s ``model_files``, unless the copy
    brought that model's rows already; return (files added, model ids without files)."""
    held = {r[0] for r in target.execute("SELECT DISTINCT model_id FROM model_files")}
    added, missing = 0, []
    for model_id, path in source.execute("SELECT id, path FROM models ORDER BY id").fetchall():
        if model_id in held:
            continue
        bundle = folder / str(path)
        files = sorted(p for p in bundle.iterdir() if p.is_file()) if bundle.is_dir() else []
        if not files:
            missing.append(str(model_id))
            continue
        rows = []
        for file in files:
            content = file.read_bytes()
            rows.append((model_id, file.name, hashlib.sha256(content).hexdigest(), content))
        target.executemany("INSERT INTO model_files(model_id, name, sha256, content)"
                           " VALUES (?,?,?,?)", rows)
        added += len(rows)
    return added, missing


def write_bundles(conn: Connection, out: Path) -> int:
    """Write the ``model_files`` rows of ``conn`` (when it has that table) into
    ``out/<models.path>/`` folders, each file checked against its sha256; return how
    many files were written."""
    if "model_files" not in table_names(conn):
        return 0
    written = 0
    paths = dict(conn.execute("SELECT id, path FROM models").fetchall())
    for model_id, name, digest, content in conn.execute(
            "SELECT model_id, name, sha256, content FROM model_files ORDER BY model_id, name"):
        data = bytes(content)
        if hashlib.sha256(data).hexdigest() != digest or Path(name).name != name:
            raise ProjectError(f"file {name} of model '{model_id}' does not match its "
                               "checksum, so it was not copied; run `isp-nlp train` again")
        bundle = out / str(paths.get(model_id) or f"models/{model_id}")
        if not bundle.resolve().is_relative_to(out.resolve()):
            raise ProjectError(f"model '{model_id}' has a path outside the project folder")
        bundle.mkdir(parents=True, exist_ok=True)
        (bundle / name).write_bytes(data)
        written += 1
    return written


def _verify(source: Connection, target: Connection, where: str,
            added: dict[str, int] | None = None) -> Transfer:
    """The copy's row counts and checksum, once they are known to equal the source's
    (plus the rows ``added`` to a table beside the copied ones)."""
    want, got = row_counts(source), row_counts(target)
    for table, n in (added or {}).items():
        if n:
            want[table] = want.get(table, 0) + n
    for table, n in want.items():
        if got.get(table) != n:
            raise ProjectError(
                f"the copy into {where} holds {got.get(table, 0)} rows of '{table}' where "
                f"the project holds {n}, so nothing was kept; run the command again, and "
                "report it if it keeps happening")
    checksum = coded_checksum(source)
    if coded_checksum(target) != checksum:
        raise ProjectError(
            f"the coded data copied into {where} differs from the project's (checksum), so "
            "nothing was kept; run the command again, and report it if it keeps happening")
    return Transfer(rows=want, checksum=checksum)


# -- a SQLite snapshot, and the models beside it ------------------------------------
def check_new_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ProjectError(f"{out} is not a folder; give the path of a new folder")
    if out.exists() and any(out.iterdir()):
        raise ProjectError(f"{out} already holds files; give a new or empty folder")


def write_snapshot(source: Connection, out: Path, where: str) -> Transfer:
    """Copy the project database ``source`` into a new ``out/project.sqlite`` (verified),
    with its models' files (``model_files``) in ``out/models/<id>/``; nothing is left at
    ``out`` when it fails."""
    check_new_folder(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    partial = out / (DB_NAME + ".partial")
    try:
        conn = sqlite3.connect(partial, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            transfer = copy_database(source, conn, where)
            write_bundles(conn, out)
        finally:
            conn.close()
        partial.rename(out / DB_NAME)
    except BaseException:
        partial.unlink(missing_ok=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        else:
            shutil.rmtree(out / "models", ignore_errors=True)
        raise
    return transfer


def copy_models(folder: Path | None, out: Path) -> None:
    """The plain files of ``folder/models`` copied to ``out/models`` (made either way)."""
    models = None if folder is None else folder / "models"
    if models is not None and models.is_dir():
        shutil.copytree(models, out / "models", ignore=not_plain, dirs_exist_ok=True)
    (out / "models").mkdir(exist_ok=True)


def not_plain(folder: str, names: list[str]) -> list[str]:
    """Entries of a models folder not copied: anything but plain files and folders."""
    return [n for n in names if not (stat.S_ISREG(mode := os.lstat(os.path.join(folder, n))
                                                   .st_mode) or stat.S_ISDIR(mode))]
