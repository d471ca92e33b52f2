"""Memos on a segment, a code or a document: written by ``isp-nlp memo`` (and, on segments,
by the review's ``m`` key), kept as notes (:meth:`isp_nlp.store.decisions.DecisionLog.memo`,
the one home of memos), shown by ``isp-nlp show`` and exported as REFI-QDA notes.

A segment is named by its id or ``DOCUMENT#INDEX``, a code by its id or name (or
``DIM=VALUE`` for a value of a single-choice dimension), a document by its name or the
file name it was ingested from.
"""

from __future__ import annotations

from dataclasses import dataclass

from isp_nlp.analysis.consensus import find_segment
from isp_nlp.analysis.show import find_document, label_filter
from isp_nlp.errors import IspNlpError
from isp_nlp.records import CODE_DIMENSION, Note, segment_memo
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import require_codebook

#: The most characters a memo holds (a memo is a few sentences, not a transcript).
MAX_MEMO_CHARS = 20_000


@dataclass(frozen=True)
class MemoTarget:
    """What a memo is on. ``label`` says it in a line ("segment site1 #3",
    "code coaching", "document site1"); ``note`` is an empty memo on it."""

    kind: str  # "segment" | "code" | "document"
    label: str
    note: Note
    segment_id: str | None = None

    def holds(self, note: Note) -> bool:
        """Whether ``note`` is a memo (or note) on this target: on a segment, any note
        whose span overlaps it; on a code, the memos on that code; on a document, the
        notes on the whole document."""
        mine = self.note
        if self.kind == "code":
            return (note.dimension, note.code) == (mine.dimension, mine.code)
        if note.code is not None or note.document != mine.document:
            return False
        if self.kind == "document":
            return note.start is None or note.end is None
        assert mine.start is not None and mine.end is not None
        return (note.start is not None and note.end is not None
                and note.start < mine.end and mine.start < note.end)


def memo_target(store: Store, *, segment: str | None = None, code: str | None = None,
                document: str | None = None) -> MemoTarget:
    """The one target given (a segment, a code or a document), resolved in the project."""
    given = [name for name, value in (("--segment", segment), ("--code", code),
                                      ("--document", document)) if value is not None]
    if len(given) != 1:
        raise IspNlpError(
            "memo needs exactly one of --segment ID, --code X or --document D "
            f"({'got ' + ' and '.join(given) if given else 'none given'}); name the one "
            "segment, code or document the memo is on.")
    if segment is not None:
        seg = find_segment(store, segment)
        return MemoTarget("segment", f"segment {seg.document} #{seg.index}",
                          segment_memo(seg, ""), seg.id)
    if code is not None:
        dimension, label = label_filter(require_codebook(store), code)
        shown = label if dimension == CODE_DIMENSION else f"{dimension}={label}"
        return MemoTarget("code", f"code {shown}",
                          Note(title=f"memo on code {shown}", text="", dimension=dimension,
                               code=label))
    assert document is not None
    name = find_document(store, document)
    return MemoTarget("document", f"document {name}",
                      Note(title=f"memo on {name}", text="", document=name))


def write_memo(store: Store, target: MemoTarget, text: str, coder: str) -> Note:
    """Keep ``text`` as ``coder``'s memo on ``target`` and log a ``memo`` event."""
    text = text.strip()
    if not text:
        raise IspNlpError("the memo is empty; give its text, e.g. `isp-nlp memo --code X "
                          "\"why this code\" --coder NAME` (no text lists the memos).")
    if len(text) > MAX_MEMO_CHARS:
        raise IspNlpError(f"the memo has {len(text):,} characters, more than "
                          f"{MAX_MEMO_CHARS:,}; shorten it or split it into several memos.")
    if not coder.strip():
        raise IspNlpError("a memo needs its author: give --coder NAME (or set "
                          "ISP_NLP_CODER).")
    note = Note(title=target.note.title, text=text, coder=coder.strip(),
                document=target.note.document, start=target.note.start,
                end=target.note.end, dimension=target.note.dimension, code=target.note.code)
    DecisionLog(store).memo(note.coder, note, segment_id=target.segment_id)
    return note


def memos_on(store: Store, target: MemoTarget, coder: str | None = None) -> list[Note]:
    """The memos and notes on ``target`` (only ``coder``'s, when given), oldest first."""
    return [n for n in store.notes()
            if target.holds(n) and (coder is None or n.coder == coder)]


def code_memos(store: Store, code: str) -> list[Note]:
    """The memos on ``code`` (as ``show --code`` names it)."""
    return memos_on(store, memo_target(store, code=code))
