"""The codebook and coders' segment-level labels (annotations) of a project database.

Split from :mod:`isp_nlp.store.database`: :class:`LabelTables` is mixed into
:class:`isp_nlp.store.database.Store`, which supplies ``conn`` and ``transaction()``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager

from isp_nlp.errors import ProjectError
from isp_nlp.records import CODE_DIMENSION, Annotation, Code, Codebook, Dimension
from isp_nlp.store.backend import Connection
from isp_nlp.store.registry import now, row_id


class LabelTables:
    """The codebook and the annotations (a mixin of Store)."""

    conn: Connection

    def transaction(self) -> AbstractContextManager[Connection]:
        """Supplied by Store: an IMMEDIATE transaction (joining an outer one)."""
        raise NotImplementedError

    # -- codebook ----------------------------------------------------------
    def save_codebook(self, codebook: Codebook, source: str) -> None:
        """Replace the project's codebook; refuse if annotations use removed codes."""
        with self.transaction() as conn:
            new_ids = {("code", c.id) for c in codebook.codes}
            new_ids |= {(d.id, v.id) for d in codebook.dimensions for v in d.values}
            used = conn.execute(
                "SELECT DISTINCT dimension, label FROM annotations"
                " WHERE label IS NOT NULL AND retracted_by IS NULL"
            ).fetchall()
            missing = sorted(label for dim, label in used if (dim, label) not in new_ids)
            if missing:
                raise ProjectError(
                    f"{source}: the new codebook drops codes still used by annotations "
                    f"({', '.join(missing[:5])}); keep those codes or recode the segments first"
                )
            conn.execute("DELETE FROM codes")
            conn.execute("DELETE FROM dimensions")
            conn.execute(
                "INSERT INTO codebook(id, name, source, loaded_at) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                " source = excluded.source, loaded_at = excluded.loaded_at",
                (codebook.name, source, now()),
            )
            rows = [
                (c.id, c.dimension, i, c.name, c.parent, c.definition, c.include, c.exclude,
                 json.dumps(list(c.examples)), c.color, c.guid, int(c.exclusive))
                for i, c in enumerate(
                    [*codebook.codes, *(v for d in codebook.dimensions for v in d.values)])
            ]
            conn.executemany(
                "INSERT INTO codes(id, dimension, position, name, parent, definition, include,"
                " exclude, examples, color, guid, exclusive) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                rows)
            conn.executemany(
                "INSERT INTO dimensions(id, position, name, definition, ordered, pathway,"
                " unordered, guid) VALUES (?,?,?,?,?,?,?,?)",
                [(d.id, i, d.name, d.definition, int(d.ordered), int(d.pathway),
                  json.dumps(list(d.unordered)), d.guid)
                 for i, d in enumerate(codebook.dimensions)])

    def codebook(self) -> Codebook | None:
        """The project's codebook, or None before one is loaded."""
        head = self.conn.execute("SELECT name FROM codebook WHERE id = 1").fetchone()
        if head is None:
            return None
        codes: list[Code] = []
        values: dict[str, list[Code]] = {}
        for r in self.conn.execute(
            "SELECT id, dimension, name, parent, definition, include, exclude, examples, color,"
            " guid, exclusive FROM codes ORDER BY position"
        ):
            code = Code(id=r[0], dimension=r[1], name=r[2], parent=r[3], definition=r[4],
                        include=r[5], exclude=r[6], examples=tuple(json.loads(r[7])),
                        color=r[8], guid=r[9], exclusive=bool(r[10]))
            (codes if code.dimension == CODE_DIMENSION else values.setdefault(
                code.dimension, [])).append(code)
        dimensions = tuple(
            Dimension(id=r[0], name=r[1], definition=r[2], ordered=bool(r[3]),
                      pathway=bool(r[4]), unordered=tuple(json.loads(r[5])), guid=r[6],
                      values=tuple(values.get(r[0], ())))
            for r in self.conn.execute(
                "SELECT id, name, definition, ordered, pathway, unordered, guid"
                " FROM dimensions ORDER BY position"))
        return Codebook(name=head[0], codes=tuple(codes), dimensions=dimensions)

    # -- annotations -------------------------------------------------------
    def import_annotations(self, annotations: Sequence[Annotation], *, source: str) -> dict:
        """Import one coder's coding of each (segment, coder) in one transaction.

        For every (segment, coder, dimension) in ``annotations`` the coder's
        active annotations are replaced by the new ones (so re-importing a file
        is a no-op, and a corrected file updates the codes); each label keeps its
        own provenance. The import itself is a log row, so it is attributed and
        undoable by inspection.
        """
        groups: dict[tuple[str, str, str], dict[str | None, str]] = {}
        for a in annotations:
            groups.setdefault((a.segment_id, a.coder, a.dimension), {})[a.label] = a.source
        added = unchanged = 0
        with self.transaction() as conn:
            log_id = row_id(conn.execute(
                "INSERT INTO log(coder, action, detail, at) VALUES (?, 'import', ?, ?)"
                " RETURNING id",
                ("*", json.dumps({"source": source, "rows": len(annotations)}), now()),
            ))
            for (seg, coder, dim), labels in groups.items():
                if len(labels) > 1:
                    labels.pop(None, None)
                current = self._active_labels(conn, seg, coder, dim)
                if current == set(labels):
                    unchanged += 1
                    continue
                self._replace_labels(conn, seg, coder, dim, labels, labels, log_id)
                added += 1
        return {"changed": added, "unchanged": unchanged, "log_id": log_id}

    @staticmethod
    def _active_labels(conn: Connection, seg: str, coder: str, dim: str) -> set:
        return {r[0] for r in conn.execute(
            "SELECT label FROM annotations WHERE segment_id = ? AND coder = ? AND dimension = ?"
            " AND retracted_by IS NULL", (seg, coder, dim))}

    @staticmethod
    def _replace_labels(conn: Connection, seg: str, coder: str, dim: str,
                        labels: Iterable[str | None], source: str | Mapping[str | None, str],
                        log_id: int) -> None:
        """Retract the coder's active labels and write ``labels``; ``source`` is their
        provenance, or a map from label to provenance."""
        conn.execute(
            "UPDATE annotations SET retracted_by = ? WHERE segment_id = ? AND coder = ?"
            " AND dimension = ? AND retracted_by IS NULL", (log_id, seg, coder, dim))
        at = now()
        conn.executemany(
            "INSERT INTO annotations(segment_id, coder, dimension, label, source, created_at,"
            " created_by) VALUES (?,?,?,?,?,?,?)",
            [(seg, coder, dim, label, source if isinstance(source, str) else source[label],
              at, log_id) for label in sorted(labels, key=lambda x: "" if x is None else x)],
        )

    # -- the log as rows ------------------------------------------------------
    def log_rows(self) -> list[tuple]:
        """Every log row as stored, in order: (id, coder, action, item_key, segment_id,
        model_id, detail, undoes, at)."""
        return self.conn.execute(
            "SELECT id, coder, action, item_key, segment_id, model_id, detail, undoes, at"
            " FROM log ORDER BY id").fetchall()

    def restore_log(self, rows: Sequence[tuple]) -> int:
        """Append log rows another project wrote, (coder, action, item_key, segment_id,
        model_id, detail, undoes as an index into ``rows`` or None, at), keeping their
        order and times; rows already held (same fields, same undone row) are not added
        twice. Returns how many were added."""
        added = 0
        with self.transaction() as conn:
            held: dict[tuple, int] = {}  # the log as it stands, read once
            for row in conn.execute("SELECT id, coder, action, item_key, segment_id, model_id,"
                                    " detail, undoes, at FROM log ORDER BY id"):
                held.setdefault(tuple(row[1:]), row[0])
            ids: list[int] = []
            for coder, action, item_key, segment_id, model_id, detail, undoes, at in rows:
                target = None if undoes is None else ids[undoes]
                key = (coder, action, item_key, segment_id, model_id, detail, target, at)
                if key in held:
                    ids.append(held[key])
                    continue
                ids.append(row_id(conn.execute(
                    "INSERT INTO log(coder, action, item_key, segment_id, model_id, detail,"
                    " undoes, at) VALUES (?,?,?,?,?,?,?,?) RETURNING id", key)))
                held[key] = ids[-1]
                added += 1
        return added

    def coded_segments(self, coder: str) -> set[str]:
        """The segments ``coder`` holds an active annotation on (any source)."""
        return {r[0] for r in self.conn.execute(
            "SELECT DISTINCT segment_id FROM annotations WHERE coder = ?"
            " AND retracted_by IS NULL", (coder,))}

    def coders_of(self, segment_ids: Sequence[str], sources: Sequence[str]
                  ) -> dict[str, tuple[str, ...]]:
        """Segment id → the coders (sorted) with an active annotation of one of
        ``sources`` on it, for ``segment_ids``."""
        out: dict[str, set[str]] = {}
        ids = list(dict.fromkeys(segment_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for seg, coder in self.conn.execute(
                    "SELECT DISTINCT segment_id, coder FROM annotations WHERE retracted_by IS"
                    f" NULL AND segment_id IN ({','.join('?' * len(chunk))}) AND source IN"
                    f" ({','.join('?' * len(sources))})", (*chunk, *sources)):
                out.setdefault(seg, set()).add(coder)
        return {seg: tuple(sorted(coders)) for seg, coders in out.items()}

    def annotations(self) -> list[Annotation]:
        """All active annotations, human and model-assisted, in a stable order."""
        return [
            Annotation(segment_id=r[0], coder=r[1], dimension=r[2], label=r[3], source=r[4])
            for r in self.conn.execute(
                "SELECT segment_id, coder, dimension, label, source FROM annotations"
                " WHERE retracted_by IS NULL ORDER BY segment_id, coder, dimension, label"
            )
        ]
