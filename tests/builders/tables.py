"""A project database read into normalised, sorted rows, for exact round-trip comparisons.

:func:`project_tables` reads ``project.sqlite`` (schema: ``isp_nlp/store/schema.sql``)
into one list of tuples per table, holding everything a REFI-QDA export → import must
carry over unchanged. :func:`diff_tables` says, in a few short lines, how two such
readings differ (for assertion messages). :func:`tables` is a coarser reading (row
reprs of every table) for checking that a refused command changed nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.store.decisions import DECISION_ACTIONS

#: Log actions that are review decisions (``review`` and its undo); see store/decisions.py.
REVIEW_ACTIONS = (*DECISION_ACTIONS, "undo")
#: Tables an import legitimately writes anew (its own ``import`` log rows), so a round
#: trip need not keep them; every other table of :func:`project_tables` must be equal.
SET_ANEW = ("log_imports",)


def _key(row: Sequence[Any]) -> tuple:
    """Sort key that orders None first and never compares an int with a str."""
    return tuple((0, "", 0) if v is None else (1, type(v).__name__, v) for v in row)


def _json(text: str | None) -> str | None:
    """A JSON text with its keys sorted, so equal content compares equal."""
    return None if text is None else json.dumps(json.loads(text), sort_keys=True,
                                                 ensure_ascii=False)


def _sorted(conn: sqlite3.Connection, sql: str) -> list[tuple]:
    return sorted((tuple(r) for r in conn.execute(sql)), key=_key)


def _log(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """The log split by kind; ``undoes`` as the position of the undone decision."""
    rows = conn.execute(
        "SELECT id, coder, action, item_key, segment_id, model_id, detail, undoes, at"
        " FROM log ORDER BY id").fetchall()
    decisions = [r for r in rows if r[2] in REVIEW_ACTIONS]
    position = {r[0]: i for i, r in enumerate(decisions)}
    out: dict[str, list[tuple]] = {"log_decisions": [], "log_imports": [], "log_other": []}
    for r in decisions:
        undone = None if r[7] is None else position.get(r[7], f"not a decision: id {r[7]}")
        out["log_decisions"].append((r[1], r[2], r[3], r[4], r[5], _json(r[6]), undone, r[8]))
    for r in rows:
        if r[2] == "import":
            detail = json.loads(r[6])
            detail.pop("source", None)  # the imported file's name
            out["log_imports"].append((r[1], r[2], json.dumps(detail, sort_keys=True)))
        elif r[2] not in REVIEW_ACTIONS:
            out["log_other"].append((r[1], r[2], r[3], r[4], r[5], _json(r[6]), r[8]))
    return out


def project_tables(db_path: Path) -> dict[str, list[tuple]]:
    """Normalised rows of the project database ``db_path`` (a ``project.sqlite`` or the
    project folder holding it), by table, sorted; the decision log in log order.

    Left out, because an import sets them anew: row ids (transcripts, codings,
    annotations, notes, log; a transcript or a decision is named by its document or
    its position instead), ``transcripts`` sha256 / source_format / turns / warnings /
    ingested_at (the bytes read differ: a .qdpx instead of the original file),
    ``annotations.created_at`` / ``created_by`` and retracted rows (only active labels
    count), ``codebook.source`` / ``loaded_at``, the ``detail.source`` file name of
    ``import`` log rows, and the tables a project derives or caches (embeddings, models,
    suggestions, suggestion_evidence, meta). ``log_imports`` is returned but is by
    nature not equal across an import (see :data:`SET_ANEW`).
    """
    path = Path(db_path)
    if path.is_dir():
        path = path / "project.sqlite"
    if not path.is_file():
        raise FileNotFoundError(f"no project database at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = {
            "transcripts": _sorted(conn, "SELECT document, name, text FROM transcripts"),
            "segments": _sorted(conn, (
                'SELECT s.id, t.document, s.idx, s.turn_index, s.unit, s.speaker, s.start,'
                ' s."end", s.text, s.codable FROM segments s'
                " JOIN transcripts t ON t.id = s.transcript_id")),
            "codebook": _sorted(conn, "SELECT name FROM codebook"),
            "codes": _sorted(conn, (
                "SELECT dimension, position, id, name, parent, definition, include, exclude,"
                " examples, color FROM codes")),
            "dimensions": _sorted(conn, (
                "SELECT id, position, name, definition, ordered, pathway, unordered, guid"
                " FROM dimensions")),
            "coders": _sorted(conn, "SELECT name, guid, initials FROM coders"),
            "codings": _sorted(conn, (
                'SELECT t.document, c.start, c."end", c.dimension, c.code, c.coder, c.source,'
                " c.guid, c.created_at FROM codings c"
                " JOIN transcripts t ON t.id = c.transcript_id")),
            "annotations": _sorted(conn, (
                "SELECT segment_id, coder, dimension, label, source FROM annotations"
                " WHERE retracted_by IS NULL")),
            "notes": _sorted(conn, (
                'SELECT guid, title, text, coder, document, start, "end", created_at'
                " FROM notes")),
        }
        out.update(_log(conn))
        return out
    finally:
        conn.close()


def _short(row: tuple, width: int = 160) -> str:
    text = repr(row)
    return text if len(text) <= width else text[: width - 1] + "…"


def diff_tables(a: dict[str, list[tuple]], b: dict[str, list[tuple]], *,
                rows: int = 3, skip: Sequence[str] = ()) -> list[str]:
    """Short lines saying where readings ``a`` and ``b`` differ: per differing table its
    counts and the first ``rows`` rows only in one of them. Empty when they are equal
    (tables in ``skip`` are not compared)."""
    lines: list[str] = []
    for table in sorted(set(a) | set(b)):
        if table in skip:
            continue
        left, right = a.get(table, []), b.get(table, [])
        if left == right:
            continue
        only_a = list((Counter(left) - Counter(right)).elements())
        only_b = list((Counter(right) - Counter(left)).elements())
        lines.append(f"{table}: A {len(left)} rows vs B {len(right)}; "
                     f"{len(only_a)} only in A, {len(only_b)} only in B")
        if not only_a and not only_b:
            first = next(i for i, (x, y) in enumerate(zip(left, right, strict=True)) if x != y)
            lines.append(f"  same rows in another order, first at position {first}: "
                         f"A {_short(left[first])} / B {_short(right[first])}")
        lines += [f"  A only: {_short(r)}" for r in sorted(only_a, key=_key)[:rows]]
        lines += [f"  B only: {_short(r)}" for r in sorted(only_b, key=_key)[:rows]]
    return lines


def same_project_lines(a: Path, b: Path) -> list[str]:
    """:func:`diff_tables` of projects ``a`` and ``b``, leaving out :data:`SET_ANEW`."""
    return diff_tables(project_tables(a), project_tables(b), skip=SET_ANEW)


def cli_ok(*args: object) -> str:
    """Run ``isp-nlp ARGS`` in-process; return its output, failing the test on exit != 0."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    output = result.output if len(result.output) <= 600 else result.output[:600] + " …"
    assert result.exit_code == 0, (
        f"isp-nlp {' '.join(map(str, args))} exited {result.exit_code}: {output}"
        + (f"\n{result.exception!r}" if result.exception else ""))
    return result.output


def tables(project: Path) -> dict[str, list[tuple]]:
    """Every table of the project folder's database, as sorted row reprs: what a refused
    import must leave exactly as it was."""
    conn = sqlite3.connect(project / "project.sqlite")
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: sorted(map(repr, conn.execute(f"SELECT * FROM {n}"))) for n in names}
    finally:
        conn.close()
