"""Certificates of a model's suggestion threshold on the project store (``certificates``).

A row is one target ("code" or a dimension id) of one model, certified either on the
seeds' out-of-fold predictions (``audit_id`` None) or on the blind codes of an audit
sample of a wave (``audit_id`` set). ``detail`` is the JSON the certifier wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from isp_nlp.store.database import Store
from isp_nlp.store.registry import now, row_id


def save_certificate(store: Store, model_id: str, audit_id: int | None, target: str,
                     detail: Mapping[str, Any]) -> int:
    """Record one certificate; return its id."""
    with store.transaction() as conn:
        return row_id(conn.execute(
            "INSERT INTO certificates(model_id, audit_id, target, detail, created_at)"
            " VALUES (?,?,?,?,?) RETURNING id",
            (model_id, audit_id, target, json.dumps(dict(detail)), now())))


def certificates(store: Store, *, model_id: str | None = None,
                 audit_id: int | None = None) -> list[dict[str, Any]]:
    """Every certificate (only ``model_id``'s / ``audit_id``'s if given), oldest first:
    id, model_id, audit_id, target, detail (a dict) and created_at."""
    sql = "SELECT id, model_id, audit_id, target, detail, created_at FROM certificates"
    where: list[str] = []
    args: list[str | int] = []
    if model_id is not None:
        where.append("model_id = ?")
        args.append(model_id)
    if audit_id is not None:
        where.append("audit_id = ?")
        args.append(audit_id)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [{"id": r[0], "model_id": r[1], "audit_id": r[2], "target": r[3],
             "detail": json.loads(r[4]), "created_at": r[5]}
            for r in store.conn.execute(sql + " ORDER BY id", args)]


def latest_wave_certificates(store: Store, model_id: str) -> list[dict[str, Any]]:
    """The certificates of ``model_id``'s latest wave certification (the rows of the
    newest audit certification run: same audit, same time), in the order written; [] if
    the model has none."""
    rows = [r for r in certificates(store, model_id=model_id) if r["audit_id"] is not None]
    if not rows:
        return []
    last = rows[-1]
    return [r for r in rows if r["audit_id"] == last["audit_id"]
            and r["detail"].get("run") == last["detail"].get("run")]
