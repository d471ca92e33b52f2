"""Recognise speaker labels at the start of a line.

Shared by the plain-text, Word and caption readers. The label forms are:

* ``Name:``, ``[Name]``, ``[Name]:``, ``**Name:**`` or ``**Name**:``, each
  with an optional timestamp before it (``[00:01:23] Name:``,
  ``(00:03) Name:``, ``00:01:23 Name:``) or right after it
  (``Name: [00:01:23] text``);
* Rev style, the time after the name: ``Name (00:01:23): text`` or
  ``Speaker 1 (00:03):`` alone on its line above the text;
* Otter and Microsoft Teams style, a name and a time alone on a line above
  the text, separated by two spaces or a tab: ``Speaker 1  0:03``,
  ``Jane Doe   1:02:03``;
* a time then a capitalised name alone on a line (Word's Transcribe:
  ``00:00:05 Speaker 1``), or a bracketed name then a time (Zoom:
  ``[Jane Doe] 10:02:03``), above the text;
* a timing line (``0:0:3.120 --> 0:0:5.600`` or a lone ``[00:00:03]``)
  followed by a line holding only a capitalised name, then the text, as old
  Teams .docx transcripts are written (see :func:`label_lines`).

A name is 1-4 words, each starting with a letter (a number may follow a
word, as in ``Speaker 2``), at most 40 characters.

Because ``Note: this is`` looks like a label, a candidate only counts when
the same name labels at least two lines of the file, it is a usual interview
role (``Interviewer``, ``Participant``, ``P07``, ``Speaker 2``, ``Q``, ``A``
...), or the file labels its turns with times (two or more labels, and at
least half of them, carry a timestamp: then every timestamped label counts,
even a name used once); see
:func:`accepted_speakers`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_LABEL_CHARS = 40

_WORD = r"[^\W\d_][\w.'’\-]*"
_NAME = rf"{_WORD}(?: (?:{_WORD}|\d+)){{0,3}}"
_TS = r"\d{1,2}(?::\d{2}){1,2}(?:[.,]\d+)?"
_LOOSE_TS = r"\d{1,2}(?::\d{1,2}){1,2}(?:[.,]\d+)?"  # Teams writes 0:0:3.120
_STAMP = rf"(?:\[(?P<ts1>{_TS})\]|\((?P<ts2>{_TS})\)|(?P<ts3>{_TS}))\s*(?:[-–—]\s*)?"
_LABEL = re.compile(
    rf"^(?:{_STAMP})?"
    rf"(?:\*\*(?P<bold1>{_NAME}):\*\*"
    rf"|\*\*(?P<bold2>{_NAME})\*\*:"
    rf"|\[(?P<bracket>{_NAME})\]:?"
    rf"|(?P<plain>{_NAME}):)"
    r"(?:\s+|$)"
)
_REV = re.compile(rf"^(?P<name>{_NAME}) ?[(\[](?P<ts>{_TS})[)\]](?::\s*|\s*$)")
# A heading's name may be written as a directory shows it: "Doe, Jane (Guest)".
_DIRECTORY_NAME = r"[^\W\d_][\w.'’\-,()/]*(?: [\w.'’\-,()/]+){0,5}"
_HEADING = re.compile(
    rf"^(?P<name>{_DIRECTORY_NAME}?)(?P<gap>\t[\t ]*|[ \u00a0\u2007\u202f]{{2,}}| )(?P<ts>{_TS})$"
)
# Word's Transcribe: "00:00:05 Speaker 1" above the text.
# (hh:mm:ss or a bracketed time, so that prose such as "12:00 Noon" is not taken).
_HMS = r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"
_STAMP_NAME = re.compile(
    rf"^(?:[(\[](?P<ts1>{_TS})[)\]]|(?P<ts2>{_HMS})) (?P<name>{_DIRECTORY_NAME})$"
)
_STAMP_AFTER = re.compile(rf"^[(\[](?P<ts>{_TS})[)\]]\s*")
_STAMP_LINE = re.compile(
    rf"^[(\[]?(?P<ts>{_LOOSE_TS})[)\]]?(?:\s*(?:-->|[-–—])\s*[(\[]?{_LOOSE_TS}[)\]]?)?$"
)
_BARE_NAME = re.compile(_DIRECTORY_NAME)
_SPACES = re.compile(r"\s+")
_KNOWN = re.compile(
    r"(?:interviewer|interviewee|participant|respondent|moderator|facilitator|speaker)"
    r"(?:\s*#?\s*\d+|\s+[a-z])?"
    r"|p\s?-?\d+|[iqra]\d*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LabelMatch:
    """A speaker label candidate found at the start of a line.

    ``stamped`` is True when the label carries a timestamp (``seconds`` may
    still be None for a name found below a timing line without a start).
    """

    speaker: str
    rest: str
    seconds: float | None = None
    stamped: bool = False


def parse_timestamp(value: str) -> float:
    """Seconds in ``[h:]mm:ss[.fff]``; two fields are minutes and seconds."""
    parts = value.replace(",", ".").split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def _speaker_ok(speaker: str) -> bool:
    """Short enough, and capitalised unless it is a known role.

    Sound descriptions in captions ("[laughs]") and lower-case prose
    ("so basically: ...") are not speakers unless they are known roles.
    """
    return len(speaker) <= MAX_LABEL_CHARS and (
        is_known_label(speaker) or not speaker[0].islower()
    )


def match_label(line: str) -> LabelMatch | None:
    """Return the label candidate at the start of ``line`` (already stripped), if any.

    Whitespace inside the line may be unnormalised: an Otter/Teams heading
    (``Name  0:03``) is told from prose by its two spaces or tab, and the
    other forms are matched with runs of whitespace collapsed.
    """
    line = line.strip()
    heading = _HEADING.match(line)
    if heading is not None and (heading.group("gap") != " " or is_known_label(heading["name"])):
        name = heading.group("name")
        if not _speaker_ok(name):
            return None
        return LabelMatch(name, "", parse_timestamp(heading.group("ts")), stamped=True)
    line = _SPACES.sub(" ", line)
    stamp_name = _STAMP_NAME.match(line)
    if stamp_name is not None and (name := _bare_name(stamp_name.group("name"))) is not None:
        if not _speaker_ok(name):
            return None
        when = stamp_name.group("ts1") or stamp_name.group("ts2")
        return LabelMatch(name, "", parse_timestamp(when), stamped=True)
    rev = _REV.match(line)
    if rev is not None:
        name = rev.group("name")
        if not _speaker_ok(name):
            return None
        rest = line[rev.end() :].strip()
        return LabelMatch(name, rest, parse_timestamp(rev.group("ts")), stamped=True)
    m = _LABEL.match(line)
    if m is None:
        return None
    kind = next(k for k in ("bold1", "bold2", "bracket", "plain") if m.group(k))
    speaker = m.group(kind)
    if not _speaker_ok(speaker):
        return None
    stamp = m.group("ts1") or m.group("ts2") or m.group("ts3")
    rest = line[m.end() :].strip()
    if stamp is None and (after := _STAMP_AFTER.match(rest)) is not None:
        stamp, rest = after.group("ts"), rest[after.end() :]
    elif stamp is None and kind == "bracket" and re.fullmatch(_TS, rest):
        stamp, rest = rest, ""  # Zoom's "[Jane Doe] 10:02:03" above the text
    seconds = parse_timestamp(stamp) if stamp else None
    return LabelMatch(speaker=speaker, rest=rest, seconds=seconds, stamped=stamp is not None)


def match_stamp_line(line: str) -> float | None:
    """Seconds of a line that is only a time or a timing range, else None.

    ``[00:00:03]``, ``00:03``, ``0:0:3.120 --> 0:0:5.600`` and
    ``00:00:03 - 00:00:09`` give the (first) time.
    """
    m = _STAMP_LINE.match(line.strip())
    return parse_timestamp(m.group("ts")) if m else None


def _bare_name(line: str) -> str | None:
    """A line that is only a capitalised name (``Jane Doe``, ``Doe, Jane (Guest)``)."""
    line = _SPACES.sub(" ", line.strip())
    if not _BARE_NAME.fullmatch(line) or len(line) > MAX_LABEL_CHARS:
        return None
    words = [w.strip(",()/") for w in line.split(" ")]
    if line.endswith(("?", "!", "…")) or (line.endswith(".") and len(words[-1]) > 3):
        return None  # a sentence ("Good.", "Really?"), not a name ("Jr.", "Dr.")
    if is_known_label(line) or all(w[:1].isupper() or w.isdigit() for w in words if w):
        return line
    return None


def label_lines(lines: Sequence[str]) -> list[LabelMatch | None]:
    """The label candidate of each line, in order (None for blank lines and text).

    Besides :func:`match_label`, a line holding only a capitalised name
    right below (or right above) a timing line (:func:`match_stamp_line`)
    and above more text is a candidate (old Teams .docx:
    ``0:0:3.120 --> 0:0:5.600`` / ``Jane Doe`` / text, or ``Jane Doe`` /
    ``0:03`` / text); a label right below a timing line takes its time when
    it has none, and so does a label with no text right above one.
    """
    matches = [match_label(line) if line.strip() else None for line in lines]
    filled = [i for i, line in enumerate(lines) if line.strip()]
    for pos, i in enumerate(filled[:-1]):
        if matches[i] is not None:
            continue
        seconds = match_stamp_line(lines[i])
        if seconds is None:
            continue
        j = filled[pos + 1]
        above = matches[filled[pos - 1]] if pos else None
        if above is not None and not above.rest:
            continue  # "Interviewer:" / "0:03" / text: the time belongs to the label above
        current = matches[j]
        if current is not None:
            if current.seconds is None:
                matches[j] = LabelMatch(current.speaker, current.rest, seconds, stamped=True)
            continue
        name = _bare_name(lines[j])
        has_text = pos + 2 < len(filled) and match_stamp_line(lines[filled[pos + 2]]) is None
        if name is not None and has_text:
            matches[j] = LabelMatch(name, "", seconds, stamped=True)
    for pos, i in enumerate(filled[:-2]):  # "Jane Doe" / "0:03" / text
        j, k = filled[pos + 1], filled[pos + 2]
        label, seconds = matches[i], match_stamp_line(lines[j])
        if label is not None and not label.rest and label.seconds is None and seconds is not None:
            matches[i] = LabelMatch(label.speaker, "", seconds, stamped=True)
        elif matches[i] is None and matches[j] is None and matches[k] is None:
            name, seconds = _bare_name(lines[i]), match_stamp_line(lines[j])
            if name is not None and seconds is not None and match_stamp_line(lines[k]) is None:
                matches[i] = LabelMatch(name, "", seconds, stamped=True)
    return matches


def is_known_label(speaker: str) -> bool:
    """True for usual interview roles such as Interviewer, P07, Speaker 2, Q or A."""
    return _KNOWN.fullmatch(speaker.strip()) is not None


def accepted_speakers(matches: Iterable[LabelMatch | None]) -> set[str]:
    """Case-folded names that label at least two lines or are known roles.

    When two or more labels, and at least half of all candidates, carry a
    timestamp, the file labels its turns with times and every timestamped
    label's name counts too.
    """
    found = [m for m in matches if m is not None]
    counts = Counter(m.speaker.casefold() for m in found)
    accepted = {name for name, n in counts.items() if n >= 2 or is_known_label(name)}
    stamped = {m.speaker.casefold() for m in found if m.stamped}
    n_stamped = sum(m.stamped for m in found)
    if n_stamped >= 2 and 2 * n_stamped >= len(found):
        accepted |= stamped
    return accepted


def is_accepted(match: LabelMatch | None, accepted: set[str]) -> bool:
    """True when ``match`` is a label whose name is in ``accepted``."""
    return match is not None and match.speaker.casefold() in accepted
