"""Rewrite the texts of stored documents (pseudonymisation) with everything that points
into them, in one transaction.

Split from :mod:`isp_nlp.store.database`: :class:`DocumentRewrites` is mixed into
:class:`isp_nlp.store.database.Store`, which supplies ``conn`` and ``transaction()``.
A segment's id is :func:`isp_nlp.ingest.segment.segment_id` of its document and
offsets, so new offsets give new ids and every column in :data:`SEGMENT_ID_COLUMNS`
follows; review keys (``log.item_key``) are recomputed from the recorded suggestion.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from isp_nlp.embed import text_key
from isp_nlp.records import STAGE_DIMENSION, Edit, OffsetMap, Segment, item_key, segment_id
from isp_nlp.store.backend import Connection, defer_foreign_keys

#: Every column that holds a segment id. A new one must be added here (a test checks).
SEGMENT_ID_COLUMNS: tuple[tuple[str, str], ...] = (
    ("segments", "id"),
    ("annotations", "segment_id"),
    ("log", "segment_id"),
    ("suggestions", "segment_id"),
    ("suggestion_evidence", "segment_id"),
    ("suggestion_evidence", "exemplar_id"),
    ("audit_segments", "segment_id"),
    ("review_scores", "segment_id"),
)
#: Tables whose rows point at segments through a foreign key.
_CHILDREN = ("annotations", "suggestions", "suggestion_evidence", "review_scores")
_TEMP = "~"  # prefix of ids while they move, so no new id meets an old one mid-update


@dataclass(frozen=True)
class NewText:
    """A document's new text and the edits that turned the stored text into it."""

    text: str
    edits: Sequence[Edit]


