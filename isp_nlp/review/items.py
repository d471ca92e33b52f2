"""Build the review stream (ReviewItems) from a project's stored suggestions.

Kept apart from :mod:`isp_nlp.review` (queue, session, terminal UI) so those
stay free of SQL, and light: nothing here imports torch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, CODER_SOURCES, Segment, Suggestion
from isp_nlp.review.queue import ReviewItem
from isp_nlp.store.database import Store
from isp_nlp.suggest.evidence import uncertainty_scores

#: Turns of context shown before and after a segment in review.
CONTEXT_BEFORE = 2
CONTEXT_AFTER = 2


def uncertainty(codes: Sequence[Suggestion], values: Mapping[str, Sequence[Suggestion]],
                threshold: float) -> float:
    """How informative a coder's verdict would be: 1 at the decision boundary, 0 when sure.

    The largest of (a) the code closest to its threshold and (b) per single-choice
    dimension, one minus the margin between its two most probable values.
    """
    parts = [uncertainty_scores(np.array([[s.probability for s in codes]]), None, threshold)[0]
             ] if codes else []
    parts += [uncertainty_scores(None, np.array([[s.probability for s in dim]]), threshold)[0]
              for dim in values.values() if dim]
    return float(max(parts, default=0.0))


def uncertainties(groups: Sequence[tuple[Sequence[Suggestion], Mapping[str, Sequence[Suggestion]]]],
                  threshold: float) -> list[float]:
    """:func:`uncertainty` of many (codes, values) groups at once: one call of
    :func:`~isp_nlp.suggest.evidence.uncertainty_scores` per dimension instead of one per
    item (a missing code counts as probability 0, which is never the most uncertain)."""
    out = [0.0] * len(groups)
    labels = sorted({s.label for codes, _ in groups for s in codes})
    if labels:
        col = {label: j for j, label in enumerate(labels)}
        P = np.zeros((len(groups), len(labels)))
        for i, (codes, _) in enumerate(groups):
            for s in codes:
                P[i, col[s.label]] = s.probability
        rows = [i for i, (codes, _) in enumerate(groups) if codes]
        if rows:
            got = uncertainty_scores(P[rows], None, threshold)
            for i, u in zip(rows, got, strict=True):
                out[i] = float(u)
    for dim in sorted({d for _, values in groups for d, got in values.items() if got}):
        rows = [i for i, (_, values) in enumerate(groups) if values.get(dim)]
        width = max(len(groups[i][1][dim]) for i in rows)
        V = np.zeros((len(rows), max(width, 2)))
        for r, i in enumerate(rows):
            V[r, :len(groups[i][1][dim])] = sorted((s.probability for s in groups[i][1][dim]),
                                                   reverse=True)
        if width == 1:  # a lone top probability: 1 - p, as uncertainty_scores reads it
            V = V[:, :1]
        got = uncertainty_scores(None, V, threshold)
        for i, u in zip(rows, got, strict=True):
            out[i] = max(out[i], float(u))
    return out


def certified_thresholds(manifest: dict) -> dict[str, float]:
    """The certified threshold by dimension recorded in a model's manifest."""
    out = {}
    for dim, cert in (manifest.get("certified") or {}).items():
        if isinstance(cert, dict) and isinstance(cert.get("threshold"), int | float):
            out[dim] = float(cert["threshold"])
    return out


def within_certified(codes: Sequence[Suggestion], tops: Mapping[str, Suggestion],
                     cuts: dict[str, float]) -> tuple[str, ...]:
    """The dimensions whose suggestion reaches its certified threshold (codes: every code
    decision's max(p, 1 - p); a single-choice dimension: the probability of its top
    value, ``tops[dimension]``, when suggested)."""
    out = []
    if codes and CODE_DIMENSION in cuts and min(max(s.probability, 1 - s.probability)
                                                for s in codes) >= cuts[CODE_DIMENSION] - 1e-12:
        out.append(CODE_DIMENSION)
    for dim, top in sorted(tops.items()):
        if top.suggested and dim in cuts and top.probability >= cuts[dim] - 1e-12:
            out.append(dim)
    return tuple(out)


def build_review_items(store: Store, coder: str, decided: dict[str, str] | None = None,
                       *, model: dict | None = None, keep_coded: bool = False):
    """ReviewItems for every segment the latest model (or ``model``, a registry entry
    with ``id`` and ``manifest``) suggested on, minus those this coder has already coded
    otherwise (by hand, or in review of an older model) unless ``keep_coded``.

    Items whose key is in ``decided`` stay in, so the session can resume and undo.
    """

    info = model if model is not None else store.latest_model()
    if info is None:
        raise ModelError("the project has no trained model yet; run `isp-nlp train` and "
                         "`isp-nlp suggest` first")
    model_id = info["id"]
    threshold = float(info["manifest"].get("code_threshold", 0.5))
    cuts = certified_thresholds(info["manifest"])
    by_segment: dict[str, list[Suggestion]] = defaultdict(list)
    for s in store.suggestions(model_id):
        by_segment[s.segment_id].append(s)
    if not by_segment:
        raise ModelError("the latest model has no suggestions; run `isp-nlp suggest` first")
    annotations = store.annotations()
    coded_by_coder = {a.segment_id for a in annotations if a.coder == coder}
    coders_of: dict[str, set[str]] = defaultdict(set)
    for a in annotations:
        if a.source in CODER_SOURCES:
            coders_of[a.segment_id].add(a.coder)
    segments = store.segments()
    previous: dict[str, Segment | None] = {}
    before: dict[str, tuple[Segment, ...]] = {}
    after: dict[str, tuple[Segment, ...]] = {}
    for i, seg in enumerate(segments):
        near = [s for s in segments[max(i - CONTEXT_BEFORE, 0):i] if s.document == seg.document]
        previous[seg.id] = near[-1] if near else None
        before[seg.id] = tuple(near)
        after[seg.id] = tuple(s for s in segments[i + 1:i + 1 + CONTEXT_AFTER]
                              if s.document == seg.document)
    items = []
    groups: list[tuple[list[Suggestion], dict[str, list[Suggestion]]]] = []
    for seg in segments:
        sugg = by_segment.get(seg.id)
        if not sugg:
            continue
        codes = sorted((s for s in sugg if s.dimension == CODE_DIMENSION),
                       key=lambda s: (-s.probability, s.label))
        values: dict[str, list[Suggestion]] = defaultdict(list)
        for s in sugg:
            if s.dimension != CODE_DIMENSION:
                values[s.dimension].append(s)
        groups.append((codes, values))
        tops = {dim: max(got, key=lambda s: s.probability) for dim, got in values.items()}
        items.append(ReviewItem(
            segment=seg,
            previous=previous[seg.id],
            codes=tuple((s.label, round(s.probability, 4)) for s in codes),
            suggested_codes=tuple(s.label for s in codes if s.suggested),
            values=tuple((dim, (top.label, round(top.probability, 4)) if top.suggested
                          else None) for dim, top in sorted(tops.items())),
            evidence=sugg[0].evidence,
            before=before[seg.id],
            after=after[seg.id],
            evidence_coders=tuple(tuple(sorted(coders_of.get(ev.segment_id, ())))
                                  for ev in sugg[0].evidence),
            score=0.0,  # scored below, all items at once
            model_id=model_id,
            certified=within_certified(codes, tops, cuts),
        ))
    items = [replace(item, score=round(score, 6))
             for item, score in zip(items, uncertainties(groups, threshold), strict=True)]
    decided = decided or {}
    if keep_coded:
        return items
    return [i for i in items if i.segment.id not in coded_by_coder or i.key in decided]
