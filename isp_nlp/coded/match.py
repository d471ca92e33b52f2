"""Placing coded-CSV rows (:mod:`isp_nlp.coded.read`) on a project's segments.

:func:`match_coded_rows` matches a row to a segment of its document by segment
id, else by offsets, else by text (whitespace collapsed, case kept); when
several segments share the text, segments of the row's speaker are preferred,
then the first one this coder has not yet given this code, at or after the
coder's previous match in that document. :func:`map_rows_by_overlap` places
rows by id, exact offsets, else the segment covering most of the row's span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from isp_nlp.codebook.check import normalise_value
from isp_nlp.codebook.load import codes_named, resolve_code
from isp_nlp.coded.read import CodedRow, _import_error
from isp_nlp.errors import closest, did_you_mean
from isp_nlp.records import CODE_DIMENSION, Annotation, Codebook, Segment


def _norm(text: str) -> str:
    return " ".join(text.split())


class _DocIndex:
    """Lookups into one document's segments."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = list(segments)
        self.by_id = {s.id: s for s in self.segments}
        self.by_span: dict[tuple[int, int], Segment] = {}
        self.by_text: dict[str, list[Segment]] = {}
        for seg in self.segments:
            self.by_span.setdefault((seg.start, seg.end), seg)
            self.by_text.setdefault(_norm(seg.text), []).append(seg)