class DocumentRewrites:
    """Rewrite document texts and every offset, id and text that depends on them."""

    conn: Connection

    def transaction(self) -> AbstractContextManager[Connection]:
        """Supplied by Store: an IMMEDIATE transaction (joining an outer one)."""
        raise NotImplementedError

    def document_speakers(self) -> list[str]:
        """Speaker names of turns and segments, in order of first appearance (documents by
        name, then turn order)."""
        seen: dict[str, None] = {}
        for tid, turns in self.conn.execute(
                "SELECT id, turns FROM transcripts ORDER BY document").fetchall():
            for t in json.loads(turns):
                if t.get("speaker"):
                    seen.setdefault(t["speaker"], None)
            for (speaker,) in self.conn.execute(
                    "SELECT speaker FROM segments WHERE transcript_id = ? AND speaker IS NOT NULL"
                    " ORDER BY idx", (tid,)):
                seen.setdefault(speaker, None)
        return list(seen)

    def rewrite_documents(self, new_texts: Mapping[str, NewText],
                          replace: Callable[[str], str]) -> dict[str, int]:
        """Give each document of ``new_texts`` its new text, all or nothing.

        Turns, segments (offsets, text, speaker, id), codings and notes move through the
        edits; speakers, note titles and texts and evidence texts go through ``replace``;
        segment ids change everywhere they are held; embeddings of changed segment texts
        are deleted. Returns counts of what changed.
        """
        counts = dict.fromkeys(("documents", "segments", "codings", "merged_codings",
                                "notes", "embeddings_deleted", "log_rekeyed"), 0)
        ids: dict[str, str] = {}
        changed: dict[str, tuple[Segment, Segment]] = {}  # new id -> (old, new), if moved
        stale: set[str] = set()
        with self.transaction() as conn:
            defer_foreign_keys(conn)
            # SQLite looks up the children of every segment whose id changes: index them
            # for the length of the transaction (dropped again before it commits).
            for table in _CHILDREN:
                conn.execute(f"CREATE INDEX IF NOT EXISTS rewrite_{table} ON {table}(segment_id)")
            for document, new in new_texts.items():
                row = conn.execute("SELECT id, text, turns FROM transcripts WHERE document = ?",
                                   (document,)).fetchone()
                if row is None:
                    raise KeyError(document)
                tid, old_text, turns = row
                if new.text == old_text and not new.edits:
                    continue
                counts["documents"] += 1
                offsets = OffsetMap(new.edits)
                moved = []
                for t in json.loads(turns):
                    t["start"], t["end"] = offsets.span(t["start"], t["end"])
                    if t.get("speaker"):
                        t["speaker"] = replace(t["speaker"])
                    moved.append(t)
                conn.execute("UPDATE transcripts SET text = ?, turns = ? WHERE id = ?",
                             (new.text, json.dumps(moved), tid))
                turn_texts: dict[int, tuple[list[str], list[str]]] = {}
                for r in conn.execute(
                        'SELECT id, idx, turn_index, unit, speaker, start, "end", text, codable'
                        " FROM segments WHERE transcript_id = ? ORDER BY idx",
                        (tid,)).fetchall():
                    old = Segment(r[0], document, r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                                  bool(r[8]))
                    start, end = offsets.span(old.start, old.end)
                    seg = Segment(segment_id(document, start, end), document, old.index,
                                  old.turn_index, old.unit,
                                  replace(old.speaker) if old.speaker else old.speaker,
                                  start, end, new.text[start:end], old.codable)
                    if seg.text != old.text:
                        stale.add(text_key(old.text))
                    pair = turn_texts.setdefault(old.turn_index, ([], []))
                    pair[0].append(old.text)
                    pair[1].append(seg.text)
                    if seg != old:
                        changed[seg.id] = (old, seg)
                    if seg.id != old.id:
                        ids[old.id] = seg.id
                        counts["segments"] += 1
                    conn.execute(
                        'UPDATE segments SET id = ?, speaker = ?, start = ?, "end" = ?,'
                        " text = ? WHERE id = ?",
                        (_TEMP + seg.id if seg.id != old.id else seg.id, seg.speaker, start,
                         end, seg.text, old.id))
                # A turn's segments joined by spaces are embedded as the next one's context
                # (isp_nlp.suggest.training_data.previous_turns).
                stale.update(text_key(" ".join(a)) for a, b in turn_texts.values() if a != b)
                moved_codings, merged = _move_codings(conn, tid, offsets)
                counts["codings"] += moved_codings
                counts["merged_codings"] += merged
                for nid, start, end in conn.execute(
                        'SELECT id, start, "end" FROM notes WHERE document = ? AND start IS NOT'
                        ' NULL AND "end" IS NOT NULL', (document,)).fetchall():
                    conn.execute('UPDATE notes SET start = ?, "end" = ? WHERE id = ?',
                                 (*offsets.span(start, end), nid))
            _rename_segment_ids(conn, ids)
            counts["log_rekeyed"] = _rekey_log(conn, changed)
            for nid, title, text in conn.execute("SELECT id, title, text FROM notes").fetchall():
                if (replace(title), replace(text)) != (title, text):
                    conn.execute("UPDATE notes SET title = ?, text = ? WHERE id = ?",
                                 (replace(title), replace(text), nid))
                    counts["notes"] += 1
            for *key, text in conn.execute(
                    "SELECT model_id, segment_id, dimension, rank, text"
                    " FROM suggestion_evidence").fetchall():
                if replace(text) != text:
                    stale.add(text_key(text))
                    conn.execute("UPDATE suggestion_evidence SET text = ? WHERE model_id = ?"
                                 " AND segment_id = ? AND dimension = ? AND rank = ?",
                                 (replace(text), *key))
            for sha in sorted(stale):
                counts["embeddings_deleted"] += conn.execute(
                    "DELETE FROM embeddings WHERE text_sha256 = ?", (sha,)).rowcount
            for table in _CHILDREN:
                conn.execute(f"DROP INDEX IF EXISTS rewrite_{table}")
        return counts


