"""A table dumped one cell per line: a header of field names, then each record's fields
on consecutive lines, as QDA tools hold a spreadsheet of comments or posts turned into a
plain-text source (NVivo's text of a YouTube comment export, say: ``video_id``,
``video_title`` ... ``comment_author``, ``comment_text`` ...).

Read as a transcript, such a dump goes wrong: a title such as "Mandatory vaccination:
what next?" looks like a speaker label, and with no blank lines the rest falls into
long blocks mixing many records. :func:`read_cell_dump` recognises the shape and gives one
record per turn: the turn's span is the record's text cell (the field named like
``text``/``comment``/``body``/``message``/``content``, else the longest free-text field),
its speaker the field named like ``author``/``user``/``speaker``/``name``, so each comment
is a unit attributed to its writer.

Recognising it needs evidence, not a guess: the first ``k`` lines (3 ≤ k ≤ 40) are
distinct field names; every record has ``k`` fields; each field keeps one kind across
records (a whole number, a date or time, a token without spaces, or free text); at
least one field is a number or a date in every record, so records are known to be
aligned; a free-text cell may run over several lines when the fields after it still
fit their kinds (but not over a line that is the number or date due next: that is a
broken record, not a long comment); a free-text or token cell may be empty. Anything
else is not a cell dump and is read as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
_KINDS: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"-?\d+(?:[.,]\d+)?"),
    "date": re.compile(
        r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
        r"|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}(?: \d{1,2}:\d{2}(?::\d{2})?)?"),
    "token": re.compile(r"\S{1,200}"),
}
_TEXT_NAMES = ("text", "comment", "body", "message", "content", "post", "tweet", "answer",
               "response")
_SPEAKER_NAMES = ("author", "user", "speaker", "name", "handle", "respondent",
                  "participant")
#: The most lines one free-text cell may run over.
MAX_CELL_LINES = 200
MIN_RECORDS = 2
MAX_FIELDS = 40


@dataclass(frozen=True)
class CellDump:
    """The fields and records of a dump: each record's cells as (first line, last line)
    indexes into the text's lines; ``text_field`` and ``speaker_field`` index the fields
    (speaker None when no field is named like one)."""

    fields: tuple[str, ...]
    records: tuple[tuple[tuple[int, int], ...], ...]
    text_field: int
    speaker_field: int | None


def _kind(value: str) -> str:
    for kind, pattern in _KINDS.items():
        if pattern.fullmatch(value):
            return kind
    return "text"


def _fits(kind: str, value: str) -> bool:
    """Whether ``value`` fits a field of ``kind``; a free-text or token cell may be
    empty (a comment without an author), a number or a date may not."""
    if kind == "text" or not value:
        return kind in ("text", "token")
    return bool(_KINDS[kind].fullmatch(value))


def _kinds(lines: Sequence[str], k: int, rows: int) -> list[str] | None:
    """Each field's kind from the first ``rows`` records read ``k`` lines at a time: the
    narrowest kind every value fits (number < date < token < text)."""
    order = ["number", "date", "token", "text"]
    sample = [lines[k + r * k: k + (r + 1) * k] for r in range(rows)]
    sample = [r for r in sample if len(r) == k]
    if not sample:
        return None
    kinds = []
    for i in range(k):
        seen = {_kind(r[i].strip()) for r in sample}
        if "number" in seen and "date" in seen:
            seen.add("token")
        kinds.append(max(seen, key=order.index))
    return kinds


def _candidates(lines: Sequence[str], k: int) -> list[list[str]]:
    """Kinds to try, narrowest first: from the first record, the first two, the first
    five (a free-text cell over several lines misaligns later ones), then each with its
    tokens widened to free text (an author with a space further down)."""
    found: list[list[str]] = []
    for rows in (1, 2, 5):
        kinds = _kinds(lines, k, rows)
        if kinds is not None and kinds not in found:
            found.append(kinds)
    for kinds in list(found):
        wide = ["text" if kind == "token" else kind for kind in kinds]
        if wide not in found:
            found.append(wide)
    return [k for k in found if {"number", "date"} & set(k)
            and {"text", "token"} & set(k)]


def _parse(lines: Sequence[str], k: int, kinds: Sequence[str]
           ) -> list[tuple[tuple[int, int], ...]] | None:
    """Records of ``k`` fields from line ``k`` on, free-text cells running over lines
    while what follows still fits; None when a line does not fit its field."""
    records, p, n = [], k, len(lines)

    def rest_fits(q: int, first: int) -> bool:
        """Whether lines from ``q`` fit fields ``first``.. (one line each, up to the next
        free-text field) and then the next record's first field, or the end."""
        for i in range(first, k):
            if q >= n or not _fits(kinds[i], lines[q].strip()):
                return False
            q += 1
            if kinds[i] == "text":
                return True
        return q >= n or _fits(kinds[0], lines[q].strip())

    while p < n:
        cells: list[tuple[int, int]] = []
        for i in range(k):
            if p >= n or not _fits(kinds[i], lines[p].strip()):
                return None
            end = p
            if kinds[i] == "text":
                after = kinds[(i + 1) % k]
                while not rest_fits(end + 1, i + 1):
                    end += 1
                    if end - p >= MAX_CELL_LINES or end >= n or (
                            after in ("number", "date") and _fits(after, lines[end].strip())):
                        return None  # the number or date due next came, then no fit: broken
            cells.append((p, end))
            p = end + 1
        records.append(tuple(cells))
    return records


def _pick(fields: Sequence[str], names: Sequence[str], allowed: Sequence[int]) -> int | None:
    for name in names:
        for i in allowed:
            if name in fields[i].casefold():
                return i
    return None


def read_cell_dump(lines: Sequence[str]) -> CellDump | None:
    """The dump ``lines`` hold (see the module docstring), else None."""
    lines = list(lines)
    while lines and not lines[-1].strip():
        lines.pop()
    for k in range(3, min(MAX_FIELDS, len(lines) // (MIN_RECORDS + 1)) + 1):
        head = [line.strip() for line in lines[:k]]
        if not all(_NAME.fullmatch(h) for h in head):
            break
        if len({h.casefold() for h in head}) < k:
            continue
        for kinds in _candidates(lines, k):
            records = _parse(lines, k, kinds)
            if records and len(records) >= MIN_RECORDS:
                break
        else:
            continue
        free = [i for i, kind in enumerate(kinds) if kind == "text"] or \
            [i for i, kind in enumerate(kinds) if kind == "token"]
        text = _pick(head, _TEXT_NAMES, free)
        if text is None:
            text = max(free, key=lambda i: sum(len(lines[r[i][0]]) for r in records))
        speaker = _pick(head, _SPEAKER_NAMES, [i for i in range(k) if i != text])
        return CellDump(tuple(head), tuple(records), text, speaker)
    return None


def dump_note(dump: CellDump, name: str) -> str:
    """The warning that says how ``name`` was read."""
    by = (f", by its {dump.fields[dump.speaker_field]}" if dump.speaker_field is not None
          else "")
    return (f"{name} reads as a table dumped one cell per line ({len(dump.records):,} "
            f"records of {len(dump.fields)} fields: {', '.join(dump.fields)}); each "
            f"record's {dump.fields[dump.text_field]} is a turn{by}")
