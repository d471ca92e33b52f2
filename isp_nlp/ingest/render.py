"""Build the canonical transcript text from the turns a reader found.

Every reader produces :class:`RawTurn` objects; :func:`build_transcript`
renders them the same way for all formats: turns are joined by a blank line,
each rendered ``"{speaker}: {utterance}"`` (or just the utterance), and the
utterance's paragraphs are single lines joined by ``\\n``. ``Turn.start`` and
``Turn.end`` point at the utterance, so ``text[turn.start:turn.end]`` is it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from isp_nlp.errors import InputFileError
from isp_nlp.ingest.controls import strip_controls
from isp_nlp.records import Transcript, Turn

_SPACES = re.compile(r"\s+")
LONG_TURN_CHARS = 2000
DOMINANT_SHARE = 0.8


@dataclass
class RawTurn:
    """A turn as a reader found it, before cleaning and rendering."""

    speaker: str | None
    paragraphs: list[str] = field(default_factory=list)
    t_start: float | None = None
    t_end: float | None = None
    line: int | None = None


def clean_line(text: str) -> str:
    """Drop control characters (escape sequences, bidi overrides), collapse runs of
    whitespace (including line breaks) to one space and strip."""
    return _SPACES.sub(" ", strip_controls(text)).strip()


def clean_speaker(speaker: str | None) -> str | None:
    """Return the speaker name with tidy spacing, or None when it is blank."""
    if speaker is None:
        return None
    cleaned = clean_line(speaker).rstrip(":").strip()
    return cleaned or None


def render_utterance(paragraphs: Iterable[str]) -> str:
    """Join the non-empty cleaned paragraphs with single newlines."""
    return "\n".join(p for p in (clean_line(p) for p in paragraphs) if p)


def build_transcript(
    turns: Iterable[RawTurn],
    *,
    document: str,
    name: str,
    sha256: str,
    source_format: str,
    warnings: Iterable[str] = (),
) -> Transcript:
    """Render ``turns`` into a :class:`Transcript`; turns without text are dropped."""
    parts: list[str] = []
    out: list[Turn] = []
    pos = 0
    for raw in turns:
        utterance = render_utterance(raw.paragraphs)
        if not utterance:
            continue
        speaker = clean_speaker(raw.speaker)
        if parts:
            parts.append("\n\n")
            pos += 2
        prefix = f"{speaker}: " if speaker else ""
        start = pos + len(prefix)
        parts.append(prefix + utterance)
        pos = start + len(utterance)
        out.append(
            Turn(
                index=len(out),
                speaker=speaker,
                start=start,
                end=pos,
                t_start=raw.t_start,
                t_end=raw.t_end,
                line=raw.line,
            )
        )
    if not out:
        raise InputFileError(
            f"{name} contains no transcript text; expected at least one utterance; "
            "check that the file holds the transcript and not only headings or labels."
        )
    return Transcript(
        document=document,
        name=name,
        sha256=sha256,
        text="".join(parts),
        turns=tuple(out),
        source_format=source_format,
        warnings=(*warnings, *speaker_warnings(out, name)),
    )


def speaker_warnings(turns: Sequence[Turn], name: str) -> list[str]:
    """Warn when the speaker labels were probably not recognised.

    That is when fewer than two speakers were found, or one turn of more
    than :data:`LONG_TURN_CHARS` characters holds over :data:`DOMINANT_SHARE`
    of the text: a transcript whose labels were missed reads as one turn.
    """
    hint = "check the speaker labels (expected lines such as 'Interviewer: …')"
    speakers = list(dict.fromkeys(t.speaker for t in turns if t.speaker))
    if len(speakers) < 2:
        found = f"'{speakers[0]}'" if speakers else "no speaker labels at all"
        return [f"{name}: only one speaker found ({found}); {hint}"]
    total = sum(t.end - t.start for t in turns)
    longest = max(turns, key=lambda t: t.end - t.start)
    size = longest.end - longest.start
    if size > LONG_TURN_CHARS and size > DOMINANT_SHARE * total:
        where = f" (line {longest.line})" if longest.line is not None else ""
        return [
            f"{name}: one turn of {longest.speaker}{where} holds {round(100 * size / total)} % "
            f"of the text ({size} characters); {hint}"
        ]
    return []
