"""Which units a QDA tool counted its selection offsets in, worked out per source.

REFI-QDA says "characters" and tools disagree: NVivo counts UTF-16 code units over
the text as it stored it (on Windows with CRLF line ends and a BOM), QualCoder and
qc count code points. A :class:`Reading` is one such convention: code points or
UTF-16 code units, CRLF counted as two or as one, a leading BOM counted or not.

:func:`choose_reading` tries every reading that differs for a source, converts each
selection to code points into the stored text (LF line ends, no BOM), and keeps the
reading whose boundaries fall inside a word, a surrogate pair or a CRLF pair, or
outside the text, least often; a tie goes to the simplest (code points).
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

BOM = "\ufeff"
_JOINERS = {"\u200d", "\u200c", "\ufe0e", "\ufe0f", "\u20e3"}
#: Digits a character position may have, in any file format: a position is an offset into
#: one source of at most 50 MB, and a number this short stays far from Python's 4,300-digit
#: limit on int().
MAX_POSITION_DIGITS = 12


@dataclass(frozen=True, order=True)
class Reading:
    """How a tool counted offsets; ordered from the simplest reading up."""

    utf16: bool = False  # UTF-16 code units, else code points
    crlf_two: bool = False  # a CRLF line end counts as two
    bom: bool = False  # a leading BOM counts as one

    @property
    def label(self) -> str:
        parts = ["UTF-16 code units" if self.utf16 else "code points"]
        if self.crlf_two:
            parts.append("CRLF as 2")
        if self.bom:
            parts.append("BOM counted")
        return ", ".join(parts)


SIMPLEST = Reading()


@dataclass(frozen=True)
class ReadingChoice:
    """The reading kept for one source and the selections converted with it."""

    reading: Reading
    spans: tuple[tuple[int, int], ...]  # code points into the stored text
    inside_word: int  # boundaries that still split a word (or a pair) under it
    outside: int  # boundaries beyond the text under it
    tried: int  # readings tried for this source


def _stored(original: str) -> tuple[str, list[bool], bool]:
    """Stored text (LF, no BOM), which of its characters stood for a CRLF, and the BOM."""
    has_bom = original.startswith(BOM)
    body = original[1:] if has_bom else original
    chars: list[str] = []
    crlf: list[bool] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "\r":
            two = i + 1 < n and body[i + 1] == "\n"
            chars.append("\n")
            crlf.append(two)
            i += 2 if two else 1
        else:
            chars.append(c)
            crlf.append(False)
            i += 1
    return "".join(chars), crlf, has_bom


def candidate_readings(original: str) -> list[Reading]:
    """The readings that give different offsets for this text, simplest first."""
    text, crlf, has_bom = _stored(original)
    utf16 = [False, True] if any(ord(c) > 0xFFFF for c in text) else [False]
    crlf_two = [False, True] if any(crlf) else [False]
    bom = [False, True] if has_bom else [False]
    return sorted(Reading(u, c, b) for u in utf16 for c in crlf_two for b in bom)


def _positions(text: str, crlf: list[bool], reading: Reading) -> list[int]:
    """Start of every stored character (and the end) in ``reading``'s units."""
    widths = [(2 if reading.utf16 and ord(c) > 0xFFFF else 1) + (1 if reading.crlf_two and two
                                                                  else 0)
              for c, two in zip(text, crlf, strict=True)]
    return list(accumulate(widths, initial=1 if reading.bom else 0))


def _is_word(c: str) -> bool:
    return unicodedata.category(c)[0] in "LNM" or c in _JOINERS


def splits_word(text: str, i: int) -> bool:
    """True when code-point boundary ``i`` of ``text`` falls inside a word or a joined
    character sequence (a letter and its accent, an emoji and its modifier)."""
    if i <= 0 or i >= len(text):
        return False
    before, after = text[i - 1], text[i]
    if after in _JOINERS or before == "\u200d" or unicodedata.category(after) in ("Mn", "Me", "Sk"):
        return True
    if 0x1F3FB <= ord(after) <= 0x1F3FF:  # emoji skin-tone modifier
        return True
    return _is_word(before) and _is_word(after)


