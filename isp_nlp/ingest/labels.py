"""Recognise speaker labels at the start of a line.

Shared by the plain-text, Word and caption readers. A line may start with an
optional timestamp (``[00:01:23]``, ``(00:01:23)`` or ``00:01:23``) and then
a label: ``Name:``, ``[Name]``, ``[Name]:``, ``**Name:**`` or ``**Name**:``.
A name is 1-4 words, each starting with a letter (a number may follow a
word, as in ``Speaker 2``), at most 40 characters.

Because ``Note: this is`` looks like a label, a candidate only counts when
the same name labels at least two lines of the file or it is a usual
interview role (``Interviewer``, ``Participant``, ``P07``, ``Speaker 2``,
``Q``, ``A`` ...); see :func:`accepted_speakers`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

MAX_LABEL_CHARS = 40

_WORD = r"[^\W\d_][\w.'’\-]*"
_NAME = rf"{_WORD}(?: (?:{_WORD}|\d+)){{0,3}}"
_TS = r"\d{1,2}(?::\d{2}){1,2}(?:[.,]\d+)?"
_STAMP = rf"(?:\[(?P<ts1>{_TS})\]|\((?P<ts2>{_TS})\)|(?P<ts3>{_TS}))\s*(?:[-–—]\s*)?"
_LABEL = re.compile(
    rf"^(?:{_STAMP})?"
    rf"(?:\*\*(?P<bold1>{_NAME}):\*\*"
    rf"|\*\*(?P<bold2>{_NAME})\*\*:"
    rf"|\[(?P<bracket>{_NAME})\]:?"
    rf"|(?P<plain>{_NAME}):)"
    r"(?:\s+|$)"
)
_KNOWN = re.compile(
    r"(?:interviewer|interviewee|participant|respondent|moderator|facilitator|speaker)"
    r"(?:\s*#?\s*\d+|\s+[a-z])?"
    r"|p\s?-?\d+|[iqra]\d*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LabelMatch:
    """A speaker label candidate found at the start of a line."""

    speaker: str
    rest: str
    seconds: float | None = None


def parse_timestamp(value: str) -> float:
    """Seconds in ``[h:]mm:ss[.fff]``; two fields are minutes and seconds."""
    parts = value.replace(",", ".").split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def match_label(line: str) -> LabelMatch | None:
    """Return the label candidate at the start of ``line`` (already stripped), if any."""
    m = _LABEL.match(line)
    if m is None:
        return None
    kind = next(k for k in ("bold1", "bold2", "bracket", "plain") if m.group(k))
    speaker = m.group(kind)
    if len(speaker) > MAX_LABEL_CHARS:
        return None
    if not is_known_label(speaker) and speaker[0].islower():
        # Sound descriptions in captions ("[laughs]") and lower-case prose
        # ("so basically: ...") are not speakers unless they are known roles.
        return None
    stamp = m.group("ts1") or m.group("ts2") or m.group("ts3")
    seconds = parse_timestamp(stamp) if stamp else None
    return LabelMatch(speaker=speaker, rest=line[m.end() :].strip(), seconds=seconds)


def is_known_label(speaker: str) -> bool:
    """True for usual interview roles such as Interviewer, P07, Speaker 2, Q or A."""
    return _KNOWN.fullmatch(speaker.strip()) is not None


def accepted_speakers(matches: Iterable[LabelMatch | None]) -> set[str]:
    """Case-folded names that label at least two lines or are known roles."""
    counts = Counter(m.speaker.casefold() for m in matches if m is not None)
    return {name for name, n in counts.items() if n >= 2 or is_known_label(name)}


def is_accepted(match: LabelMatch | None, accepted: set[str]) -> bool:
    """True when ``match`` is a label whose name is in ``accepted``."""
    return match is not None and match.speaker.casefold() in accepted
