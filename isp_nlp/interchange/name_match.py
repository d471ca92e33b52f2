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


def name_pattern(name: str, *, soft: bool = True) -> tuple[str, bool]:
    """The regular expression (over match keys) of one name, without its boundaries, and
    whether it has optional letters (an apostrophe, ``ue`` for ``ü``). ``soft``: a soft
    hyphen may sit between any two letters (only needed when the text holds one)."""
    folded = fold(name)
    separator = _SEPARATOR if soft else r"[ \-]+"
    tokens: list[str] = []
    flexible = False
    for j, c in enumerate(folded.key):
        if c in " -" + SOFT_HYPHEN:
            if tokens and tokens[-1] != separator:
                tokens.append(separator)
            continue
        if c == "'":
            tokens.append("'?")
            flexible = True
            continue
        source = name[folded.origin[j]] if folded.origin is not None else c
        umlaut = _umlaut(source)
        flexible |= umlaut
        tokens.append(re.escape(c) + ("e?" if umlaut else ""))
    while tokens and tokens[-1] in (separator, "'?"):
        tokens.pop()
    while tokens and tokens[0] in (separator, "'?"):
        tokens.pop(0)
    return ("\u00ad?" if soft else "").join(tokens), flexible


def _canonical(key: str) -> tuple[str, ...]:
    """The forms a matched key slice may take as a listed name's key (soft hyphens
    inside a word dropped, or read as separators)."""
    inside = " ".join(re.split(r"[ \-]+", key.replace(SOFT_HYPHEN, "")))
    between = " ".join(re.split(r"[ \-\u00ad]+", key))
    return (inside, between) if inside != between else (inside,)


@dataclass(frozen=True)
class NameMatch:
    """A match: the span of the original text and the index of the name found."""

    start: int
    end: int
    index: int


class NameMatcher:
    """Finds the ``names`` (see the module docstring); ``exact[i]`` marks a name matched
    with its case only. A name whose key has no letter or digit is never matched.

    One regular expression (no capturing groups, which would make it many times slower)
    finds each match; the name it found is the first alternative, in order, that matches
    there, looked up by the matched key and checked with that name's own expression.
    """

    def __init__(self, names: Sequence[str], exact: Sequence[bool] = ()) -> None:
        self.names = tuple(names)
        self.exact = tuple(exact) or (False,) * len(self.names)
        order = sorted(range(len(self.names)),
                       key=lambda i: (-len(name_key(self.names[i])), self.exact[i],
                                      name_key(self.names[i]), i))
        self._index: list[int] = []  # alternative -> name index
        self._patterns: dict[bool, list[str]] = {True: [], False: []}
        self._flexible: list[int] = []  # alternatives with optional letters
        self._canon: dict[str, list[int]] = {}
        seen: set[tuple[str, str]] = set()  # (pattern, "" or the letters of an exact name)
        for i in order:
            if not any(c.isalnum() for c in name_key(self.names[i])):
                continue
            pattern, flexible = name_pattern(self.names[i])
            case = skeleton(self.names[i]) if self.exact[i] else ""
            if (pattern, "") in seen or (pattern, case) in seen:
                continue
            seen.add((pattern, case))
            k = len(self._index)
            self._index.append(i)
            self._patterns[True].append(pattern)
            self._patterns[False].append(name_pattern(self.names[i], soft=False)[0])
            if flexible:
                self._flexible.append(k)
            self._canon.setdefault(_canonical(fold(self.names[i]).key.replace("'", ""))[0],
                                   []).append(k)
        self._skeletons = {i: skeleton(self.names[i]) for i in self._index if self.exact[i]}
        self._compiled: dict[tuple[int, int, bool], re.Pattern[str]] = {}
        self._bare: dict[tuple[int, bool], re.Pattern[str]] = {}

    def _regex(self, first: int, last: int, soft: bool) -> re.Pattern[str]:
        """The bounded expression of alternatives ``first`` to ``last - 1``."""
        found = self._compiled.get((first, last, soft))
        if found is None:
            word = _word_class()
            body = "|".join(self._patterns[soft][first:last])
            found = re.compile(f"(?<!{word})(?:{body})(?!{word})")
            self._compiled[(first, last, soft)] = found
        return found

    def _fits(self, k: int, soft: bool, key: str, start: int, end: int) -> bool:
        """True when alternative ``k`` alone matches exactly ``key[start:end]``."""
        bare = self._bare.get((k, soft))
        if bare is None:
            bare = self._bare[(k, soft)] = re.compile(self._patterns[soft][k])
        return bare.fullmatch(key, start, end) is not None

    def _which(self, key: str, m: re.Match[str], first: int, soft: bool) -> int:
        """The alternative (from ``first`` on) that the expression found as ``m``: the
        first, in order, that matches exactly the matched text (an earlier one that did
        would have been found instead, its boundaries being the same)."""
        start, end = m.span()
        listed = {k for form in _canonical(m.group()) for k in self._canon.get(form, ())}
        for k in sorted(k for k in listed.union(self._flexible) if k >= first):
            if self._fits(k, soft, key, start, end):
                return k
        for k in range(first, len(self._index)):  # not expected: check them all
            if self._fits(k, soft, key, start, end):
                return k
        raise AssertionError("a name matched that no alternative matches")  # pragma: no cover

    def _accepts(self, folded: Folded, k: int, start: int, end: int) -> NameMatch | None:
        i = self._index[k]
        a, b = folded.span(start, end)
        if self.exact[i] and skeleton(folded.text[a:b]) != self._skeletons[i]:
            return None
        return NameMatch(a, b, i)

    def finditer(self, text: str) -> Iterator[NameMatch]:
        """Every name in ``text``, left to right, not overlapping."""
        if not self._index:
            return
        folded = fold(text)
        key = folded.key
        soft = SOFT_HYPHEN in key
        everything = self._regex(0, len(self._index), soft)
        pos = 0
        while pos <= len(key):
            m = everything.search(key, pos)
            if m is None:
                return
            k = self._which(key, m, 0, soft)
            found = self._accepts(folded, k, m.start(), m.end())
            while found is None and k + 1 < len(self._index):  # a case-sensitive name
                later = self._regex(k + 1, len(self._index), soft).match(key, m.start())
                if later is None:
                    break
                m, k = later, self._which(key, later, k + 1, soft)
                found = self._accepts(folded, k, m.start(), m.end())
            if found is None:
                pos = m.start() + 1
                continue
            yield found
            pos = max(m.end(), m.start() + 1)

    def first(self, text: str) -> NameMatch | None:
        """The first name in ``text``, if any."""
        return next(self.finditer(text), None)

    def whole(self, text: str) -> int | None:
        """The index of the name that ``text`` is, as a whole, if any."""
        m = self.first(text)
        if m is None or text[:m.start].strip() or text[m.end:].strip():
            return None
        return m.index
