"""The schema version and the upgrades that bring older project databases to it.

A project on PostgreSQL starts at the current :data:`SCHEMA_VERSION` (schema.sql, in
PostgreSQL's dialect by :func:`isp_nlp.store.postgres.pg_schema`); :data:`MIGRATIONS`
stay the one upgrade path for both backends, so a new migration is written in the SQL
both accept (``?`` placeholders, ``ON CONFLICT``, no ``PRAGMA``: ask
:mod:`isp_nlp.store.backend` for tables and columns) and tested on both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources

from isp_nlp.store.backend import POSTGRES, Connection, dialect, table_columns
from isp_nlp.store.postgres import pg_schema

SCHEMA_VERSION = 12


def schema() -> str:
    """The current schema (schema.sql)."""
    return resources.files("isp_nlp.store").joinpath("schema.sql").read_text(encoding="utf-8")


def _table_sql(name: str) -> str:
    """The ``CREATE TABLE`` statement for ``name`` in schema.sql (which has no ';' in comments)."""
    for statement in schema().split(";"):
        if f"CREATE TABLE IF NOT EXISTS {name} (" in statement:
            return statement.strip()
    raise KeyError(name)


def _evidence_out_of_suggestions(conn: Connection) -> None:
    """Version 1 → 2: evidence moves from every suggestion row to ``suggestion_evidence``.

    The first row of each (model, segment, dimension), by label, gives the evidence;
    the writer of version 1 gave every row of that group the same list.
    """
    conn.execute(_table_sql("suggestion_evidence"))
    rows = conn.execute(
        "SELECT model_id, segment_id, dimension, evidence FROM suggestions"
        " ORDER BY model_id, segment_id, dimension, label"
    ).fetchall()
    seen: set[tuple[str, str, str]] = set()
    for model_id, segment_id, dimension, evidence in rows:
        if (model_id, segment_id, dimension) in seen:
            continue
        seen.add((model_id, segment_id, dimension))
        conn.executemany(
            "INSERT INTO suggestion_evidence VALUES (?,?,?,?,?,?,?,?)",
            [(model_id, segment_id, dimension, rank, e["segment_id"], float(e["similarity"]),
              e["text"], json.dumps(list(e["labels"])))
             for rank, e in enumerate(json.loads(evidence))],
        )
    conn.execute("ALTER TABLE suggestions DROP COLUMN evidence")


def _code_colours(conn: Connection) -> None:
    """Version 2 → 3: codes keep their colour (``#RRGGBB`` or empty), as REFI-QDA exchanges it."""
    conn.execute("ALTER TABLE codes ADD COLUMN color TEXT NOT NULL DEFAULT ''")


def _codings_coders_notes(conn: Connection) -> None:
    """Version 3 → 4: exact coded spans, coders and notes, as QDA tools exchange them."""
    for table in ("coders", "codings", "notes"):
        conn.execute(_table_sql(table))
    conn.execute("CREATE INDEX IF NOT EXISTS codings_by_transcript"
                 " ON codings(transcript_id, start)")


def _code_guids(conn: Connection) -> None:
    """Version 4 → 5: codes keep the GUID their QDA tool gave them, for the way back."""
    if "guid" not in table_columns(conn, "codes"):
        conn.execute("ALTER TABLE codes ADD COLUMN guid TEXT NOT NULL DEFAULT ''")


def _out_of_fold_runs(conn: Connection) -> None:
    """Version 5 → 6: a model's out-of-fold run is recorded in ``out_of_fold_runs``; runs
    stored before under the model id plus ``/cv`` are registered as they are."""
    conn.execute(_table_sql("out_of_fold_runs"))
    conn.execute(
        "INSERT INTO out_of_fold_runs(model_id, run_id)"
        " SELECT m.id, m.id || '/cv' FROM models AS m WHERE EXISTS"
        " (SELECT 1 FROM suggestions AS s WHERE s.model_id = m.id || '/cv')"
        " ON CONFLICT DO NOTHING")


def _dimensions(conn: Connection) -> None:
    """Version 6 → 7: a codebook declares its single-choice dimensions. A project whose
    codebook has stage values gets the stage dimension those values belonged to (ordered
    push < push_pull < exchange, 'none' outside the order, followed by pathways)."""
    conn.execute(_table_sql("dimensions"))
    if conn.execute("SELECT 1 FROM codes WHERE dimension = 'stage' LIMIT 1").fetchone():
        conn.execute("INSERT INTO dimensions(id, position, name, ordered, pathway,"
                     " unordered) VALUES ('stage', 0, 'Stage', 1, 1, '[\"none\"]')"
                     " ON CONFLICT DO NOTHING")


def _audits(conn: Connection) -> None:
    """Version 7 → 8: audit samples (``audits``) and their segments in drawn order
    (``audit_segments``)."""
    for table in ("audits", "audit_segments"):
        conn.execute(_table_sql(table))


def _exclusive_codes_certificates(conn: Connection) -> None:
    """Version 8 → 9: codes may mark their children mutually exclusive
    (``codes.exclusive``), and wave certificates are kept (``certificates``)."""
    if "exclusive" not in table_columns(conn, "codes"):
        conn.execute("ALTER TABLE codes ADD COLUMN exclusive INTEGER NOT NULL DEFAULT 0")
    conn.execute(_table_sql("certificates"))


def _review_scores(conn: Connection) -> None:
    """Version 9 → 10: the review queue's scores are kept (empty: the next review fills
    them)."""
    conn.execute(_table_sql("review_scores"))
    conn.execute("CREATE INDEX IF NOT EXISTS review_scores_by_score"
                 " ON review_scores(model_id, score)")


def _memos_attributes(conn: Connection) -> None:
    """Version 10 → 11: a note may be a memo on a code (``notes.dimension``,
    ``notes.code``), and documents carry attributes (``attributes``)."""
    columns = table_columns(conn, "notes")
    for column in ("dimension", "code"):
        if column not in columns:
            conn.execute(f"ALTER TABLE notes ADD COLUMN {column} TEXT")
    conn.execute(_table_sql("attributes"))


def _model_files(conn: Connection) -> None:
    """Version 11 → 12: a project on PostgreSQL keeps its models' files in the database
    (``model_files``), so every coder's machine sees the same models."""
    table = _table_sql("model_files")
    if dialect(conn) == POSTGRES:
        table = pg_schema(table)
    conn.execute(table)


#: Schema upgrades: ``MIGRATIONS[v]`` turns version ``v`` into ``v + 1``. They run in one
#: transaction with the version bump, so a database is upgraded wholly or not at all.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _evidence_out_of_suggestions,
    2: _code_colours,
    3: _codings_coders_notes,
    4: _code_guids,
    5: _out_of_fold_runs,
    6: _dimensions,
    7: _audits,
    8: _exclusive_codes_certificates,
    9: _review_scores,
    10: _memos_attributes,
    11: _model_files,
}
