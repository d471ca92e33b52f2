"""Coded spans, coders and notes of a project database.

Split from :mod:`isp_nlp.store.database`: :class:`CodingTables` is mixed into
:class:`isp_nlp.store.database.Store`, which supplies ``conn`` and ``transaction()``.
A coding is a span as a coder drew it (code points into the stored text); the
segment-level annotations that training and agreement use are derived from it
and stored separately (``Store.import_annotations``).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager

from isp_nlp.errors import ProjectError
from isp_nlp.records import Coder, Coding, Note
from isp_nlp.store.registry import now

#: Namespace of the GUIDs given to notes stored without one.
_NOTE_NAMESPACE = uuid.UUID("5d0c7e55-9f3a-5b8e-8c1d-2a4f6b9e0d13")


class CodingTables:
    """Coders, codings and notes (a mixin of Store)."""

    conn: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
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
                    'INSERT OR IGNORE INTO codings(transcript_id, start, "end", dimension, code,'
                    " coder, source, guid, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
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
                guid = n.guid or str(uuid.uuid5(_NOTE_NAMESPACE, "\x00".join(
                    map(str, (n.title, n.text, n.coder, n.document, n.start, n.end, at)))))
                if guid in known:
                    continue
                known.add(guid)
                conn.execute(
                    'INSERT INTO notes(guid, title, text, coder, document, start, "end",'
                    " created_at) VALUES (?,?,?,?,?,?,?,?)",
                    (guid, n.title, n.text, n.coder, n.document, n.start, n.end, at),
                )
                added += 1
        return added

    def notes(self) -> list[Note]:
        return [Note(guid=r[0], title=r[1], text=r[2], coder=r[3], document=r[4], start=r[5],
                     end=r[6], created_at=r[7])
                for r in self.conn.execute(
                    'SELECT guid, title, text, coder, document, start, "end", created_at'
                    " FROM notes ORDER BY id")]
