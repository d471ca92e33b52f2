"""Plain-text and Markdown transcripts.

A line that starts with an accepted speaker label (see
:mod:`isp_nlp.ingest.labels`: ``Name:``, timestamped, Rev, Otter and Teams
forms) starts a new turn; lines without a label continue the current turn,
and a blank line inside a turn starts a new paragraph of it. A line holding
only a time next to a label is dropped (the turn keeps the time). Text
before the first label is a turn without a speaker. A file without any
label becomes one speaker-less turn per paragraph (and a warning, see
:func:`isp_nlp.ingest.render.speaker_warnings`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from isp_nlp.ingest.cell_dump import dump_note, read_cell_dump
from isp_nlp.ingest.decode import load_text
from isp_nlp.ingest.labels import (
    LabelMatch,
    accepted_speakers,
    is_accepted,
    label_lines,
    match_stamp_line,
)
from isp_nlp.ingest.render import RawTurn, build_transcript, clean_line
from isp_nlp.records import Transcript

_HEADING = re.compile(r"#{1,6}\s")


def _flush(turn: RawTurn | None, para: list[str]) -> None:
    """Move the pending paragraph lines into ``turn`` and clear them."""
    if turn is not None and para:
        turn.paragraphs.append(" ".join(para))
    para.clear()


def _rest(match: LabelMatch | None) -> str:
    return match.rest if match is not None else ""


def turns_from_lines(
    lines: Sequence[tuple[int, str]], accepted: set[str] | None = None
) -> list[RawTurn]:
    """Group ``(line number, text)`` pairs into turns by speaker labels.

    ``accepted`` holds the case-folded speaker names that count as labels;
    by default they are worked out from ``lines`` themselves. A line that
    is only a time or timing range right above an accepted label is dropped
    (the label takes its time), and so is one right below a label with no
    text after it (``Jane Doe`` / ``0:03`` / text).
    """
    stripped = [(no, text.strip()) for no, text in lines]
    matches = label_lines([text for _, text in stripped])
    if accepted is None:
        accepted = accepted_speakers(matches)
    labelled = [is_accepted(m, accepted) for m in matches]
    filled = [i for i, (_, text) in enumerate(stripped) if text]
    timing_only: set[int] = set()
    for pos, i in enumerate(filled):
        if labelled[i] or match_stamp_line(stripped[i][1]) is None:
            continue
        before = filled[pos - 1] if pos else None
        after = filled[pos + 1] if pos + 1 < len(filled) else None
        if (after is not None and labelled[after]) or (
            before is not None and labelled[before] and not _rest(matches[before])
        ):
            timing_only.add(i)
    turns: list[RawTurn] = []
    current: RawTurn | None = None
    para: list[str] = []
    for i, ((no, raw), match) in enumerate(zip(stripped, matches, strict=True)):
        text = clean_line(raw)
        if i in timing_only:
            continue
        if match is not None and labelled[i]:
            _flush(current, para)
            current = RawTurn(speaker=match.speaker, t_start=match.seconds, line=no)
            turns.append(current)
            if match.rest:
                para.append(match.rest)
        elif not text:
            _flush(current, para)
            if not accepted:
                current = None  # without labels each paragraph is its own turn
        else:
            if current is None:
                current = RawTurn(speaker=None, line=no)
                turns.append(current)
            para.append(text)
    _flush(current, para)
    return turns


def drop_title(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop a Markdown heading that is the first non-blank line."""
    for i, (_, text) in enumerate(lines):
        if not text.strip():
            continue
        if _HEADING.match(text.lstrip()):
            return lines[:i] + lines[i + 1 :]
        break
    return lines


def read_text(path: Path, *, document: str | None = None) -> Transcript:
    """Read a ``.txt``, ``.text`` or ``.md`` transcript."""
    decoded = load_text(path)
    raw = decoded.text.split("\n")
    dump = read_cell_dump(raw)
    if dump is not None:
        turns = [RawTurn(raw[r[dump.speaker_field][0]] if dump.speaker_field is not None
                         else None, raw[r[dump.text_field][0]:r[dump.text_field][1] + 1],
                         line=r[dump.text_field][0] + 1) for r in dump.records]
        warnings = (*decoded.warnings, dump_note(dump, path.name))
    else:
        lines = drop_title(list(enumerate(raw, start=1)))
        turns, warnings = turns_from_lines(lines), decoded.warnings
    return build_transcript(
        turns,
        document=document or path.stem,
        name=path.name,
        sha256=decoded.sha256,
        source_format="markdown" if path.suffix.lower() == ".md" else "text",
        warnings=warnings,
    )
