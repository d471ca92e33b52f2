"""Where an excerpt belongs: its project document by name, and its span by its text.

A document matches by its name or file name, case-insensitively, with or without the
suffix. A span is found by the excerpt text with whitespace collapsed and quotes,
dashes and case folded (failing that, by letters and digits alone); of several
occurrences the one nearest the given position wins.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from isp_nlp.errors import closest
from isp_nlp.interchange.sheet_rows import ExcerptRow, shown

_FOLD = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"',
                       "‘": "'", "’": "'", "‚": "'", "‛": "'", "´": "'", "`": "'",
                       "–": "-", "—": "-", "‒": "-", "―": "-", "‐": "-", "‑": "-",
                       "…": "...", "\u00ad": None, "\u200b": None, "\ufeff": None})
_PREFIX = re.compile(r"^\s*(?:d\s*)?\d+\s*[:.]\s*", re.IGNORECASE)


# --------------------------------------------------------------------------- documents


def document_stem(name: str) -> str:
    """``name`` casefolded, without a file suffix: the key one document goes by."""
    base = name.strip().casefold()
    return Path(base).stem if Path(base).suffix and len(Path(base).suffix) <= 6 else base


def _keys(name: str) -> list[str]:
    base = name.strip().casefold()
    stem = document_stem(name)
    keys = [base, stem]
    for k in (base, stem):
        bare = _PREFIX.sub("", k)
        if bare and bare != k:
            keys.append(bare)
    return list(dict.fromkeys(k for k in keys if k))


def match_documents(names: Sequence[str], project: Mapping[str, str]
                    ) -> tuple[dict[str, str], list[str]]:
    """Map excerpt document names onto project documents (``project``: name or file
    name → document); return the matches and the names without one."""
    index: dict[str, str] = {}
    for name, document in project.items():
        for key in _keys(name):
            index.setdefault(key, document)
    matched: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        hit = next((index[k] for k in _keys(name) if k in index), None)
        if hit is None:
            missing.append(name)
        else:
            matched[name] = hit
    return matched, missing


def did_you_mean(names: Sequence[str], project: Mapping[str, str]) -> str:
    hints = []
    choices = sorted(set(project.values()))
    for name in names[:3]:
        close = closest(name, choices)
        if close is not None:
            hints.append(f"'{shown(name)}' → did you mean '{shown(close)}'?")
    return (" " + " ".join(hints)) if hints else ""


# --------------------------------------------------------------------------- finding spans


def collapse(text: str, *, loose: bool = False) -> tuple[str, list[int]]:
    """``text`` folded (see the module docstring) and where each character came from;
    ``loose`` keeps letters and digits only."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if not loose and out and out[-1] != " ":
                out.append(" ")
                where.append(i)
            continue
        for c in ch.translate(_FOLD):
            if loose and not c.isalnum():
                continue
            low = c.lower()
            out.append(low if len(low) == 1 else c)
            where.append(i)
    return "".join(out), where


#: A match that ignores punctuation needs at least this many letters and digits.
LOOSE_MIN = 12


@dataclass
class SpanFinder:
    """Finds excerpts in one document's stored text: folded (whitespace, case, quotes,
    dashes) first, else by letters and digits alone, on word boundaries."""

    text: str
    folded: str = ""
    where: list[int] = field(default_factory=list)
    loose: tuple[str, list[int]] | None = None
    loose_hits: int = 0
    newlines: list[int] | None = None

    def __post_init__(self) -> None:
        self.folded, self.where = collapse(self.text)

    def paragraph(self, at: int) -> int:
        """The 1-based line of character ``at`` (newlines found once, then bisected)."""
        if self.newlines is None:
            self.newlines = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self.newlines, at) + 1

    def _hits(self, needle: str, hay: str, where: list[int]) -> list[tuple[int, int]]:
        hits = []
        pos = hay.find(needle)
        while pos >= 0:
            hits.append((where[pos], where[pos + len(needle) - 1] + 1))
            pos = hay.find(needle, pos + 1)
        return hits

    def _bounded(self, span: tuple[int, int]) -> bool:
        start, end = span
        return not ((start > 0 and self.text[start - 1].isalnum())
                    or (end < len(self.text) and self.text[end].isalnum()))

    def find(self, excerpt: str, row: ExcerptRow) -> tuple[int, int] | None:
        needle = collapse(excerpt)[0].strip()
        if not needle:
            return None
        hits = self._hits(needle, self.folded, self.where)
        if not hits:
            bare = collapse(excerpt, loose=True)[0]
            if len(bare) >= LOOSE_MIN:
                self.loose = self.loose or collapse(self.text, loose=True)
                hits = [h for h in self._hits(bare, *self.loose) if self._bounded(h)]
                self.loose_hits += bool(hits)
        if not hits:
            return None
        if row.start is None:
            return hits[0]
        hint = row.start
        if row.unit == "paragraph":
            return min(hits, key=lambda h: abs(self.paragraph(h[0]) - hint))
        return min(hits, key=lambda h: abs(h[0] - hint))
