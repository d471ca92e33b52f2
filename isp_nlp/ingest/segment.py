"""Cut a transcript into codable segments: turns, sentences or paragraphs.

Offsets always point into ``Transcript.text`` and ``text[s.start:s.end]`` is
``s.text``; whitespace is trimmed by moving offsets, never by editing text.
Ids are :func:`isp_nlp.records.segment_id` (uuid5 of document and offsets), stable across runs.

A unit longer than ``max_chars`` is split at sentence boundaries, packing
whole sentences greedily, and a single sentence longer than that is cut at
whitespace. spaCy (which imports torch) is loaded only when sentences are
actually needed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from isp_nlp.errors import IspNlpError
from isp_nlp.records import Segment, Transcript, Turn, segment_id

UNITS = ("turn", "sentence", "paragraph")

Span = tuple[int, int]
_SPACE = re.compile(r"\s")


@lru_cache(maxsize=1)
def _sentencizer() -> Any:
    """A blank English spaCy pipeline with the rule-based sentencizer (cached).

    spaCy's thinc imports torch when it can, which costs seconds and memory that sentence
    splitting never uses; while spaCy loads, torch is hidden (when not yet imported), so
    segmenting stays torch-free and an embedder can still import torch afterwards.
    """
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # type: ignore[assignment]  # "import torch" fails
    try:
        import spacy
    finally:
        if hide:
            del sys.modules["torch"]
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.max_length = 10**8
    return nlp


def _strip(text: str, start: int, end: int) -> Span:
    """Move ``start``/``end`` inwards past whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _paragraphs(text: str, start: int, end: int) -> list[Span]:
    """Non-empty ``\\n``-separated lines of ``text[start:end]``, stripped."""
    spans: list[Span] = []
    pos = start
    while pos <= end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        span = _strip(text, pos, stop)
        if span[0] < span[1]:
            spans.append(span)
        pos = stop + 1
    return spans


def _sentences(text: str, start: int, end: int) -> list[Span]:
    """Sentence spans of ``text[start:end]``; sentences never cross a line break."""
    paragraphs = _paragraphs(text, start, end)
    nlp = _sentencizer()
    spans: list[Span] = []
    docs = nlp.pipe(text[a:b] for a, b in paragraphs)
    for (a, _), doc in zip(paragraphs, docs, strict=True):
        for sent in doc.sents:
            span = _strip(text, a + sent.start_char, a + sent.end_char)
            if span[0] < span[1]:
                spans.append(span)
    return spans


def _hard_split(text: str, start: int, end: int, max_chars: int) -> list[Span]:
    """Cut a span longer than ``max_chars`` at the last whitespace that fits."""
    spans: list[Span] = []
    while end - start > max_chars:
        limit = start + max_chars
        cut = next((i for i in range(limit, start, -1) if _SPACE.match(text, i)), limit)
        piece = _strip(text, start, cut)
        if piece[0] < piece[1]:
            spans.append(piece)
        start, end = _strip(text, cut, end)
    if start < end:
        spans.append((start, end))
    return spans


def _pack(text: str, sentences: list[Span], max_chars: int) -> list[Span]:
    """Greedily pack whole sentences into chunks of at most ``max_chars``."""
    chunks: list[Span] = []
    current: Span | None = None
    for a, b in sentences:
        if b - a > max_chars:
            if current is not None:
                chunks.append(current)
                current = None
            chunks.extend(_hard_split(text, a, b, max_chars))
        elif current is None:
            current = (a, b)
        elif b - current[0] <= max_chars:
            current = (current[0], b)
        else:
            chunks.append(current)
            current = (a, b)
    if current is not None:
        chunks.append(current)
    return chunks


def _fit(text: str, span: Span, max_chars: int) -> list[Span]:
    """``[span]`` when it fits, else its sentences packed into chunks."""
    if span[1] - span[0] <= max_chars:
        return [span]
    return _pack(text, _sentences(text, *span), max_chars)


def _turn_spans(text: str, turn: Turn, unit: str, max_chars: int) -> list[Span]:
    start, end = _strip(text, turn.start, turn.end)
    if start >= end:
        return []
    if unit == "turn":
        return _fit(text, (start, end), max_chars)
    if unit == "paragraph":
        return [s for p in _paragraphs(text, start, end) for s in _fit(text, p, max_chars)]
    return [s for sent in _sentences(text, start, end) for s in _fit(text, sent, max_chars)]


def segment_transcript(
    transcript: Transcript,
    *,
    unit: str = "turn",
    max_chars: int = 2000,
    skip_speakers: Iterable[str] = (),
) -> list[Segment]:
    """Segment ``transcript`` by ``unit`` (turn, sentence or paragraph).

    Segments of speakers in ``skip_speakers`` (case-insensitive) are kept as
    context with ``codable=False``.
    """
    if unit not in UNITS:
        raise IspNlpError(f"unknown segmentation unit {unit!r}; expected one of {', '.join(UNITS)}")
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise IspNlpError(
            f"max_chars is {max_chars!r}; expected a whole number of characters of at least 1; "
            "pass a positive limit such as 2000."
        )
    if isinstance(skip_speakers, str):
        skip_speakers = [skip_speakers]
    skip = {name.strip().casefold() for name in skip_speakers}
    text = transcript.text
    segments: list[Segment] = []
    for turn in transcript.turns:
        codable = not (turn.speaker is not None and turn.speaker.casefold() in skip)
        for start, end in _turn_spans(text, turn, unit, max_chars):
            segments.append(
                Segment(
                    id=segment_id(transcript.document, start, end),
                    document=transcript.document,
                    index=len(segments),
                    turn_index=turn.index,
                    unit=unit,
                    speaker=turn.speaker,
                    start=start,
                    end=end,
                    text=text[start:end],
                    codable=codable,
                )
            )
    return segments
