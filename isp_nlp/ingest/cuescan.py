"""Find and check the cue timing lines of caption files, with line numbers.

webvtt-py quietly skips a cue whose timing it cannot read, and an SRT cue
that lost its timing line is glued to the previous cue. For a coding tool
losing or merging text silently is worse than stopping, so this scan raises
a one-line :class:`InputFileError` naming the line instead, and it records
where each cue starts so turns can carry their source line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from webvtt.errors import MalformedCaptionError
from webvtt.models import Timestamp

from isp_nlp.errors import InputFileError

FORMAT_NAMES = {"vtt": "WebVTT", "srt": "SubRip (.srt)", "sbv": "YouTube SBV"}
_EXAMPLES = {
    "vtt": "'00:00:01.000 --> 00:00:02.500'",
    "srt": "'00:00:01,000 --> 00:00:02,500'",
    "sbv": "'0:00:01.000,0:00:02.500'",
}
_VTT_TS = r"(?:\d+:)?\d{1,2}:\d{1,2}\.\d{1,3}"
_VTT_TIMING = re.compile(rf"\s*({_VTT_TS})\s*-->\s*({_VTT_TS})")
_SRT_TS = r"\d+:\d{1,2}:\d{1,2}[,.]\d+"
_SRT_TIMING = re.compile(rf"\s*({_SRT_TS})\s*-->\s*({_SRT_TS})")
_SBV_TS = r"\d+:\d{1,2}:\d{1,2}\.\d{3}"
_SBV_TIMING = re.compile(rf"\s*({_SBV_TS}),({_SBV_TS})")
_VTT_NON_CUE = re.compile(r"(?:NOTE|STYLE|REGION)(?:\s|$)")


@dataclass(frozen=True)
class CueTiming:
    """Where a cue's timing line is and what it says, in milliseconds."""

    line: int | None
    start_ms: int
    end_ms: int
    has_text: bool

    @property
    def start(self) -> float:
        return self.start_ms / 1000

    @property
    def end(self) -> float:
        return self.end_ms / 1000


def _bad_timing(name: str, fmt: str, no: int, line: str) -> InputFileError:
    return InputFileError(
        f"{name} line {no}: {line.strip()[:60]!r} is not a valid cue timing; expected "
        f"{_EXAMPLES[fmt]}; fix the timestamp or delete the cue."
    )


def _no_timing(name: str, fmt: str, no: int, line: str) -> InputFileError:
    return InputFileError(
        f"{name} line {no}: caption text {line.strip()[:60]!r} has no cue timing line; "
        f"expected a timing like {_EXAMPLES[fmt]} before it; add the timing or delete the text."
    )


def _srt_ms(value: str) -> int:
    """Milliseconds of an SRT/SBV timestamp, read as webvtt-py reads it."""
    hours, minutes, seconds, millis = (int(x) for x in re.split("[:,.]", value))
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def _vtt_ms(value: str) -> int | None:
    try:
        return Timestamp.from_string(value).in_milliseconds()
    except MalformedCaptionError:
        return None


def _vtt_blocks(lines: Sequence[str]) -> list[list[tuple[int, str]]]:
    """Split lines into blocks the way the WebVTT parser does."""
    blocks: list[list[tuple[int, str]]] = []
    block: list[tuple[int, str]] = []
    in_header = True
    for no, line in enumerate(lines, start=1):
        starts_new = bool(
            block and "-->" in line and (in_header or len(block) > 1 or "-->" in block[0][1])
        )
        if not line or starts_new:
            if block:
                blocks.append(block)
                block = []
                in_header = False
        if line:
            block.append((no, line))
    if block:
        blocks.append(block)
    return blocks


def _scan_vtt(lines: Sequence[str], name: str) -> list[CueTiming]:
    timings: list[CueTiming] = []
    for block in _vtt_blocks(lines)[1:]:  # the first block is the WEBVTT header
        first = block[0][1]
        if _VTT_NON_CUE.match(first):
            continue
        pos = 0 if "-->" in first else 1 if len(block) > 1 and "-->" in block[1][1] else -1
        if pos < 0:
            raise _no_timing(name, "vtt", block[0][0], first)
        no, line = block[pos]
        m = _VTT_TIMING.match(line)
        start = _vtt_ms(m.group(1)) if m else None
        end = _vtt_ms(m.group(2)) if m else None
        if start is None or end is None:
            raise _bad_timing(name, "vtt", no, line)
        timings.append(CueTiming(no, start, end, has_text=len(block) > pos + 1))
    return timings


def _scan_srt(lines: Sequence[str], name: str) -> list[CueTiming]:
    timings: list[CueTiming] = []
    last_index = 0
    for i, line in enumerate(lines):
        if "-->" in line:
            m = _SRT_TIMING.match(line)
            if m is None:
                raise _bad_timing(name, "srt", i + 1, line)
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            timings.append(CueTiming(i + 1, _srt_ms(m.group(1)), _srt_ms(m.group(2)), bool(nxt)))
        elif line.strip().isdigit():
            # a cue number whose next non-blank line is text, not a timing
            index = int(line.strip())
            after = next((j for j in range(i + 1, len(lines)) if lines[j]), None)
            if after is not None and "-->" in lines[after]:
                last_index = index
            elif after is not None and index == last_index + 1 and (i == 0 or not lines[i - 1]):
                raise _no_timing(name, "srt", after + 1, lines[after])
    return timings


def _scan_sbv(lines: Sequence[str], name: str) -> list[CueTiming]:
    timings: list[CueTiming] = []
    i = 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j]:
            j += 1
        m = _SBV_TIMING.match(lines[i])
        if m is None:
            if re.match(r"\s*\d+:\d", lines[i]):
                raise _bad_timing(name, "sbv", i + 1, lines[i])
            raise _no_timing(name, "sbv", i + 1, lines[i])
        timings.append(CueTiming(i + 1, _srt_ms(m.group(1)), _srt_ms(m.group(2)), j > i + 1))
        i = j
    return timings


def scan_timings(lines: Sequence[str], fmt: str, name: str) -> list[CueTiming]:
    """Return the cue timings of ``lines`` in file order; raise on a bad or missing one."""
    scanners = {"vtt": _scan_vtt, "srt": _scan_srt, "sbv": _scan_sbv}
    return scanners[fmt](lines, name)


def match_cues(
    captions: Sequence[Any], timings: Sequence[CueTiming], fmt: str, name: str
) -> list[tuple[Any, CueTiming]]:
    """Pair webvtt-py captions with the scanned timings, in order.

    A scanned cue with text that webvtt-py did not return raises, so no
    caption text is lost without a word.
    """
    pairs: list[tuple[Any, CueTiming]] = []
    j = 0
    for caption in captions:
        key = (caption.start_time.in_milliseconds(), caption.end_time.in_milliseconds())
        k = next(
            (k for k in range(j, len(timings)) if (timings[k].start_ms, timings[k].end_ms) == key),
            None,
        )
        if k is None:
            pairs.append((caption, CueTiming(None, key[0], key[1], True)))
            continue
        _check_skipped(timings[j:k], fmt, name)
        pairs.append((caption, timings[k]))
        j = k + 1
    _check_skipped(timings[j:], fmt, name)
    return pairs


def _check_skipped(skipped: Sequence[CueTiming], fmt: str, name: str) -> None:
    for timing in skipped:
        if timing.has_text:
            raise InputFileError(
                f"{name} line {timing.line}: the {FORMAT_NAMES[fmt]} cue starting here could "
                f"not be read; expected a timing like {_EXAMPLES[fmt]} followed by its text; "
                "fix or delete the cue."
            )
