"""Placing coded spans (:class:`isp_nlp.records.Coding`) on a project's segments.

QDA tools let coders highlight any span; training and agreement work on
segments. :func:`place_codings` finds, for every coding, the segments it
codes: a segment takes the coding when their overlap covers at least
``min_share`` of the segment or of the coding. A coding is *exact* when its
span, without surrounding whitespace, starts and ends where its segments do;
*overlap* when it codes segments but does not line up with them; *unmapped*
when it codes none. :func:`annotations_from_placement` turns the placement
into one annotation set per (segment, coder, dimension), with "seen, no code"
rows for the coder's other codable segments of each document they coded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION, Annotation, Coding, Segment

#: Provenances that are people's judgements; a ``model`` coding (a pre-coded wave read
#: back in) stays a coding and never becomes a training or agreement annotation.
HUMAN_SOURCES = ("human", "assisted", "blind", "consensus")


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


def annotations_from_placement(
    placement: Placement, segments: Mapping[str, Sequence[Segment]]
) -> list[Annotation]:
    """Segment-level annotations for the people's codings in ``placement``.

    Codes: every code a coder's codings put on a segment. Stage (single choice):
    the stage whose codings cover most of the segment. Every other codable
    segment of a document the coder coded gets a "seen, no code" row.
    """
    codes: dict[tuple[str, str], set[str]] = {}
    stages: dict[tuple[str, str], dict[str, float]] = {}
    source: dict[tuple[str, str, str], str] = {}
    coded_documents: dict[str, set[str]] = {}
    for coding, seg_ids, shares in zip(placement.codings, placement.segments, placement.share,
                                       strict=True):
        if coding.source not in HUMAN_SOURCES:
            continue
        coded_documents.setdefault(coding.coder, set()).add(coding.document)
        for seg_id, share in zip(seg_ids, shares, strict=True):
            key = (seg_id, coding.coder)
            source.setdefault((seg_id, coding.coder, coding.dimension), coding.source)
            if coding.dimension == STAGE_DIMENSION:
                cover = stages.setdefault(key, {})
                cover[coding.code] = cover.get(coding.code, 0.0) + share
            else:
                codes.setdefault(key, set()).add(coding.code)
    out: list[Annotation] = []
    for (seg_id, coder), labels in codes.items():
        how = source[(seg_id, coder, CODE_DIMENSION)]
        out.extend(Annotation(seg_id, coder, CODE_DIMENSION, label, how)
                   for label in sorted(labels))
    for (seg_id, coder), cover in stages.items():
        best = max(sorted(cover), key=lambda s: cover[s])
        out.append(Annotation(seg_id, coder, STAGE_DIMENSION, best,
                              source[(seg_id, coder, STAGE_DIMENSION)]))
    for coder, documents in coded_documents.items():
        for document in sorted(documents):
            for seg in segments.get(document, ()):
                if seg.codable and (seg.id, coder) not in codes:
                    out.append(Annotation(seg.id, coder, CODE_DIMENSION, None, "human"))
    return sorted(out, key=lambda a: (a.segment_id, a.coder, a.dimension, a.label or ""))
