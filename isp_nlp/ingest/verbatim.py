"""A transcript whose stored text is a source's text itself, so coded spans stay exact.

QDA tools point selections into the plain text they hold; ingesting that text the
usual way (cleaning lines, dropping labels) would move every offset. Here the text
is only decoded (UTF-8 with or without BOM, else UTF-16 with a BOM, else cp1252),
its BOM dropped and its line ends made LF; each control character (NUL, ESC, the
bidi overrides ...; not tab or line breaks) becomes one space, with a warning, so offsets
stay right and no control reaches the store or a terminal; nothing else changes. Turns
point into
that text: a line starting with an accepted speaker label (:mod:`isp_nlp.ingest.labels`)
starts a turn whose span is the utterance after the label; without labels every
blank-line-separated paragraph is a turn.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass

from isp_nlp.errors import InputFileError
from isp_nlp.ingest.cell_dump import CellDump, dump_note, read_cell_dump
from isp_nlp.ingest.controls import CONTROLS
from isp_nlp.ingest.decode import normalise_newlines
from isp_nlp.ingest.labels import LabelMatch, accepted_speakers, is_accepted, match_label
from isp_nlp.records import Transcript, Turn

BOM = "\ufeff"

#: Control characters a source may hold and still be text (stray NULs, escapes); beyond
#: this and beyond 1 % of its characters it is binary data, not a transcript.
_STRAY_CONTROLS = 16


@dataclass(frozen=True)
class VerbatimText:
    """A source's text as decoded (``original``: BOM and CR kept) and as stored (``text``)."""

    original: str
    text: str
    encoding: str
    sha256: str
    warnings: tuple[str, ...] = ()


def decode_verbatim(raw: bytes, name: str) -> VerbatimText:
    """Decode ``raw`` (see the module docstring); ``original`` keeps BOM and line ends."""
    warnings: list[str] = []
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not raw.startswith(
            codecs.BOM_UTF32_LE):
        try:
            original = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InputFileError(f"{name} starts with a UTF-16 byte order mark but is not "
                                 "valid UTF-16; export the source again as UTF-8.") from None
        original, encoding = BOM + original.lstrip(BOM), "utf-16"
    else:
        try:
            original, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            original, encoding = raw.decode("cp1252", errors="replace"), "cp1252"
            warnings.append(f"{name} is not UTF-8; read it as Windows-1252 (cp1252)")
    controls = CONTROLS.findall(original)
    if len(controls) > max(_STRAY_CONTROLS, len(original) // 100):
        raise InputFileError(
            f"{name} is binary data, not text: {len(controls):,} of its {len(original):,} "
            "characters are control characters; export the source again as plain text.")
    if controls:
        original = CONTROLS.sub(" ", original)  # one code point, one UTF-16 unit: same offsets
        first = f"U+{ord(controls[0]):04X}"
        warnings.append(f"{name} holds {len(controls)} control character(s) (first {first}); "
                        "each is replaced by a space so selection offsets still fit")
    text = normalise_newlines(original[1:] if original.startswith(BOM) else original)
    return VerbatimText(original, text, encoding, hashlib.sha256(raw).hexdigest(),
                        tuple(warnings))


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line of ``text`` (without the LF)."""
    spans, pos = [], 0
    for line in text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _utterance_start(line: str, start: int, match: LabelMatch) -> int:
    """Offset in the text where the utterance after the label on ``line`` begins."""
    stripped = line.strip()
    lead = len(line) - len(line.lstrip())
    if match.rest and stripped.endswith(match.rest):
        return start + lead + len(stripped) - len(match.rest)
    return start + len(line) if not match.rest else start + lead


def _dump_turns(text: str, lines: list[tuple[int, int]], dump: CellDump) -> tuple[Turn, ...]:
    """One turn per record of a cell dump: its text cell, by its speaker cell."""
    turns: list[Turn] = []
    for record in dump.records:
        first, last = record[dump.text_field]
        a, b = lines[first][0], lines[last][1]
        lead = len(text[a:b]) - len(text[a:b].lstrip())
        end = a + len(text[a:b].rstrip())
        speaker = None
        if dump.speaker_field is not None:
            s_first, s_last = record[dump.speaker_field]
            speaker = " ".join(text[lines[s_first][0]:lines[s_last][1]].split()) or None
        turns.append(Turn(index=len(turns), speaker=speaker, start=a + lead,
                          end=max(a + lead, end), line=first + 1))
    return tuple(turns)


def verbatim_turns(text: str, dump: CellDump | None = None) -> tuple[Turn, ...]:
    """Turns of ``text``: one per record of ``dump`` when it is a cell dump
    (:mod:`isp_nlp.ingest.cell_dump`), else by speaker labels, or one per paragraph
    without labels."""
    lines = _lines(text)
    if dump is not None:
        return _dump_turns(text, lines, dump)
    matches = [match_label(text[a:b].strip()) if text[a:b].strip() else None
               for a, b in lines]
    accepted = accepted_speakers(matches)
    turns: list[Turn] = []
    open_turn: tuple[str | None, int, int, int] | None = None  # speaker, start, end, line

    def close() -> None:
        if open_turn is not None:
            speaker, start, end, line = open_turn
            turns.append(Turn(index=len(turns), speaker=speaker, start=start,
                              end=max(start, end), line=line))

    for number, ((a, b), match) in enumerate(zip(lines, matches, strict=True), start=1):
        line = text[a:b]
        if match is not None and is_accepted(match, accepted):
            close()
            open_turn = (match.speaker, _utterance_start(line, a, match), b, number)
        elif not line.strip():
            if not accepted and open_turn is not None:
                close()
                open_turn = None
        elif open_turn is None:
            open_turn = (None, a + len(line) - len(line.lstrip()), b, number)
        else:
            open_turn = (open_turn[0], open_turn[1], b, open_turn[3])
    close()
    return tuple(turns)


def verbatim_transcript(decoded: VerbatimText, *, document: str, name: str,
                        source_format: str = "refi-qda") -> Transcript:
    """A :class:`Transcript` of ``decoded.text`` with :func:`verbatim_turns`; a cell dump
    says so in a warning."""
    dump = read_cell_dump(decoded.text.split("\n"))
    warnings = decoded.warnings + ((dump_note(dump, name),) if dump is not None else ())
    return Transcript(document=document, name=name, sha256=decoded.sha256, text=decoded.text,
                      turns=verbatim_turns(decoded.text, dump), source_format=source_format,
                      warnings=warnings)