def _move_codings(conn: Connection, tid: int, offsets: OffsetMap) -> tuple[int, int]:
    """Move a document's codings through ``edits``; two that now coincide become one.
    Returns (codings moved, codings merged)."""
    rows = conn.execute(
        'SELECT id, start, "end", dimension, code, coder, source, guid, created_at'
        " FROM codings WHERE transcript_id = ? ORDER BY id", (tid,)).fetchall()
    conn.execute("DELETE FROM codings WHERE transcript_id = ?", (tid,))
    kept = moved = 0
    for r in rows:
        start, end = offsets.span(r[1], r[2])
        moved += (start, end) != (r[1], r[2])
        kept += conn.execute(
            'INSERT INTO codings(id, transcript_id, start, "end", dimension, code,'
            " coder, source, guid, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT DO NOTHING",
            (r[0], tid, start, end, *r[3:])).rowcount
    return moved, len(rows) - kept


def _rename_segment_ids(conn: Connection, ids: Mapping[str, str]) -> None:
    """Point every segment id column at the new ids (segments were given ``~new`` ids):
    one UPDATE per column through a temporary old → new table, then the prefix goes."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS segment_renames"
                 " (old TEXT PRIMARY KEY, new TEXT NOT NULL)")
    conn.execute("DELETE FROM segment_renames")
    conn.executemany("INSERT INTO segment_renames(old, new) VALUES (?, ?)", ids.items())
    for table, column in SEGMENT_ID_COLUMNS:
        if table != "segments":
            conn.execute(
                f"UPDATE {table} SET {column} = '{_TEMP}' || (SELECT new FROM segment_renames"
                f" WHERE old = {table}.{column}) WHERE {column} IN (SELECT old FROM"
                " segment_renames)")
        conn.execute(f"UPDATE {table} SET {column} = substr({column}, 2)"
                     f" WHERE {column} LIKE '{_TEMP}%'")
    conn.execute("DELETE FROM segment_renames")
    for lid, detail in conn.execute(
            "SELECT id, detail FROM log WHERE detail LIKE '%\"evidence\"%'").fetchall():
        data = json.loads(detail)
        evidence = (data.get("suggestion") or {}).get("evidence") or []
        changed = False
        for ev in evidence:
            if isinstance(ev, dict) and ev.get("segment_id") in ids:
                ev["segment_id"] = ids[ev["segment_id"]]
                changed = True
        if changed:
            conn.execute("UPDATE log SET detail = ? WHERE id = ?", (json.dumps(data), lid))


def _suggested_values(suggestion: Mapping) -> dict[str, str | None]:
    """Dimension id → suggested value (None where the model abstained) of a recorded
    suggestion snapshot (see :func:`isp_nlp.review.session.snapshot`)."""
    if isinstance(suggestion.get("values"), Mapping):
        return {str(dim): (got[0] if got else None)
                for dim, got in suggestion["values"].items()}
    # Legacy snapshots (before user-defined dimensions) hold "stage": [value, p] or null.
    stage = suggestion.get("stage")
    return {STAGE_DIMENSION: stage[0] if stage else None}


def _item_key(segment: Segment, model_id: str, suggestion: Mapping) -> str:
    """The review item key of a recorded suggestion (see :func:`isp_nlp.records.item_key`)."""
    return item_key(segment.id, segment.text, model_id,
                    tuple(suggestion.get("suggested_codes") or ()),
                    _suggested_values(suggestion))


def _rekey_log(conn: Connection, changed: Mapping[str, tuple[Segment, Segment]]) -> int:
    """Recompute the item keys of decisions on segments whose id or text changed (log
    segment ids are already the new ones), so a resumed review still knows them; a key that the
    recorded suggestion does not reproduce is left as it was."""
    keys: dict[str, str] = {}
    for key, seg, model_id, detail in conn.execute(
            "SELECT item_key, segment_id, model_id, detail FROM log WHERE item_key IS NOT NULL"
            " AND detail LIKE '%\"suggestion\"%'").fetchall():
        if seg not in changed:
            continue
        suggestion = json.loads(detail).get("suggestion")
        if not isinstance(suggestion, dict) or "suggested_codes" not in suggestion:
            continue
        old, new = changed[seg]
        if _item_key(old, model_id or "", suggestion) == key:
            keys[key] = _item_key(new, model_id or "", suggestion)
    n = 0
    for before, after in keys.items():
        n += conn.execute("UPDATE log SET item_key = ? WHERE item_key = ?",
                          (after, before)).rowcount
    return n
