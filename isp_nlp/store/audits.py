"""Audit samples and blind codes on the project store: blind codings and skips are log
rows, and an undo is an ``undo`` row pointing at one (as in review).

Split from :mod:`isp_nlp.store.database`: :class:`AuditTables` is mixed into
:class:`isp_nlp.store.database.Store`, which supplies ``conn``, ``transaction()`` and
``_replace_labels`` (from :class:`~isp_nlp.store.labels.LabelTables`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager

from isp_nlp.records import CODE_DIMENSION, CODER_SOURCES
from isp_nlp.store.backend import Connection, update_every
from isp_nlp.store.registry import now, row_id

#: The provenance of codes a coder gives in blind review.
BLIND = "blind"
#: The log action of a blind-review coding.
BLIND_ACTION = "blind"
#: The log action of a segment skipped in blind review.
BLIND_SKIP_ACTION = "blind_skip"
#: The blind-review actions an undo can revert (undos are ``undo`` rows, as in review).
BLIND_ACTIONS = (BLIND_ACTION, BLIND_SKIP_ACTION)


class AuditTables:
    """Audit samples (``audits``, ``audit_segments``) and blind codes (a mixin of Store)."""

    conn: Connection
    #: Supplied by Store: the last decision this process recorded (see Store).
    acknowledged: tuple | None

    def transaction(self) -> AbstractContextManager[Connection]:
        """Supplied by Store: an IMMEDIATE transaction (joining an outer one)."""
        raise NotImplementedError

    def save_audit(self, *, seed: int, n: int, documents: Sequence[str],
                   segment_ids: Sequence[str]) -> int:
        """Record a drawn sample, its segments in drawn order; return its id."""
        with self.transaction() as conn:
            audit_id = row_id(conn.execute(
                "INSERT INTO audits(created_at, seed, n, documents) VALUES (?,?,?,?)"
                " RETURNING id",
                (now(), int(seed), int(n), json.dumps(list(documents)))))
            conn.executemany(
                "INSERT INTO audit_segments(audit_id, segment_id, position) VALUES (?,?,?)",
                [(audit_id, seg, i) for i, seg in enumerate(segment_ids)])
        return audit_id

    def audits(self) -> list[dict]:
        """Every audit sample, oldest first: id, created_at, seed, n, documents, segments."""
        rows = self.conn.execute(
            "SELECT a.id, a.created_at, a.seed, a.n, a.documents,"
            " (SELECT COUNT(*) FROM audit_segments s WHERE s.audit_id = a.id)"
            " FROM audits a ORDER BY a.id").fetchall()
        return [{"id": r[0], "created_at": r[1], "seed": r[2], "n": r[3],
                 "documents": json.loads(r[4]), "segments": r[5]} for r in rows]

    def audit_segment_ids(self, audit_id: int) -> list[str] | None:
        """The segment ids of audit ``audit_id`` in drawn order; None if there is none."""
        if self.conn.execute("SELECT 1 FROM audits WHERE id = ?", (audit_id,)).fetchone() is None:
            return None
        return [r[0] for r in self.conn.execute(
            "SELECT segment_id FROM audit_segments WHERE audit_id = ? ORDER BY position",
            (audit_id,))]

    def coded_segment_ids(self, coder: str | None = None) -> set[str]:
        """Segments with an active annotation from a coder source (see
        :data:`~isp_nlp.records.CODER_SOURCES`); only ``coder``'s if given."""
        sql = (f"SELECT DISTINCT segment_id FROM annotations WHERE retracted_by IS NULL"
               f" AND source IN ({','.join('?' * len(CODER_SOURCES))})")
        args: list[str] = list(CODER_SOURCES)
        if coder is not None:
            sql += " AND coder = ?"
            args.append(coder)
        return {r[0] for r in self.conn.execute(sql, args)}

    def record_blind(self, coder: str, segment_id: str, codes: Sequence[str],
                     values: Mapping[str, str]) -> int:
        """Store ``coder``'s blind codes (and one value per dimension given) for a segment
        as ``blind`` annotations created by one log row; return its id."""
        labels: set[str | None] = set(codes) or {None}
        with self.transaction() as conn:
            log_id = row_id(conn.execute(
                "INSERT INTO log(coder, action, segment_id, detail, at) VALUES (?,?,?,?,?)"
                " RETURNING id",
                (coder, BLIND_ACTION, segment_id,
                 json.dumps({"codes": list(codes), "values": dict(values)}), now())))
            self._replace_labels(conn, segment_id, coder, CODE_DIMENSION,  # type: ignore[attr-defined]
                                 labels, BLIND, log_id)
            for dimension, value in values.items():
                self._replace_labels(conn, segment_id, coder, dimension,  # type: ignore[attr-defined]
                                     {value}, BLIND, log_id)
        self.acknowledged = (log_id, coder, BLIND_ACTION, segment_id, None, None)
        return log_id

    def record_blind_skip(self, coder: str, segment_id: str,
                          audit_id: int | None = None) -> int:
        """Log that ``coder`` skipped ``segment_id`` in blind review (nothing is coded; the
        segment stays in the coder's queue); return the log id."""
        with self.transaction() as conn:
            log_id = row_id(conn.execute(
                "INSERT INTO log(coder, action, segment_id, detail, at) VALUES (?,?,?,?,?)"
                " RETURNING id",
                (coder, BLIND_SKIP_ACTION, segment_id,
                 json.dumps({} if audit_id is None else {"audit": audit_id}), now())))
        self.acknowledged = (log_id, coder, BLIND_SKIP_ACTION, segment_id, None, None)
        return log_id

    def undo_blind(self, coder: str) -> tuple[str, str] | None:
        """Revert ``coder``'s most recent blind coding or skip not yet undone, in this
        session or an earlier one: an ``undo`` row pointing at it, the blind annotations
        it wrote retracted and those it replaced restored (as review's undo does).
        Return (its action, its segment id), or None when there is nothing to undo."""
        marks = ",".join("?" * len(BLIND_ACTIONS))
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id, action, segment_id FROM log l"
                f" WHERE coder = ? AND action IN ({marks})"
                " AND NOT EXISTS (SELECT 1 FROM log u WHERE u.undoes = l.id)"
                " ORDER BY id DESC LIMIT 1", (coder, *BLIND_ACTIONS)).fetchone()
            if row is None:
                return None
            undo_id = row_id(conn.execute(
                "INSERT INTO log(coder, action, segment_id, detail, undoes, at)"
                " VALUES (?, 'undo', ?, ?, ?, ?) RETURNING id",
                (coder, row[2], json.dumps({"blind": True}), row[0], now())))
            update_every(conn, "annotations", "retracted_by = ?",
                         "created_by = ? AND retracted_by IS NULL", (undo_id,), (row[0],))
            update_every(conn, "annotations", "retracted_by = NULL", "retracted_by = ?",
                         (), (row[0],))
        return str(row[1]), str(row[2])
