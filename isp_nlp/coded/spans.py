"""Placing coded spans (:class:`isp_nlp.records.Coding`) on a project's segments.

QDA tools let coders highlight any span; training and agreement work on
segments. :func:`place_codings` finds, for every coding, the segments it
codes: a segment takes the coding when their overlap covers at least
``min_share`` of the segment or of the coding. A coding is *exact* when its
span, without surrounding whitespace, starts and ends where its segments do;
*overlap* when it codes segments but does not line up with them; *unmapped*
when it codes none. :func:`annotations_from_placement` turns the placement
into one annotation set per (segment, coder, dimension), with "seen, no code"
rows for the coder's other codable segments in the part of each document they worked
through.

**What a coder saw.** QDA tools record what a coder coded, not what they read and left
uncoded. The rule here: a coder worked through a document from its start to the end of
their last coding in it (:func:`seen_until`). A codable segment that starts before that
point and carries none of their codes is their "seen, no code"; a segment after it is
*uncoded*: no annotation, so training never learns it as a negative and ``suggest``
scores it. :func:`coverage` says, per coder and document, how much text that is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from isp_nlp.records import (
    CODE_DIMENSION,
    CODER_SOURCES,
    Annotation,
    Coding,
    Segment,
)


@dataclass(frozen=True)
class Placement:
    """Where codings fell: ``segments[i]`` lists the segment ids coding ``i`` codes,
    ``kind[i]`` is ``exact``, ``overlap`` or ``unmapped``; ``share[i][j]`` is the
    share of segment ``segments[i][j]`` the coding covers."""

    codings: tuple[Coding, ...]
    segments: tuple[tuple[str, ...], ...]
    kind: tuple[str, ...]
    share: tuple[tuple[float, ...], ...]

    def counts(self) -> dict[str, int]:
        """How many codings mapped ``exact``, by ``overlap`` or were ``unmapped``."""
        out = {"exact": 0, "overlap": 0, "unmapped": 0}
        for k in self.kind:
            out[k] += 1
        return out


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def place_codings(
    codings: Sequence[Coding],
    segments: Mapping[str, Sequence[Segment]],
    texts: Mapping[str, str],
    *,
    min_share: float = 0.5,
) -> Placement:
    """Place each coding on the segments of its document (see the module docstring).

    ``segments`` and ``texts`` are keyed by document; ``texts`` holds the stored text
    the codings' offsets point into.
    """
    placed: list[tuple[str, ...]] = []
    kinds: list[str] = []
    shares: list[tuple[float, ...]] = []
    for c in codings:
        text = texts.get(c.document, "")
        start, end = _strip(text, c.start, min(c.end, len(text)))
        hits: list[tuple[Segment, float]] = []
        if end > start:
            for seg in segments.get(c.document, ()):
                overlap = min(end, seg.end) - max(start, seg.start)
                if overlap <= 0:
                    continue
                of_segment = overlap / max(seg.end - seg.start, 1)
                if of_segment >= min_share or overlap / (end - start) >= min_share:
                    hits.append((seg, of_segment))
        if not hits:
            kind = "unmapped"
        elif start == hits[0][0].start and end == hits[-1][0].end:
            kind = "exact"
        else:
            kind = "overlap"
        placed.append(tuple(s.id for s, _ in hits))
        kinds.append(kind)
        shares.append(tuple(round(x, 6) for _, x in hits))
    return Placement(tuple(codings), tuple(placed), tuple(kinds), tuple(shares))


def seen_until(placement: Placement) -> dict[tuple[str, str], int]:
    """(coder, document) -> the end of that coder's last coding in that document (code
    points), over the people's codings; where the coder's worked-through region ends."""
    out: dict[tuple[str, str], int] = {}
    for coding, seg_ids in zip(placement.codings, placement.segments, strict=True):
        if coding.source not in CODER_SOURCES or not seg_ids:
            continue
        key = (coding.coder, coding.document)
        out[key] = max(out.get(key, 0), coding.end)
    return out


def _seen(seg: Segment, until: int) -> bool:
    return seg.start < until


@dataclass(frozen=True)
class Coverage:
    """How much of ``document`` counts as coded by ``coder``: its first ``seen_chars`` of
    ``chars`` characters, holding ``seen_segments`` of its ``segments`` codable
    segments (the rest are uncoded for this coder)."""

    coder: str
    document: str
    seen_chars: int
    chars: int
    seen_segments: int
    segments: int

    @property
    def share(self) -> float:
        """The share of the document's characters counted as coded."""
        return self.seen_chars / self.chars if self.chars else 0.0


def coverage(placement: Placement, segments: Mapping[str, Sequence[Segment]],
             texts: Mapping[str, str]) -> tuple[Coverage, ...]:
    """Per coder and document they coded, how much counts as coded (see the module
    docstring), sorted by coder then document."""
    out: list[Coverage] = []
    for (coder, document), until in sorted(seen_until(placement).items()):
        codable = [s for s in segments.get(document, ()) if s.codable]
        chars = len(texts.get(document, ""))
        out.append(Coverage(coder, document, min(until, chars), chars,
                            sum(_seen(s, until) for s in codable), len(codable)))
    return tuple(out)


def annotations_from_placement(
    placement: Placement, segments: Mapping[str, Sequence[Segment]]
) -> list[Annotation]:
    """Segment-level annotations for the people's codings in ``placement``.

    Codes: every code a coder's codings put on a segment. A single-choice dimension:
    the value whose codings cover most of the segment. Every other codable segment
    the coder worked through (:func:`seen_until`) gets a "seen, no code" row; segments
    after their last coding in a document get none.
    """
    codes: dict[tuple[str, str], set[str]] = {}
    chosen: dict[tuple[str, str, str], dict[str, float]] = {}  # (seg, coder, dim)
    source: dict[tuple[str, str, str], str] = {}
    for coding, seg_ids, shares in zip(placement.codings, placement.segments, placement.share,
                                       strict=True):
        if coding.source not in CODER_SOURCES:
            continue
        for seg_id, share in zip(seg_ids, shares, strict=True):
            key = (seg_id, coding.coder)
            source.setdefault((seg_id, coding.coder, coding.dimension), coding.source)
            if coding.dimension != CODE_DIMENSION:
                cover = chosen.setdefault((*key, coding.dimension), {})
                cover[coding.code] = cover.get(coding.code, 0.0) + share
            else:
                codes.setdefault(key, set()).add(coding.code)
    out: list[Annotation] = []
    for (seg_id, coder), labels in codes.items():
        how = source[(seg_id, coder, CODE_DIMENSION)]
        out.extend(Annotation(seg_id, coder, CODE_DIMENSION, label, how)
                   for label in sorted(labels))
    for (seg_id, coder, dim), cover in chosen.items():
        best = max(sorted(cover), key=lambda s: cover[s])
        out.append(Annotation(seg_id, coder, dim, best, source[(seg_id, coder, dim)]))
    for (coder, document), until in sorted(seen_until(placement).items()):
        for seg in segments.get(document, ()):
            if seg.codable and _seen(seg, until) and (seg.id, coder) not in codes:
                out.append(Annotation(seg.id, coder, CODE_DIMENSION, None, "human"))
    return sorted(out, key=lambda a: (a.segment_id, a.coder, a.dimension, a.label or ""))
