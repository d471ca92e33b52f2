"""Caption files: WebVTT (``.vtt``), SubRip (``.srt``) and YouTube SBV (``.sbv``).

webvtt-py parses the cues; a scan of our own (:mod:`isp_nlp.ingest.cuescan`)
checks the timing lines first so that a bad or missing timing is reported
with its line number instead of the cue being silently dropped, and gives each
cue its source line. Speakers come from ``<v Name>`` voice tags (Microsoft
Teams writes them, with GUID cue ids that are dropped) or from a
label at the start of the cue text (``Name: text`` as Zoom writes it, or
``[Name]``). Consecutive cues of the same speaker merge into one turn, and
when most cues name a speaker, a cue without one right after a labelled one
continues that turn. Files without speakers give one turn per cue.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from isp_nlp.errors import InputFileError
from isp_nlp.ingest.cuescan import FORMAT_NAMES, CueTiming, match_cues, scan_timings
from isp_nlp.ingest.decode import load_text
from isp_nlp.ingest.labels import LabelMatch, accepted_speakers, is_accepted, match_label
from isp_nlp.ingest.render import RawTurn, build_transcript, clean_line
from isp_nlp.records import Transcript

_VOICE = re.compile(r"^\s*<v(?:\.[^\s>]*)*\s+([^>]*)>")
_TAG = re.compile(r"<[^>]*>")
_ASS_TAG = re.compile(r"\{\\[^}]*\}")
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e]")
_DIALOGUE_DASH = re.compile(r"^[-–—]\s")


@dataclass
class _Line:
    """One line of cue text with the speaker found for it."""

    cue: int
    raw: str
    text: str
    voice: str | None
    label: LabelMatch | None = None


def _cue_lines(index: int, lines: list[str]) -> list[_Line]:
    """Clean the lines of one cue: voice tags, other tags, entities, spacing."""
    out: list[_Line] = []
    voice: str | None = None
    for raw in lines:
        m = _VOICE.match(raw)
        if m:
            voice = clean_line(html.unescape(m.group(1))) or voice
        text = _ASS_TAG.sub("", _TAG.sub("", raw))
        text = clean_line(_BIDI.sub("", html.unescape(text)))
        if text:
            out.append(_Line(cue=index, raw=text, text=text, voice=voice))
    return out


def _resolve_speakers(cues: list[list[_Line]]) -> None:
    """Use accepted labels at the start of cue lines as speakers (in place).

    When most cues start with a label (Zoom), every label counts, even a
    name used once; otherwise the usual two-uses-or-known-role rule applies.
    """
    candidates = [
        (line, match_label(line.text)) for cue in cues for line in cue if line.voice is None
    ]
    accepted = accepted_speakers(m for _, m in candidates)
    starts = [match_label(cue[0].text) if cue[0].voice is None else None for cue in cues if cue]
    if sum(m is not None for m in starts) * 2 > len(starts):
        accepted |= {m.speaker.casefold() for _, m in candidates if m is not None}
    for line, match in candidates:
        if match is not None and is_accepted(match, accepted):
            line.label = match
            line.text = match.rest


def _drop_rolling_repeats(cues: list[list[_Line]], timings: list[CueTiming]) -> None:
    """Drop speaker-less lines that repeat the previous cue's last line.

    Rolling captions (YouTube auto-captions) show the previous line again at
    the top of the next cue; keeping it would duplicate the text.
    """
    for i in range(1, len(cues)):
        prev, cur = cues[i - 1], cues[i]
        if not prev or not cur or abs(timings[i - 1].end - timings[i].start) > 0.001:
            continue
        last = prev[-1]
        if last.voice or last.label:
            continue
        while cur and not cur[0].voice and not cur[0].label and cur[0].raw == last.raw:
            cur.pop(0)


def _add_text(turn: RawTurn, text: str, new_paragraph: bool) -> None:
    """Append cue text to the turn, as a new paragraph or to the last one."""
    if not text:
        return
    if new_paragraph or not turn.paragraphs:
        turn.paragraphs.append(text)
    else:
        turn.paragraphs[-1] = f"{turn.paragraphs[-1]} {text}"


def _build_turns(cues: list[list[_Line]], timings: list[CueTiming]) -> list[RawTurn]:
    """Merge cue lines into turns following the speaker rules."""
    turns: list[RawTurn] = []
    current: RawTurn | None = None
    current_cue = -1
    # Zoom labels nearly every cue and splits long turns over unlabelled
    # cues; subtitles (Netflix SDH) label only a few off-screen voices, so an
    # unlabelled cue continues a labelled turn only when most cues are labelled.
    labelled = sum(1 for cue in cues if any(line.voice or line.label for line in cue))
    continues = labelled * 2 >= sum(1 for cue in cues if cue)
    for cue_index, cue in enumerate(cues):
        timing = timings[cue_index]
        for line in cue:
            speaker = line.voice or (line.label.speaker if line.label else None)
            same_cue = current is not None and current_cue == cue_index
            if current is not None and (
                (speaker is None and ((continues and current.speaker is not None) or same_cue))
                or (speaker is not None and speaker == current.speaker)
            ):
                new_para = bool(_DIALOGUE_DASH.match(line.text))
                _add_text(current, line.text, new_para)
                current.t_end = timing.end
            else:
                current = RawTurn(
                    speaker=speaker, t_start=timing.start, t_end=timing.end, line=timing.line
                )
                _add_text(current, line.text, True)
                turns.append(current)
            current_cue = cue_index
    return turns


def read_timed(path: Path, fmt: str, *, document: str | None = None) -> Transcript:
    """Read a ``vtt``, ``srt`` or ``sbv`` caption file into a transcript."""
    decoded = load_text(path)
    # Trailing spaces are dropped, so a line of spaces ends a block as people
    # expect; leading blank lines are skipped for the parser (line numbers
    # come from the scan, which sees every line).
    lines = [line.rstrip() for line in decoded.text.split("\n")]
    first = next((i for i, line in enumerate(lines) if line), 0)
    captions = _parse(lines[first:], fmt, path.name)
    timings = scan_timings(lines, fmt, path.name)
    pairs = match_cues(captions, timings, fmt, path.name)
    cues = [_cue_lines(i, caption.lines) for i, (caption, _) in enumerate(pairs)]
    cue_timings = [timing for _, timing in pairs]
    if not any(cues):
        raise InputFileError(
            f"{path.name} contains no captions; expected at least one cue with text; "
            f"check that it is a complete {FORMAT_NAMES[fmt]} file."
        )
    _resolve_speakers(cues)
    _drop_rolling_repeats(cues, cue_timings)
    warnings = list(decoded.warnings)
    backwards = [t.line for t in cue_timings if t.end < t.start]
    if backwards:
        warnings.append(
            f"{path.name} line {backwards[0]}: {len(backwards)} cue(s) end before they start; "
            "their times were kept as written; fix the timings to silence this warning"
        )
    return build_transcript(
        _build_turns(cues, cue_timings),
        document=document or path.stem,
        name=path.name,
        sha256=decoded.sha256,
        source_format=fmt,
        warnings=warnings,
    )


def _parse(lines: list[str], fmt: str, name: str) -> list:
    """Parse with webvtt-py, turning its exceptions into one-line domain errors."""
    try:
        return list(webvtt.WebVTT.from_buffer(lines, format=fmt).captions)
    except MalformedFileError:
        raise InputFileError(_malformed_message(fmt, name, lines)) from None
    except (MalformedCaptionError, ValueError, IndexError) as exc:
        detail = clean_line(str(exc)) or type(exc).__name__
        raise InputFileError(
            f"{name} is not a readable {FORMAT_NAMES[fmt]} file ({detail}); "
            f"expected valid {FORMAT_NAMES[fmt]} cues; fix the file or re-export it."
        ) from None


def _malformed_message(fmt: str, name: str, lines: list[str]) -> str:
    """Explain why webvtt-py rejected the start of the file."""
    first = next((clean_line(x) for x in lines if x.strip()), "")
    found = f"it starts with {first[:40]!r}" if first else "it has no text"
    if fmt == "vtt":
        return (
            f"{name} line 1: {found} instead of 'WEBVTT'; expected a WebVTT file whose first "
            "line is WEBVTT; add that line (or give SubRip files the .srt suffix)."
        )
    if fmt == "srt":
        return (
            f"{name} line 1: {found}; expected a SubRip file starting with a cue number line "
            "and a timing line like '00:00:01,000 --> 00:00:02,500'; fix the start of the file."
        )
    return (
        f"{name} line 1: {found}; expected a YouTube SBV file starting with a timing line "
        "like '0:00:01.000,0:00:02.500'; fix the start of the file."
    )
