"""Durable, attributed review decisions on the project store.

Implements the review ``DecisionRecorder`` protocol. The ``log`` table is
append-only: a decision is one row, an undo is another row pointing at it.
Annotations created by a decision carry its log id, so undo retracts exactly
what the decision wrote and restores what it replaced. Each call is one
IMMEDIATE transaction with ``synchronous=FULL``: once :meth:`record` returns,
the decision survives a crash or ``kill -9``.

Recording is idempotent per (coder, item key): the claim (no effective final decision of
this coder on this item) and the insert are one transaction under the project's write
lock, so a decision is logged at most once even when a COMMIT's fate is unknown (the
connection dropped during it): the resumed review reads :meth:`DecisionLog.decided`,
skips the item if the COMMIT landed, and records it once if it did not.
:func:`lost_connection_error` is what a command says when the server went away.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import NamedTuple

from isp_nlp.errors import AlreadyDecided, ProjectError
from isp_nlp.records import STAGE_DIMENSION, Decision, Note
from isp_nlp.store import postgres
from isp_nlp.store.audits import BLIND_ACTIONS
from isp_nlp.store.backend import update_every
from isp_nlp.store.database import Store
from isp_nlp.store.failures import DATABASE_ERRORS
from isp_nlp.store.registry import now, row_id

FINAL_ACTIONS = ("accept", "reject", "relabel")
DECISION_ACTIONS = (*FINAL_ACTIONS, "skip")
ASSISTED = "assisted"


class DecisionLog:
    """The review decision recorder for one project."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, decision: Decision) -> int:
        """Commit a decision (and the annotations it implies) and return its log id."""
        if decision.action not in DECISION_ACTIONS:
            raise ValueError(f"unknown review action {decision.action!r}")
        detail = {
            "codes": list(decision.codes),
            "values": dict(decision.values),
            "suggestion": decision.suggestion,
        }
        with self.store.transaction() as conn:
            # The claim and the decision are one transaction: of two processes of the same
            # coder deciding one item, the second finds the first's row and is refused.
            settled = conn.execute(
                "SELECT action FROM log l WHERE coder = ? AND item_key = ?"
                f" AND action IN ({','.join('?' * len(FINAL_ACTIONS))})"
                " AND NOT EXISTS (SELECT 1 FROM log u WHERE u.undoes = l.id)"
                " ORDER BY id DESC LIMIT 1",
                (decision.coder, decision.item_key, *FINAL_ACTIONS)).fetchone()
            if settled is not None:
                raise AlreadyDecided(decision.coder, settled[0])
            log_id = row_id(conn.execute(
                "INSERT INTO log(coder, action, item_key, segment_id, model_id, detail, at)"
                " VALUES (?,?,?,?,?,?,?) RETURNING id",
                (decision.coder, decision.action, decision.item_key, decision.segment_id,
                 decision.model_id, json.dumps(detail), now()),
            ))
            if decision.action in ("accept", "relabel"):
                codes: set[str | None] = set(decision.codes) or {None}
                self.store._replace_labels(conn, decision.segment_id, decision.coder, "code",
                                           codes, ASSISTED, log_id)
                for dimension, value in decision.values:  # one annotation per dimension
                    self.store._replace_labels(conn, decision.segment_id, decision.coder,
                                               dimension, {value}, ASSISTED, log_id)
        self.store.acknowledged = (log_id, decision.coder, decision.action,
                                   decision.segment_id, decision.item_key, None)
        return log_id

    def event(self, coder: str, action: str, detail: dict, *, segment_id: str | None = None,
              model_id: str | None = None) -> int:
        """Append an action that is not a decision on an item (memo, retrain, certify) to
        the audit trail, committed at once; return its log id. ``detail`` is JSON-safe
        and says what changed (before and after where there is a before)."""
        if action in DECISION_ACTIONS or action in ("undo", "import"):
            raise ValueError(f"{action!r} is recorded by its own method, not as an event")
        with self.store.transaction() as conn:
            return row_id(conn.execute(
                "INSERT INTO log(coder, action, segment_id, model_id, detail, at)"
                " VALUES (?,?,?,?,?,?) RETURNING id",
                (coder, action, segment_id, model_id, json.dumps(detail), now())))

    def memo(self, coder: str, note: Note, *, segment_id: str | None = None,
             model_id: str | None = None) -> None:
        """Keep ``note`` as ``coder``'s memo and append a ``memo`` event saying what it is
        on, in one transaction (the one home of memos: the review's and ``isp-nlp memo``'s).
        """
        detail: dict[str, object] = {"text": note.text}
        if note.code is not None:
            detail |= {"dimension": note.dimension, "code": note.code}
        elif note.document is not None and segment_id is None:
            detail["document"] = note.document
        with self.store.transaction():
            self.store.add_notes([replace(note, coder=coder)])
            self.event(coder, "memo", detail, segment_id=segment_id, model_id=model_id)

    def undo_last(self, coder: str) -> Decision | None:
        """Revert the coder's most recent decision that is not yet undone."""
        with self.store.transaction() as conn:
            marks = ",".join("?" * len(DECISION_ACTIONS))
            row = conn.execute(
                "SELECT id, item_key, segment_id, action, model_id, detail FROM log l"
                f" WHERE coder = ? AND action IN ({marks})"
                " AND NOT EXISTS (SELECT 1 FROM log u WHERE u.undoes = l.id)"
                " ORDER BY id DESC LIMIT 1",
                (coder, *DECISION_ACTIONS),
            ).fetchone()
            if row is None:
                return None
            undo_id = row_id(conn.execute(
                "INSERT INTO log(coder, action, item_key, segment_id, model_id, detail, undoes, at)"
                " VALUES (?, 'undo', ?, ?, ?, '{}', ?, ?) RETURNING id",
                (coder, row[1], row[2], row[4], row[0], now()),
            ))
            update_every(conn, "annotations", "retracted_by = ?",
                         "created_by = ? AND retracted_by IS NULL", (undo_id,), (row[0],))
            update_every(conn, "annotations", "retracted_by = NULL", "retracted_by = ?",
                         (), (row[0],))
        return _decision(coder, row)

    def decided(self, coder: str) -> dict[str, str]:
        """item key → last effective (not undone) action of this coder."""
        out: dict[str, str] = {}
        marks = ",".join("?" * len(DECISION_ACTIONS))
        for key, action in self.store.conn.execute(
            "SELECT item_key, action FROM log l"
            f" WHERE coder = ? AND action IN ({marks})"
            " AND NOT EXISTS (SELECT 1 FROM log u WHERE u.undoes = l.id) ORDER BY id",
            (coder, *DECISION_ACTIONS),
        ):
            out[key] = action
        return out

    def entries(self, coder: str | None = None, since: str | None = None) -> list[dict]:
        """Every log row (decisions, undos, imports) in order, JSON-safe; only ``coder``'s,
        and only those at or after ``since`` (UTC, ISO 8601 as :func:`now` writes it)."""
        sql = (
            "SELECT l.id, l.coder, l.action, l.item_key, l.segment_id, t.document, s.idx,"
            " l.model_id, l.detail, l.undoes, l.at,"
            " EXISTS (SELECT 1 FROM log u WHERE u.undoes = l.id)"
            " FROM log l LEFT JOIN segments s ON s.id = l.segment_id"
            " LEFT JOIN transcripts t ON t.id = s.transcript_id"
        )
        where, args = [], []
        if coder is not None:
            where.append("l.coder = ?")
            args.append(coder)
        if since is not None:
            where.append("l.at >= ?")
            args.append(since)
        if where:
            sql += " WHERE " + " AND ".join(where)
        out = []
        for r in self.store.conn.execute(sql + " ORDER BY l.id", tuple(args)):
            detail = json.loads(r[8])
            out.append({
                "id": r[0], "coder": r[1], "action": r[2], "item_key": r[3],
                "segment_id": r[4], "document": r[5], "segment_index": r[6],
                "model_id": r[7], "codes": detail.get("codes"), "values": _values(detail),
                "detail": {k: v for k, v in detail.items()
                           if k not in ("codes", "values", "stage")},
                "undoes": r[9], "undone": bool(r[11]), "at": r[10],
            })
        return out


