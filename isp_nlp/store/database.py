"""The project store: the only module that writes SQL.

One project is one folder holding ``project.sqlite`` (and trained models
under ``models/``). The database runs in WAL mode with ``synchronous=FULL``
and a busy timeout, so a decision that :meth:`Store.record` returned is on
disk even if the process is killed a moment later, and several coders can
work on one project at once. Every multi-row write is one transaction.

A project may instead live on a PostgreSQL server: its folder then holds
``project.url`` (:data:`isp_nlp.store.postgres.POINTER_NAME`) in place of
``project.sqlite``, and the same SQL runs through
:class:`isp_nlp.store.postgres.PgConnection` (see :mod:`isp_nlp.store.backend`).
:func:`project_db` names whichever of the two files the folder has, and
:meth:`Store.open` / :meth:`Store.create` open either. Trained models go through
:meth:`Store.save_model_bundle` / :meth:`Store.model_bundle` on both: files under
``models/`` in a SQLite project's folder, rows of ``model_files`` on PostgreSQL
(materialised into a per-machine cache), so every coder's machine sees the same models.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from isp_nlp.errors import ProjectError
from isp_nlp.records import Segment, Transcript, Turn
from isp_nlp.store import postgres
from isp_nlp.store.audits import AuditTables
from isp_nlp.store.backend import (
    POSTGRES,
    Connection,
    PgError,
    begin_write,
    defer_foreign_keys,
    dialect,
    is_lock_wait,
    table_names,
)
from isp_nlp.store.codings import CodingTables
from isp_nlp.store.connection import connect, lock_timeout, writable
from isp_nlp.store.failures import (
    DATABASE_ERRORS,
    DatabaseDamaged,
    DatabaseReadOnly,
    explain_database_error,
)
from isp_nlp.store.integrity import backup_project, full_problems, quick_problems
from isp_nlp.store.labels import LabelTables
from isp_nlp.store.migrations import MIGRATIONS, SCHEMA_VERSION, schema
from isp_nlp.store.registry import ModelTables, SqliteEmbeddingCache, now, row_id
from isp_nlp.store.rewrite import DocumentRewrites
from isp_nlp.store.team import setup_team, team_ready

DB_NAME = "project.sqlite"
_FIRST_WAIT = 1.0  # seconds before the wait is announced

def project_db(directory: str | Path) -> Path:
    """The project's database file: ``project.sqlite``, or ``project.url`` when the
    folder has only that (a project on a PostgreSQL server)."""
    pointer = Path(directory) / postgres.POINTER_NAME
    sqlite = Path(directory) / DB_NAME
    return pointer if pointer.is_file() and not sqlite.exists() else sqlite


def _connect(path: Path, *, read_only: bool = False) -> Connection:
    """Open the database that ``path`` (``project.sqlite`` or ``project.url``) names."""
    if path.name == postgres.POINTER_NAME:
        return postgres.connect(postgres.read_pointer(path))
    return connect(path, read_only=read_only)


class Store(ModelTables, CodingTables, LabelTables, AuditTables, DocumentRewrites):
    """A project database. Use :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, conn: Connection) -> None:
        self.path = path
        self.conn: Connection = conn
        #: Called with the timeout (s) when a write must wait for another process's lock.
        self.on_wait: Callable[[float], None] | None = None
        #: Opened read-only because the file or its folder cannot be written.
        self.read_only = False
        self._checked = False
        #: The last decision this process recorded and the server acknowledged (its log
        #: row: id, coder, action, segment id, item key, time), for the message after a
        #: lost connection when the server cannot be asked again.
        self.acknowledged: tuple | None = None

    # -- opening -----------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path) -> Store:
        """Create (or open, if it exists) a project database at ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(path, _connect(path))
        if "meta" not in table_names(store.conn):
            version = ("INSERT INTO meta(key, value) VALUES ('schema_version', "
                       f"'{SCHEMA_VERSION}') ON CONFLICT DO NOTHING;")
            if dialect(store.conn) == POSTGRES:
                with store.transaction() as conn:  # the write lock: one creator at a time
                    if "meta" not in table_names(conn):
                        conn.executescript(postgres.pg_schema(schema()) + version)
            else:
                # executescript commits on its own, so the schema is one script-level
                # transaction.
                store.conn.executescript("BEGIN IMMEDIATE;" + schema() + version + "COMMIT;")
        store._upgrade()
        return store

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open an existing project database; raise ProjectError if absent."""
        path = Path(path)
        if path.name == DB_NAME and not path.exists() \
                and (pointer := path.with_name(postgres.POINTER_NAME)).is_file():
            path = pointer  # a caller that named project.sqlite of a PostgreSQL project
        if not path.is_file():
            raise ProjectError(
                f"no isp-nlp project at {path.parent}: {path.name} not found; "
                f"create one with `isp-nlp init {path.parent}` or pass --project DIR"
            )
        read_only = path.name == DB_NAME and not writable(path)
        try:
            store = cls(path, _connect(path, read_only=read_only))
            if dialect(store.conn) == POSTGRES and "meta" not in table_names(store.conn):
                url = postgres.read_pointer(path)
                store.close()
                raise ProjectError(
                    f"no isp-nlp project in the PostgreSQL database {url} that {path} names; "
                    f"create one with `isp-nlp init {path.parent} --database {url}`")
            row = store.conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        except (sqlite3.DatabaseError, PgError) as exc:
            raise explain_database_error(exc, path) from None
        store.read_only = read_only
        if row is not None and not str(row[0]).isdigit():
            store.close()
            raise DatabaseDamaged(
                f"{path} is damaged: its schema version is {row[0]!r}, not a number; restore "
                "it from a backup"
            )
        if row is None or int(row[0]) > SCHEMA_VERSION:
            found = "none" if row is None else row[0]
            store.close()
            raise ProjectError(
                f"{path} has schema version {found}, this isp-nlp reads version "
                f"{SCHEMA_VERSION}; upgrade isp-nlp or re-create the project"
            )
        store._upgrade()
        return store

    def schema_version(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])

    def _upgrade(self) -> None:
        """Bring an older database to :data:`SCHEMA_VERSION` in one transaction."""
        if self.schema_version() >= SCHEMA_VERSION:
            return
        if self.read_only:
            raise DatabaseReadOnly(
                f"{self.path} has schema version {self.schema_version()} and must be upgraded "
                f"to {SCHEMA_VERSION} once, but its folder is read-only; open it once where it "
                "can be written, or copy the project to a writable folder"
            )
        with self.transaction() as conn:
            version = self.schema_version()  # re-read: another process may have upgraded
            if version >= SCHEMA_VERSION:
                return
            try:
                for v in range(version, SCHEMA_VERSION):
                    MIGRATIONS[v](conn)
            except (sqlite3.Error, PgError, KeyError, TypeError, ValueError) as exc:
                raise ProjectError(
                    f"{self.path} could not be upgraded from schema version {version} to "
                    f"{SCHEMA_VERSION} ({exc}) and is left as it was; keep a copy and "
                    "re-create the project, or report the error"
                ) from None
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                         (str(SCHEMA_VERSION),))
            if dialect(conn) == POSTGRES and team_ready(conn):
                setup_team(conn)  # new tables get the team's grants and policies

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """An IMMEDIATE transaction: all writes inside commit together or not at all.

        Inside another transaction it joins the outer one, so several store calls
        (transcripts, codebook, codings) can be made all-or-nothing together.
        """
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        self._begin(conn)
        try:
            yield conn
        except BaseException as exc:
            if conn.in_transaction:  # SQLite has already rolled back after e.g. a full disk
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                    exc, sqlite3.OperationalError):
                problems = quick_problems(conn)  # a write failed: is the file damaged?
                if problems:
                    raise DatabaseDamaged(
                        f"{self.path} is damaged ({problems[0]}); nothing was written; run "
                        "`isp-nlp check`, and restore it from a backup") from exc
            raise
        else:
            try:
                conn.execute("COMMIT")
            except BaseException:  # e.g. a deferred foreign key or a full disk at COMMIT
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _begin(self, conn: Connection) -> None:
        """Take the write lock; if another process holds it, say so once and wait for it
        up to :func:`lock_timeout` seconds in all (then SQLite's "locked" error)."""
        if self.read_only:
            raise DatabaseReadOnly(
                f"{self.path}: the project folder is read-only, so a command that changes the "
                "project cannot run (nothing was changed); commands that only read it, such "
                "as status, log, agreement and report, work; copy the project to a writable "
                "folder to change it"
            )
        if not self._checked:  # once per command, before its first write
            self._checked = True
            problems = quick_problems(conn)
            if problems:
                raise DatabaseDamaged(
                    f"{self.path} is damaged ({problems[0]}), so nothing was written (writing "
                    "could lose more); run `isp-nlp check`, and restore it from a backup"
                )
        total = lock_timeout()
        first = min(_FIRST_WAIT, total)
        try:
            begin_write(conn, first)
        except DATABASE_ERRORS as exc:
            if not is_lock_wait(exc):
                raise
            if self.on_wait is not None:
                self.on_wait(total)
            begin_write(conn, max(total - first, 0))
        finally:
            if dialect(conn) != POSTGRES:
                conn.execute(f"PRAGMA busy_timeout = {int(total * 1000)}")

    # -- integrity -----------------------------------------------------------
    def check(self) -> list[str]:
        """Every problem ``isp-nlp check`` reports: integrity, missing tables or columns."""
        return full_problems(self.conn)

    def backup(self, directory: str | Path) -> Path:
        """Copy the project (database and trained models) into a new folder ``directory``."""
        return backup_project(self.conn, self.path, directory)

    # -- settings ------------------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute(
            "SELECT value FROM meta WHERE key = ?", ("setting:" + key,)).fetchone()
        return default if row is None else row[0]

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         ("setting:" + key, value))

    # -- transcripts and segments ------------------------------------------
    def transcript_sha(self, document: str) -> str | None:
        row = self.conn.execute(
            "SELECT sha256 FROM transcripts WHERE document = ?", (document,)
        ).fetchone()
        return row[0] if row else None

    def transcript_text(self, document: str) -> str | None:
        """The stored text of ``document``, or None when the project does not hold it."""
        row = self.conn.execute(
            "SELECT text FROM transcripts WHERE document = ?", (document,)).fetchone()
        return row[0] if row else None

    def transcript_record(self, document: str) -> tuple[Transcript, str] | None:
        """``document`` as stored (text, turns, format, warnings) with its segmentation
        unit, or None when the project does not hold it."""
        row = self.conn.execute(
            "SELECT name, sha256, source_format, text, turns, unit, warnings FROM transcripts"
            " WHERE document = ?", (document,)).fetchone()
        if row is None:
            return None
        turns = tuple(Turn(**t) for t in json.loads(row[4]))
        return Transcript(document=document, name=row[0], sha256=row[1], text=row[3],
                          turns=turns, source_format=row[2],
                          warnings=tuple(json.loads(row[6]))), row[5]

    def add_transcripts(
        self, items: Sequence[tuple[Transcript, Sequence[Segment], str]], *, replace: bool = False
    ) -> list[str]:
        """Store transcripts with their segments in one transaction.

        ``items`` holds (transcript, segments, unit). Returns, per item,
        ``added``, ``unchanged`` or ``replaced``. A changed transcript under an
        existing document name is refused unless ``replace``; replacing is
        refused while coders' annotations point at segments that would vanish.
        """
        outcomes: list[str] = []
        with self.transaction() as conn:
            for transcript, segments, unit in items:
                row = conn.execute(
                    "SELECT id, sha256, unit FROM transcripts WHERE document = ?",
                    (transcript.document,),
                ).fetchone()
                if row is not None and row[1] == transcript.sha256 and row[2] == unit:
                    outcomes.append("unchanged")
                    continue
                if row is not None:
                    if not replace:
                        raise ProjectError(
                            f"{transcript.name}: a different version of document "
                            f"'{transcript.document}' is already in the project; pass --replace "
                            "to replace it, or rename the file to add it as a new document"
                        )
                    self._drop_transcript(conn, row[0], {s.id for s in segments}, transcript)
                    outcomes.append("replaced")
                else:
                    outcomes.append("added")
                transcript_id = row_id(conn.execute(
                    "INSERT INTO transcripts(document, name, sha256, source_format, text, turns,"
                    " unit, warnings, ingested_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
                    (
                        transcript.document,
                        transcript.name,
                        transcript.sha256,
                        transcript.source_format,
                        transcript.text,
                        json.dumps([asdict(t) for t in transcript.turns]),
                        unit,
                        json.dumps(list(transcript.warnings)),
                        now(),
                    ),
                ))
                conn.executemany(
                    'INSERT INTO segments(id, transcript_id, idx, turn_index, unit, speaker, start,'
                    ' "end", text, codable) VALUES (?,?,?,?,?,?,?,?,?,?)',
                    [
                        (s.id, transcript_id, s.index, s.turn_index, s.unit, s.speaker,
                         s.start, s.end, s.text, int(s.codable))
                        for s in segments
                    ],
                )
        return outcomes

    def remove_document(self, document: str, coder: str = "") -> dict[str, int]:
        """Delete ``document``'s transcript, segments, annotations, coded spans, notes and
        suggestions in one transaction, and append a ``remove`` row to the log saying
        what went (its decisions stay in the log); return the counts."""
        with self.transaction() as conn:
            row = conn.execute("SELECT id, sha256 FROM transcripts WHERE document = ?",
                               (document,)).fetchone()
            if row is None:
                raise ProjectError(f"document '{document}' is not in the project")
            tid, sha = row
            inside = "SELECT id FROM segments WHERE transcript_id = ?"
            counts = {
                "segments": conn.execute("SELECT COUNT(*) FROM segments WHERE transcript_id = ?",
                                         (tid,)).fetchone()[0],
                "annotations": conn.execute(
                    f"SELECT COUNT(*) FROM annotations WHERE retracted_by IS NULL AND "
                    f"segment_id IN ({inside})", (tid,)).fetchone()[0],
                "decisions": conn.execute(
                    f"SELECT COUNT(*) FROM log WHERE action IN ('accept','reject','relabel')"
                    f" AND segment_id IN ({inside})", (tid,)).fetchone()[0],
            }
            counts["annotations_deleted"] = conn.execute(
                f"DELETE FROM annotations WHERE segment_id IN ({inside})", (tid,)).rowcount
            counts["codings"] = conn.execute("DELETE FROM codings WHERE transcript_id = ?",
                                             (tid,)).rowcount
            counts["notes"] = conn.execute("DELETE FROM notes WHERE document = ?",
                                           (document,)).rowcount
            conn.execute("DELETE FROM attributes WHERE document = ?", (document,))
            counts["suggestions"] = conn.execute(
                f"DELETE FROM suggestions WHERE segment_id IN ({inside})", (tid,)).rowcount
            conn.execute(f"DELETE FROM suggestion_evidence WHERE segment_id IN ({inside})",
                         (tid,))
            conn.execute("DELETE FROM segments WHERE transcript_id = ?", (tid,))
            conn.execute("DELETE FROM transcripts WHERE id = ?", (tid,))
            detail = {"document": document, "sha256": sha,
                      **{k: v for k, v in counts.items() if k != "annotations_deleted"}}
            conn.execute("INSERT INTO log(coder, action, detail, at) VALUES (?, 'remove', ?, ?)",
                         (coder, json.dumps(detail), now()))
        counts.pop("annotations_deleted")
        return counts

    def set_codable(self, segments: Sequence[Segment]) -> int:
        """Set the codable flag of stored segments (matched by id); return how many changed."""
        with self.transaction() as conn:
            return sum(conn.execute("UPDATE segments SET codable = ? WHERE id = ? AND codable != ?",
                                    (int(s.codable), s.id, int(s.codable))).rowcount
                       for s in segments)

    def _drop_transcript(
        self, conn: Connection, transcript_id: int, keep: set[str], t: Transcript
    ) -> None:
        old = {r[0] for r in conn.execute(
            "SELECT id FROM segments WHERE transcript_id = ?", (transcript_id,))}
        vanishing = old - keep
        if vanishing:
            marks = ",".join("?" * len(vanishing))
            n = conn.execute(
                f"SELECT COUNT(*) FROM annotations WHERE segment_id IN ({marks})",
                sorted(vanishing),
            ).fetchone()[0]
            if n:
                raise ProjectError(
                    f"{t.name}: replacing document '{t.document}' would orphan {n} annotations "
                    "on segments that no longer exist; export the codes first "
                    "(`isp-nlp export-codes`) and ingest the new version under another name"
                )
        n = conn.execute("SELECT COUNT(*) FROM codings WHERE transcript_id = ?",
                         (transcript_id,)).fetchone()[0]
        if n:
            raise ProjectError(
                f"{t.name}: replacing document '{t.document}' would lose {n} coded spans "
                "drawn on its text; export the project first (`isp-nlp export`) and ingest "
                "the new version under another name"
            )
        for table in ("suggestions", "suggestion_evidence"):
            conn.execute(f"DELETE FROM {table} WHERE segment_id IN "
                         "(SELECT id FROM segments WHERE transcript_id = ?)", (transcript_id,))
        # Segments kept with identical ids keep their annotations: re-point them.
        defer_foreign_keys(conn)
        conn.execute("DELETE FROM segments WHERE transcript_id = ?", (transcript_id,))
        conn.execute("DELETE FROM transcripts WHERE id = ?", (transcript_id,))

    def transcripts(self) -> list[dict]:
        rows = self.conn.execute(
            "SELECT t.document, t.name, t.sha256, t.source_format, t.unit, t.ingested_at,"
            " COUNT(s.id), SUM(s.codable) FROM transcripts t LEFT JOIN segments s"
            " ON s.transcript_id = t.id GROUP BY t.id ORDER BY t.document"
        ).fetchall()
        keys = ("document", "name", "sha256", "format", "unit", "ingested_at",
                "segments", "codable")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def segments(self, *, document: str | None = None, codable_only: bool = False) -> list[Segment]:
        where, args = [], []
        if document is not None:
            where.append("t.document = ?")
            args.append(document)
        if codable_only:
            where.append("s.codable = 1")
        return self._segment_rows(" AND ".join(where) or "1 = 1", args,
                                  order=" ORDER BY t.document, s.idx")

    def segments_by_id(self, ids: Sequence[str]) -> list[Segment]:
        """The segments of ``ids`` that exist, in document order."""
        out: list[Segment] = []
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out += self._segment_rows(f"s.id IN ({','.join('?' * len(chunk))})", chunk)
        return sorted(out, key=lambda seg: (seg.document, seg.index))

    def segments_around(self, segment: Segment, before: int, after: int) -> list[Segment]:
        """Up to ``before`` segments before ``segment`` and ``after`` after it in its
        document, and the segment itself, in order."""
        return sorted(self._segment_rows(
            "t.document = ? AND s.idx BETWEEN ? AND ?",
            (segment.document, segment.index - before, segment.index + after)),
            key=lambda seg: seg.index)

    def _segment_rows(self, where: str, args: Sequence[object], order: str = ""
                      ) -> list[Segment]:
        """The segments matching ``where`` (over ``s`` segments and ``t`` transcripts)."""
        return [
            Segment(id=r[0], document=r[1], index=r[2], turn_index=r[3], unit=r[4],
                    speaker=r[5], start=r[6], end=r[7], text=r[8], codable=bool(r[9]))
            for r in self.conn.execute(
                'SELECT s.id, t.document, s.idx, s.turn_index, s.unit, s.speaker, s.start,'
                ' s."end", s.text, s.codable FROM segments s JOIN transcripts t'
                f" ON t.id = s.transcript_id WHERE {where}{order}", tuple(args))
        ]

    def document_names(self) -> dict[str, str]:
        """Map both document names and original file names to document names."""
        out: dict[str, str] = {}
        for document, name in self.conn.execute("SELECT document, name FROM transcripts"):
            out[name] = document
            out[document] = document
        return out

    def transcript_texts(self) -> dict[str, str]:
        """The stored text of every transcript (what offsets point into), by document."""
        return dict(self.conn.execute("SELECT document, text FROM transcripts ORDER BY document"))

    # -- embeddings ---------------------------------------------------------
    def embedding_cache(self) -> SqliteEmbeddingCache:
        return SqliteEmbeddingCache(self.conn)
