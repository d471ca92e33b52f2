"""One matching rule for people's names, shared by pseudonymising and the export check.

Text and names are folded character by character into a *match key*: compatibility
decomposition (NFKD), full case folding (``ß`` → ``ss``, ``İ`` → ``i``), Latin diacritics
dropped (``Zoë`` = ``Zoe``, in NFC or NFD), the usual transliterations (``æ`` ae, ``ø`` o,
``œ`` oe, ``ł`` l, ``đ``/``ð`` d, ``þ`` th, ``ı`` i), every apostrophe (' ’ ‘ ʼ ′ ` ´) as
``'``, every hyphen, dash and minus as ``-``, every space as one space, zero-width
characters dropped, and the soft hyphen kept as a break that may also sit inside a name.
Every key character remembers the code point it came from (:class:`Folded`), so a match
in the key maps back to a span of the original text.

:class:`NameMatcher` searches the key with one regular expression of every name's key,
longest first, between word boundaries: no letter, digit, underscore or (kept) combining
mark may touch a match on either side, so ``Anna`` is never found in ``Annabel``. In a
name, a space or hyphen matches any run of spaces and hyphens, an apostrophe may be
missing (``O'Brien`` = ``OBrien``) and ``ä``/``ö``/``ü`` also match ``ae``/``oe``/``ue``.
A name marked *exact* (a speaker label) matches only with the letters' case of the name.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

SOFT_HYPHEN = "\u00ad"
APOSTROPHES = frozenset("'\u2019\u2018\u02bc\u2032`\u00b4\u201b\u02b9\uff07")
HYPHENS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe63\uff0d\u2e3a\u2e3b")
#: Dropped from the key: zero-width space, (non-)joiners, word joiner, BOM, Mongolian VS.
IGNORED = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e")
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_LETTERS = {"æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
            "ı": "i", "ħ": "h", "ŧ": "t", "ß": "ss", "ĸ": "k"}
_ASCII = str.maketrans({"`": "'", **{c: " " for c in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"}})
_SEPARATOR = r"[ \-\u00ad]+"
_SKELETON = str.maketrans("", "", " -'\u00ad")


@functools.cache
def fold_char(ch: str, keep_case: bool = False) -> str:
    """The match key of one character (empty when it is dropped)."""
    if ch in APOSTROPHES:
        return "'"
    if ch in HYPHENS:
        return "-"
    if ch == SOFT_HYPHEN:
        return SOFT_HYPHEN
    if ch in IGNORED:
        return ""
    if ch.isspace():
        return " "
    s = unicodedata.normalize("NFKD", ch)
    if not keep_case:
        s = unicodedata.normalize("NFKD", s.casefold())
    out: list[str] = []
    for c in _DIACRITICS.sub("", s):
        lower = c.lower()
        if c in APOSTROPHES or c in HYPHENS or c.isspace():
            out.append(fold_char(c))
        elif lower in _LETTERS:
            out.append(_LETTERS[lower].upper() if keep_case and c != lower else _LETTERS[lower])
        else:
            out.append(c)
    return "".join(out)


@dataclass(frozen=True)
class Folded:
    """``text`` and its match ``key``; ``origin[j]`` is the index in ``text`` of the code
    point that key character ``j`` came from (None: the same index, for ASCII text)."""

    text: str
    key: str
    origin: Sequence[int] | None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of ``text`` that the key span ``start:end`` (not empty) came from; it
        takes in the dropped characters (combining marks) that follow it."""
        if self.origin is None:
            return start, end
        first, last = self.origin[start], self.origin[end - 1]
        if end >= len(self.key):
            return first, len(self.text)
        return first, max(self.origin[end], last + 1)


def fold(text: str, *, keep_case: bool = False) -> Folded:
    """``text`` folded to its match key, with the map back to its code points."""
    if text.isascii():
        key = text.translate(_ASCII)
        return Folded(text, key if keep_case else key.lower(), None)
    parts: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        k = fold_char(ch, keep_case)
        if k:
            parts.append(k)
            origin.extend([i] * len(k))
    return Folded(text, "".join(parts), origin)


def name_key(name: str) -> str:
    """The comparison form of a name: its match key without apostrophes, with spaces and
    hyphens as single spaces (``Jean‑Luc O’Brien`` → ``jean luc obrien``)."""
    key = fold(name).key.replace("'", "")
    return " ".join(key.replace("-", " ").replace(SOFT_HYPHEN, " ").split())


def skeleton(text: str) -> str:
    """Letters of ``text`` with their case (for names that match with their case only)."""
    return fold(text, keep_case=True).key.translate(_SKELETON)


@functools.cache
def _word_class() -> str:
    r"""``\w`` and every combining mark: what may not touch a name on either side."""
    ranges: list[str] = []
    start = last = -1
    for cp in range(sys.maxunicode + 2):
        mark = cp <= sys.maxunicode and unicodedata.category(chr(cp)).startswith("M")
        if mark:
            if start < 0:
                start = cp
            last = cp
        elif start >= 0:
            ranges.append(f"\\U{start:08x}-\\U{last:08x}")
            start = -1
    return "[\\w" + "".join(ranges) + "]"