_LAST_DECISION = (
    "SELECT l.id, l.coder, l.action, l.segment_id, l.item_key, l.at, t.document, s.idx"
    " FROM log l LEFT JOIN segments s ON s.id = l.segment_id"
    " LEFT JOIN transcripts t ON t.id = s.transcript_id"
    f" WHERE l.coder = ? AND l.action IN ({','.join('?' * (len(DECISION_ACTIONS) + 3))})"
    " ORDER BY l.id DESC LIMIT 1")


def lost_connection_error(store: Store, coder: str | None) -> ProjectError:
    """What to say when the PostgreSQL server went away mid-command: one sentence naming
    ``coder``'s last decision the server holds (asked again on a new connection; what
    this process last heard acknowledged when it cannot be asked) and how to resume."""
    if coder is None:
        return ProjectError(
            "the server went away, so the command's last change was not made (each change "
            "commits whole or not at all); check that the server runs, and run the same "
            "command again")
    row = None
    asked = False
    try:
        conn = postgres.connect(postgres.read_pointer(store.path))
    except ProjectError:
        conn = None
    if conn is not None:
        try:
            row = conn.execute(_LAST_DECISION, (coder, *DECISION_ACTIONS, "undo",
                                                *BLIND_ACTIONS)).fetchone()
            asked = True
        except DATABASE_ERRORS:
            pass
        finally:
            conn.close()
    if not asked:
        mine = store.acknowledged
        row = None if mine is None or mine[1] != coder else (*mine, None, None)
    if row is None:
        last = (f"none yet ({coder} has decided nothing in this project)" if asked else
                "none in this run (the server could not be asked about earlier ones)")
    else:
        where = f" on {row[6]} #{row[7]}" if row[6] is not None else ""
        at = f" at {row[5][:19].replace('T', ' ')} UTC" if row[5] else ""
        last = (f"{row[2]}{where} (segment {row[3]}, item {str(row[4])[:12]}, log id "
                f"{row[0]}){at}")
    return ProjectError(f"the server went away; your last acknowledged decision was {last}; "
                        "run the same command to resume")