def _short(text: str, width: int = 50) -> str:
    text = _norm(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _unknown_document(doc: str, known: Sequence[str]) -> str:
    hint = did_you_mean(doc, known)
    listed = ", ".join(known[:5]) + (f" and {len(known) - 5} more" if len(known) > 5 else "")
    return f"unknown document '{doc}'{hint}; known documents: {listed or 'none'}"


def _code_problem(codebook: Codebook, value: str) -> str:
    named = codes_named(codebook, value)
    if len(named) > 1:
        ids = ", ".join(c.id for c in named)
        return f"code name '{value}' matches several codes ({ids}); write the code id instead"
    choices = list(codebook.code_ids) + [c.name for c in codebook.codes]
    close = closest(value, choices)
    if close is not None:
        target = resolve_code(codebook, close)
        hint = f" (did you mean '{target.id if target else close}'?)"
    else:
        hint = "; use a code id or name from the codebook"
    return f"unknown code '{value}'{hint}"


def _fits(given: set[str | None], code: str | None) -> bool:
    """Whether a coder's ``code`` row can join a segment they already gave ``given``."""
    if code is None:
        return not given
    return code not in given and None not in given


def _find_segment(
    row: CodedRow,
    index: _DocIndex,
    used: Mapping[tuple[str, str], set[str | None]],
    code: str | None,
    after: int,
) -> Segment | None:
    """Match by id, then offsets, then text; ``after`` is the coder's last matched index."""
    if row.segment and row.segment in index.by_id:
        return index.by_id[row.segment]
    if row.start is not None and row.end is not None and (row.start, row.end) in index.by_span:
        return index.by_span[(row.start, row.end)]
    candidates = index.by_text.get(_norm(row.text), []) if row.text.strip() else []
    if len(candidates) > 1 and row.speaker:
        speaker = row.speaker.casefold()
        same = [s for s in candidates if (s.speaker or "").casefold() == speaker]
        candidates = same or candidates
    fresh = [s for s in candidates if _fits(used.get((s.id, row.coder), set()), code)]
    ahead = [s for s in fresh if s.index >= after]
    pick = ahead or fresh or candidates
    return pick[0] if pick else None


def _unmatched(row: CodedRow, index: _DocIndex) -> str:
    tried = []
    if row.segment:
        tried.append(f"id '{row.segment}'")
    if row.start is not None:
        tried.append(f"offsets {row.start}-{row.end}")
    if row.text.strip():
        tried.append(f"text '{_short(row.text)}'")
    if not tried:
        return "no segment id, offsets or text to match; fill in at least one of them"
    msg = f"no segment of '{row.document}' has {' or '.join(tried)}"
    needle = _norm(row.text)
    if needle:
        inside = next((s for s in index.segments if needle in _norm(s.text)), None)
        if inside is not None:
            return (
                f"{msg}; the text is part of segment {inside.index} ({inside.unit}), so import "
                f"into a project segmented by the same unit or give the whole segment text"
            )
    return f"{msg}; check the document's segmentation or re-export the segment ids"


def match_coded_rows(
    rows: Sequence[CodedRow],
    segments: Mapping[str, Sequence[Segment]],
    codebook: Codebook,
    *,
    source: str,
    source_label: str = "human",
) -> list[Annotation]:
    """Turn CSV rows into annotations, all or nothing.

    ``segments`` maps document names AND file names to that document's
    segments. Any problem raises one ImportCodesError listing every row's
    problem; otherwise returns de-duplicated annotations in row order.
    """
    indexes: dict[int, _DocIndex] = {}
    known_docs = sorted(segments)
    problems: list[str] = []
    used: dict[tuple[str, str], set[str | None]] = {}
    last_index: dict[tuple[int, str], int] = {}
    codes: dict[tuple[str, str], list[str | None]] = {}
    chosen: dict[tuple[str, str, str], dict[str, int]] = {}  # (seg, coder, dim) → value → line
    provenance: dict[tuple[str, str], str] = {}  # the first row's, else source_label
    for row in rows:
        row_problems: list[str] = []
        if not row.coder:
            row_problems.append("coder is empty; fill in who coded the row")
        code_id: str | None = None
        if row.code:
            code = resolve_code(codebook, row.code)
            if code is None:
                row_problems.append(_code_problem(codebook, row.code))
            else:
                code_id = code.id
        values: dict[str, str] = {}
        for dim in codebook.dimensions:
            value = normalise_value(dim, row.value(dim.id))
            if value is None:
                continue
            if value not in dim.value_ids:
                row_problems.append(
                    f"invalid {dim.id} '{row.value(dim.id)}'; use one of "
                    f"{', '.join(dim.value_ids)} or leave it empty")
            else:
                values[dim.id] = value
        seg: Segment | None = None
        if not row.document:
            row_problems.append("document is empty; give the transcript's document name")
        elif row.document not in segments:
            row_problems.append(_unknown_document(row.document, known_docs))
        else:
            doc_segments = segments[row.document]
            index = indexes.setdefault(id(doc_segments), _DocIndex(doc_segments))
            after = last_index.get((id(doc_segments), row.coder), -1)
            seg = _find_segment(row, index, used, code_id, after)
            if seg is None:
                row_problems.append(_unmatched(row, index))
        problems.extend(f"line {row.line}: {p}" for p in row_problems)
        if row_problems or seg is None:
            continue
        used.setdefault((seg.id, row.coder), set()).add(code_id)
        last_index[(id(segments[row.document]), row.coder)] = seg.index
        key = (seg.id, row.coder)
        provenance.setdefault(key, row.provenance or source_label)
        labels = codes.setdefault(key, [])
        if code_id not in labels:
            labels.append(code_id)
        for dim_id, value in values.items():
            chosen.setdefault((*key, dim_id), {}).setdefault(value, row.line)
    for (seg_id, coder, dim_id), given in chosen.items():
        if len(given) > 1:
            parts = ", ".join(f"'{s}' (line {n})" for s, n in given.items())
            last = max(given.values())
            problems.append(
                f"line {last}: coder '{coder}' gives segment {seg_id} conflicting {dim_id} "
                f"values {parts}; use one {dim_id} on all of that coder's rows for the segment"
            )
    if problems:
        raise _import_error(source, problems)
    out: list[Annotation] = []
    for (seg_id, coder), labels in codes.items():
        applied: list[str | None] = [c for c in labels if c is not None] or [None]
        made = provenance[(seg_id, coder)]
        out.extend(Annotation(seg_id, coder, CODE_DIMENSION, c, made) for c in applied)
        for dim in codebook.dimensions:
            if (seg_id, coder, dim.id) in chosen:
                (value,) = chosen[(seg_id, coder, dim.id)]
                out.append(Annotation(seg_id, coder, dim.id, value, made))
    return out


# --------------------------------------------------------------------------- span overlap


@dataclass(frozen=True)
class SpanMapping:
    """CSV rows placed on a project's segments: ``mapped`` (row, segment) pairs, how many
    of those were placed by partial overlap, and ``dropped`` (row, reason) pairs."""

    mapped: tuple[tuple[CodedRow, Segment], ...]
    by_overlap: int
    dropped: tuple[tuple[CodedRow, str], ...]


def map_rows_by_overlap(
    rows: Sequence[CodedRow],
    segments: Mapping[str, Sequence[Segment]],
    *,
    min_share: float = 0.5,
) -> SpanMapping:
    """Place rows on segments leniently (for agreement, not import).

    A row goes to the segment with its id, else the segment with its exact
    offsets, else the segment that overlaps its ``start``-``end`` span most when
    that overlap covers at least ``min_share`` of the span, else the first
    segment with the same text (whitespace collapsed). Other rows are dropped
    with a reason; nothing raises.
    """
    mapped: list[tuple[CodedRow, Segment]] = []
    dropped: list[tuple[CodedRow, str]] = []
    by_overlap = 0
    indexes: dict[int, _DocIndex] = {}
    for row in rows:
        doc_segments = segments.get(row.document)
        if not doc_segments:
            dropped.append((row, f"line {row.line}: unknown document '{row.document}'"))
            continue
        index = indexes.setdefault(id(doc_segments), _DocIndex(doc_segments))
        seg = index.by_id.get(row.segment) if row.segment else None
        if seg is None and row.start is not None and row.end is not None:
            seg = index.by_span.get((row.start, row.end))
            if seg is None:
                seg, share = _best_overlap(index.segments, row.start, row.end)
                if seg is None or share < min_share:
                    dropped.append((row, f"line {row.line}: span {row.start}-{row.end} overlaps "
                                    f"no segment by {min_share:.0%} or more (best {share:.0%})"))
                    continue
                by_overlap += 1
        if seg is None and row.text.strip():
            found = index.by_text.get(_norm(row.text), [])
            seg = found[0] if found else None
        if seg is None:
            dropped.append((row, f"line {row.line}: no segment of '{row.document}' matches"))
            continue
        mapped.append((row, seg))
    return SpanMapping(tuple(mapped), by_overlap, tuple(dropped))


def _best_overlap(
    segments: Sequence[Segment], start: int, end: int
) -> tuple[Segment | None, float]:
    """The segment overlapping ``start``-``end`` most and the share of the span it covers."""
    if end <= start or not segments:
        return None, 0.0
    best, most = None, 0
    for seg in segments:
        overlap = min(end, seg.end) - max(start, seg.start)
        if overlap > most:
            best, most = seg, overlap
    return best, most / (end - start)