def _umlaut(ch: str) -> bool:
    d = unicodedata.normalize("NFD", ch)
    return "\u0308" in d and d[0].lower() in "aou"


def name_pattern(name: str) -> str:
    """The regular expression (over match keys) of one name, without its boundaries."""
    folded = fold(name)
    tokens: list[str] = []
    for j, c in enumerate(folded.key):
        if c in " -" + SOFT_HYPHEN:
            if tokens and tokens[-1] != _SEPARATOR:
                tokens.append(_SEPARATOR)
            continue
        if c == "'":
            tokens.append("'?")
            continue
        source = name[folded.origin[j]] if folded.origin is not None else c
        tokens.append(re.escape(c) + ("e?" if _umlaut(source) else ""))
    while tokens and tokens[-1] in (_SEPARATOR, "'?"):
        tokens.pop()
    while tokens and tokens[0] in (_SEPARATOR, "'?"):
        tokens.pop(0)
    return "\u00ad?".join(tokens)


@dataclass(frozen=True)
class NameMatch:
    """A match: the span of the original text and the index of the name found."""

    start: int
    end: int
    index: int


class NameMatcher:
    """Finds the ``names`` (see the module docstring); ``exact[i]`` marks a name matched
    with its case only. A name whose key has no letter or digit is never matched."""

    def __init__(self, names: Sequence[str], exact: Sequence[bool] = ()) -> None:
        self.names = tuple(names)
        self.exact = tuple(exact) or (False,) * len(self.names)
        order = sorted(range(len(self.names)),
                       key=lambda i: (-len(name_key(self.names[i])), self.exact[i],
                                      name_key(self.names[i]), i))
        self._alternatives: list[tuple[int, str]] = []  # (name index, pattern)
        seen: set[tuple[str, bool]] = set()
        for i in order:
            pattern = name_pattern(self.names[i])
            if not any(c.isalnum() for c in name_key(self.names[i])):
                continue
            if (pattern, False) in seen or (pattern, self.exact[i]) in seen:
                continue
            seen.add((pattern, self.exact[i]))
            self._alternatives.append((i, pattern))
        self._skeletons = {i: skeleton(self.names[i]) for i, _ in self._alternatives
                           if self.exact[i]}
        self._regex: re.Pattern[str] | None = None
        self._single: dict[int, re.Pattern[str]] = {}

    def _bounded(self, body: str) -> re.Pattern[str]:
        word = _word_class()
        return re.compile(f"(?<!{word})(?:{body})(?!{word})")

    @property
    def regex(self) -> re.Pattern[str] | None:
        if self._regex is None and self._alternatives:
            self._regex = self._bounded("|".join(f"({p})" for _, p in self._alternatives))
        return self._regex

    def _accepts(self, folded: Folded, k: int, start: int, end: int) -> NameMatch | None:
        i = self._alternatives[k][0]
        a, b = folded.span(start, end)
        if self.exact[i] and skeleton(folded.text[a:b]) != self._skeletons[i]:
            return None
        return NameMatch(a, b, i)

    def _fallback(self, folded: Folded, k: int, pos: int) -> tuple[NameMatch, int] | None:
        """The first alternative after ``k`` that matches (and is accepted) at ``pos``,
        with the key position where it ends."""
        for later in range(k + 1, len(self._alternatives)):
            if later not in self._single:
                self._single[later] = self._bounded(self._alternatives[later][1])
            m = self._single[later].match(folded.key, pos)
            if m is not None and m.end() > m.start():
                found = self._accepts(folded, later, m.start(), m.end())
                if found is not None:
                    return found, m.end()
        return None

    def finditer(self, text: str) -> Iterator[NameMatch]:
        """Every name in ``text``, left to right, not overlapping."""
        regex = self.regex
        if regex is None:
            return
        folded = fold(text)
        pos = 0
        while pos <= len(folded.key):
            m = regex.search(folded.key, pos)
            if m is None:
                return
            if m.end() == m.start():  # cannot happen with a letter in every name; be safe
                pos = m.start() + 1
                continue
            k = (m.lastindex or 1) - 1
            found = self._accepts(folded, k, m.start(), m.end())
            end = m.end()
            if found is None:
                other = self._fallback(folded, k, m.start())
                if other is None:
                    pos = m.start() + 1
                    continue
                found, end = other
            yield found
            pos = end

    def first(self, text: str) -> NameMatch | None:
        """The first name in ``text``, if any."""
        return next(self.finditer(text), None)

    def whole(self, text: str) -> int | None:
        """The index of the name that ``text`` is, as a whole, if any."""
        m = self.first(text)
        if m is None or text[:m.start].strip() or text[m.end:].strip():
            return None
        return m.index