def _values(detail: dict) -> dict[str, str]:
    """The values a logged decision asserted, dimension id → value id."""
    if "values" in detail:
        return {str(k): str(v) for k, v in (detail.get("values") or {}).items()
                if v is not None}
    # Legacy read: rows logged before review knew user-defined dimensions (and rows such
    # projects exported) hold "stage": value-or-null instead of "values"; it is a value
    # of the stage dimension.
    stage = detail.get("stage")
    return {STAGE_DIMENSION: str(stage)} if stage is not None else {}


def _decision(coder: str, row: tuple) -> Decision:
    detail = json.loads(row[5])
    return Decision(
        coder=coder, item_key=row[1], segment_id=row[2], action=row[3],
        codes=tuple(detail.get("codes") or ()), model_id=row[4] or "",
        values=tuple(sorted(_values(detail).items())),
        suggestion=detail.get("suggestion") or {},
    )


class Rejection(NamedTuple):
    """An effective (not undone) reject: the codes the model suggested on a segment
    that its coder turned down, and the model that suggested them."""

    segment_id: str
    coder: str
    codes: tuple[str, ...]
    model_id: str


def effective_rejects(store: Store) -> list[Rejection]:
    """Every reject decision not undone, oldest first, with the codes its suggestion
    snapshot suggested (``suggested_codes``; empty when it suggested none)."""
    out = []
    for segment_id, coder, model_id, detail in store.conn.execute(
        "SELECT segment_id, coder, model_id, detail FROM log l WHERE action = 'reject'"
        " AND segment_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM log u WHERE u.undoes = l.id) ORDER BY id"):
        shown = json.loads(detail).get("suggestion") or {}
        codes = tuple(str(c) for c in shown.get("suggested_codes") or ())
        out.append(Rejection(segment_id, coder, codes, model_id or ""))
    return out
