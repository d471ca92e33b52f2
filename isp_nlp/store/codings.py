"""Coded spans, coders, notes and document attributes of a project database.

Split from :mod:`isp_nlp.store.database`: :class:`CodingTables` is mixed into
:class:`isp_nlp.store.database.Store`, which supplies ``conn`` and ``transaction()``.
A coding is a span as a coder drew it (code points into the stored text); the
segment-level annotations that training and agreement use are derived from it
and stored separately (``Store.import_annotations``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager

from isp_nlp.errors import ProjectError
from isp_nlp.records import Coder, Coding, Note
from isp_nlp.store.backend import Connection
from isp_nlp.store.registry import now

#: Namespace of the GUIDs given to notes stored without one.
_NOTE_NAMESPACE = uuid.UUID("5d0c7e55-9f3a-5b8e-8c1d-2a4f6b9e0d13")


class CodingTables:
    """Coders, codings, notes and document attributes (a mixin of Store)."""

    conn: Connection

    def transaction(self) -> AbstractContextManager[Connection]:
        """Supplied by Store: an IMMEDIATE transaction (joining an outer one)."""
        raise NotImplementedError

    # -- coders --------------------------------------------------------------
    def add_coders(self, coders: Sequence[Coder]) -> int:
        """Add coders not yet known; fill in a known coder's empty GUID or initials.

        Returns how many coders were new.
        """
        added = 0
        with self.transaction() as conn:
            for c in coders:
                row = conn.execute("SELECT guid, initials FROM coders WHERE name = ?",
                                   (c.name,)).fetchone()
                if row is None:
                    conn.execute("INSERT INTO coders(name, guid, initials) VALUES (?,?,?)",
                                 (c.name, c.guid, c.initials))
                    added += 1
                else:
                    conn.execute("UPDATE coders SET guid = ?, initials = ? WHERE name = ?",
                                 (row[0] or c.guid, row[1] or c.initials, c.name))
        return added

    def coders(self, *, added_only: bool = False) -> list[Coder]:
        """Every coder the project knows: those added, and (unless ``added_only``) those
        who coded or decided."""
        known = {r[0]: Coder(name=r[0], guid=r[1], initials=r[2]) for r in self.conn.execute(
            "SELECT name, guid, initials FROM coders")}
        if added_only:
            return [known[n] for n in sorted(known)]
        for (name,) in self.conn.execute(
            "SELECT coder FROM annotations UNION SELECT coder FROM codings"
            " UNION SELECT coder FROM log WHERE coder != '*'"
        ):
            known.setdefault(name, Coder(name=name))
        return [known[n] for n in sorted(known)]

    # -- codings -------------------------------------------------------------
    def add_codings(self, codings: Sequence[Coding]) -> dict[str, int]:
        """Store coded spans; a span already held (same document, offsets, code, coder)
        is left as it is. Returns counts ``added`` and ``unchanged``."""
        ids = {d: i for d, i in self.conn.execute("SELECT document, id FROM transcripts")}
        lengths = {d: n for d, n in self.conn.execute(
            "SELECT document, length(text) FROM transcripts")}
        added = 0
        with self.transaction() as conn:
            for c in codings:
                if c.document not in ids:
                    raise ProjectError(
                        f"a coding of '{c.code}' by {c.coder} points at document "
                        f"'{c.document}', which is not in the project; ingest it first"
                    )
                if not 0 <= c.start < c.end <= lengths[c.document]:
                    raise ProjectError(
                        f"a coding of '{c.code}' by {c.coder} in '{c.document}' spans "
                        f"{c.start}-{c.end}, outside the text (0-{lengths[c.document]}); "
                        "expected 0 <= start < end <= the text's length"
                    )
                cur = conn.execute(
                    'INSERT INTO codings(transcript_id, start, "end", dimension, code,'
                    " coder, source, guid, created_at) VALUES (?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT DO NOTHING",
                    (ids[c.document], c.start, c.end, c.dimension, c.code, c.coder, c.source,
                     c.guid, c.created_at or now()),
                )
                added += cur.rowcount
        return {"added": added, "unchanged": len(codings) - added}

    def codings(self, *, document: str | None = None) -> list[Coding]:
        """The stored coded spans, by document, position, coder and code."""
        sql = (
            'SELECT t.document, c.start, c."end", c.code, c.coder, c.dimension, c.source,'
            " c.guid, c.created_at FROM codings c JOIN transcripts t ON t.id = c.transcript_id"
        )
        args: list[str] = []
        if document is not None:
            sql += " WHERE t.document = ?"
            args.append(document)
        sql += ' ORDER BY t.document, c.start, c."end", c.coder, c.dimension, c.code'
        return [Coding(document=r[0], start=r[1], end=r[2], code=r[3], coder=r[4],
                       dimension=r[5], source=r[6], guid=r[7], created_at=r[8])
                for r in self.conn.execute(sql, args)]

    # -- notes ---------------------------------------------------------------
    def add_notes(self, notes: Sequence[Note]) -> int:
        """Store notes; a note whose GUID is already held is skipped. A note without a GUID
        gets one (uuid5 of its content and time), so it keeps its identity when exported
        and read back. Returns how many were new."""
        known = {r[0] for r in self.conn.execute("SELECT guid FROM notes WHERE guid != ''")}
        added = 0
        with self.transaction() as conn:
            for n in notes:
                at = n.created_at or now()
                on_code = () if n.code is None else (n.dimension, n.code)
                guid = n.guid or str(uuid.uuid5(_NOTE_NAMESPACE, "\x00".join(map(str, (
                    n.title, n.text, n.coder, n.document, n.start, n.end, at, *on_code)))))
                if guid in known:
                    continue
                known.add(guid)
                conn.execute(
                    'INSERT INTO notes(guid, title, text, coder, document, start, "end",'
                    " created_at, dimension, code) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (guid, n.title, n.text, n.coder, n.document, n.start, n.end, at,
                     n.dimension if n.code is not None else None, n.code),
                )
                added += 1
        return added

    def notes(self) -> list[Note]:
        """Every note and memo, in the order they were stored."""
        return [Note(guid=r[0], title=r[1], text=r[2], coder=r[3], document=r[4], start=r[5],
                     end=r[6], created_at=r[7], dimension=r[8], code=r[9])
                for r in self.conn.execute(
                    'SELECT guid, title, text, coder, document, start, "end", created_at,'
                    " dimension, code FROM notes ORDER BY id")]

    # -- attributes ----------------------------------------------------------
    def set_attributes(self, values: Sequence[tuple[str, str, str | None]]) -> dict[str, int]:
        """Set (document, name, value) attributes in one transaction; a value of None or ""
        removes that attribute of the document. Returns counts ``set``, ``unchanged`` and
        ``removed``."""
        counts = {"set": 0, "unchanged": 0, "removed": 0}
        with self.transaction() as conn:
            for document, name, value in values:
                row = conn.execute("SELECT value FROM attributes WHERE document = ? AND"
                                   " name = ?", (document, name)).fetchone()
                if not value:
                    if row is not None:
                        conn.execute("DELETE FROM attributes WHERE document = ? AND name = ?",
                                     (document, name))
                        counts["removed"] += 1
                elif row is None:
                    conn.execute("INSERT INTO attributes(document, name, value) VALUES (?,?,?)",
                                 (document, name, value))
                    counts["set"] += 1
                elif row[0] != value:
                    conn.execute("UPDATE attributes SET value = ? WHERE document = ? AND"
                                 " name = ?", (value, document, name))
                    counts["set"] += 1
                else:
                    counts["unchanged"] += 1
        return counts

    def attributes(self) -> dict[str, dict[str, str]]:
        """Each document's attributes (name → value); documents by name, each document's
        names in the order the project first had them."""
        order = {name: i for i, (name,) in enumerate(self.conn.execute(
            "SELECT name FROM attributes GROUP BY name ORDER BY MIN(id)"))}
        out: dict[str, dict[str, str]] = {}
        for document, name, value in self.conn.execute(
                "SELECT document, name, value FROM attributes ORDER BY document"):
            out.setdefault(document, {})[name] = value
        return {d: dict(sorted(v.items(), key=lambda kv: order[kv[0]]))
                for d, v in out.items()}

    def attribute_names(self) -> list[str]:
        """Every attribute name, in the order the project first had them."""
        return [r[0] for r in self.conn.execute(
            "SELECT name FROM attributes GROUP BY name ORDER BY MIN(id)")]