def _convert(pos: list[int], x: int, *, end: bool) -> tuple[int, bool, bool]:
    """Stored index of reading offset ``x``, whether it fell inside a unit, and outside."""
    total = pos[-1]
    if x < pos[0] or x > total:
        return (len(pos) - 1 if x > total else 0), False, True
    i = bisect.bisect_right(pos, x) - 1
    if pos[i] == x:
        return i, False, False
    return (i + 1 if end else i), True, False


def convert(original: str, spans: Sequence[tuple[int, int]], reading: Reading
            ) -> tuple[list[tuple[int, int]], int, int]:
    """``spans`` read with ``reading`` as code points into the stored text, with how many
    boundaries split a word or a pair, and how many fell outside the text."""
    text, crlf, _ = _stored(original)
    return _convert_all(text, _positions(text, crlf, reading), spans)


def _convert_all(text: str, pos: list[int], spans: Sequence[tuple[int, int]]
                 ) -> tuple[list[tuple[int, int]], int, int]:
    out: list[tuple[int, int]] = []
    inside = outside = 0
    for start, end in spans:
        a, split_a, out_a = _convert(pos, start, end=False)
        b, split_b, out_b = _convert(pos, end, end=True)
        inside += (split_a or splits_word(text, a)) + (split_b or splits_word(text, b))
        outside += out_a + out_b
        out.append((a, b))
    return out, inside, outside


def choose_reading(original: str, spans: Sequence[tuple[int, int]]) -> ReadingChoice:
    """The reading under which ``spans`` (as the tool wrote them) fit ``original`` best."""
    text, crlf, _ = _stored(original)
    readings = candidate_readings(original)
    best: tuple[tuple[int, Reading], ReadingChoice] | None = None
    for reading in readings:
        converted, inside, outside = _convert_all(text, _positions(text, crlf, reading), spans)
        key = (inside + outside, reading)
        if best is None or key < best[0]:
            best = (key, ReadingChoice(reading, tuple(converted), inside, outside,
                                       len(readings)))
    assert best is not None
    return best[1]


def stored_text(original: str) -> str:
    """The text as stored: LF line ends (CRLF and lone CR become LF), no BOM."""
    return _stored(original)[0]


#: The units each QDA tool reads selection positions in, when writing for it, with the
#: evidence. NVivo: UTF-16 code units (the shared NVivo for Mac 12.7 export's selections
#: split 3 of 594 word boundaries read as UTF-16, 366 read as code points). QualCoder
#: (and qc): code points (Python string indices; QualCoder's own fix for Qt's UTF-16
#: counting, ccbogel/QualCoder pull request #1482, converts to them). ATLAS.ti and
#: MAXQDA: not verified on a file holding characters beyond the Basic Multilingual Plane,
#: so code points, REFI-QDA's "characters"; override with ``--positions``.
TOOL_UNITS = {"nvivo": "utf16", "qualcoder": "codepoints", "qc": "codepoints",
              "atlas.ti": "codepoints", "maxqda": "codepoints", "isp-nlp": "codepoints"}
UNITS = ("codepoints", "utf16")
#: The project setting holding the tool (a TOOL_UNITS key) its last import came from.
ORIGIN_TOOL_SETTING = "origin_tool"


def tool_of(origin: str) -> str | None:
    """The :data:`TOOL_UNITS` key of a project file's ``origin`` attribute, if known."""
    key = origin.casefold()
    for tool, marks in (("nvivo", ("nvivo",)), ("atlas.ti", ("atlas",)),
                        ("maxqda", ("maxqda",)), ("qualcoder", ("qualcoder",)), ("qc", ("qc ",)),
                        ("isp-nlp", ("isp-nlp",))):
        if any(key.startswith(m) or f" {m}" in key for m in marks):
            return tool
    return None


def to_units(text: str, positions: Sequence[int], units: str) -> list[int]:
    """Code-point ``positions`` into ``text`` as ``units`` ("codepoints" or "utf16":
    every character beyond U+FFFF before a position adds one)."""
    if units == "codepoints" or not any(ord(c) > 0xFFFF for c in text):
        return list(positions)
    astral = list(accumulate((ord(c) > 0xFFFF for c in text), initial=0))
    return [p + astral[min(max(p, 0), len(text))] for p in positions]
