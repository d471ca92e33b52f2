"""Build the review stream (ReviewItems) from a project's stored suggestions.

Kept apart from :mod:`isp_nlp.review` (queue, session, terminal UI) so those
stay free of SQL, and light: nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import groupby
from typing import Protocol

import numpy as np

from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, CODER_SOURCES, Segment, SuggestionRow
from isp_nlp.review.queue import ReviewItem
from isp_nlp.store.database import Store
from isp_nlp.store.team import may_write
from isp_nlp.suggest.evidence import uncertainty_scores

#: Turns of context shown before and after a segment in review.
CONTEXT_BEFORE = 2
CONTEXT_AFTER = 2


class Scored(Protocol):
    """A suggested label and its probability: a :class:`~isp_nlp.records.Suggestion` or
    a stored :class:`~isp_nlp.records.SuggestionRow`."""

    @property
    def label(self) -> str: ...
    @property
    def probability(self) -> float: ...
    @property
    def suggested(self) -> bool: ...


def uncertainty(codes: Sequence[Scored], values: Mapping[str, Sequence[Scored]],
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


def uncertainties(groups: Sequence[tuple[Sequence[Scored], Mapping[str, Sequence[Scored]]]],
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


def within_certified(codes: Sequence[Scored], tops: Mapping[str, Scored],
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
                       *, model: dict | None = None, keep_coded: bool = False
                       ) -> list[ReviewItem]:
    """ReviewItems for every segment the latest model (or ``model``, a registry entry
    with ``id`` and ``manifest``) suggested on, minus those this coder has already coded
    otherwise (by hand, or in review of an older model) unless ``keep_coded``.

    Items whose key is in ``decided`` stay in, so the session can resume and undo. What
    is shown around an item (its turns before and after, its evidence and who coded it)
    is left empty here, so that a queue of many thousand segments is built in a blink:
    :class:`ItemDetails` fills it in for the item on screen. The items' scores are kept
    in the store, for :func:`first_review_items`.
    """
    info = _model(store, model)
    rows = store.suggestion_rows(info["id"])
    if not rows:
        raise ModelError("the latest model has no suggestions; run `isp-nlp suggest` first")
    items = _items(info, store.segments(), rows)
    if not store.review_scores_kept(info["id"]) and may_write(store.conn, "review_scores"):
        store.keep_review_scores(info["id"], [(i.segment.id, i.score) for i in items])
    return items if keep_coded else _for_coder(store, items, coder, decided)


def keep_review_scores(store: Store, model_id: str) -> None:
    """Keep the review queue's scores of model ``model_id``'s stored suggestions, unless
    kept already (``suggest`` calls it, so the first review of them starts at once too)."""
    info = store.model(model_id)
    if info is not None and not store.review_scores_kept(model_id) and \
            store.suggested_segments(model_id):
        build_review_items(store, "", model=info, keep_coded=True)


def first_review_items(store: Store, coder: str, decided: dict[str, str] | None = None,
                       *, order: str, limit: int) -> list[ReviewItem] | None:
    """The items of the ``limit`` segments that come first in ``order`` (``uncertain``,
    ``confident`` or ``document``) among the latest model's suggestions, read through the
    scores a first :func:`build_review_items` kept; None when no scores are kept yet or
    the order is another. Enough to show the first segment of a long queue at once."""
    info = _model(store, None)
    if order not in ("uncertain", "confident", "document") or not store.review_scores_kept(
            info["id"]):
        return None
    ids = store.first_by_score(info["id"], order, limit)
    items = _items(info, store.segments_by_id(ids), store.suggestion_rows(info["id"], ids))
    return _for_coder(store, items, coder, decided)


def _model(store: Store, model: dict | None) -> dict:
    info = model if model is not None else store.latest_model()
    if info is None:
        raise ModelError("the project has no trained model yet; run `isp-nlp train` and "
                         "`isp-nlp suggest` first")
    return info


def _for_coder(store: Store, items: list[ReviewItem], coder: str,
               decided: dict[str, str] | None) -> list[ReviewItem]:
    """``items`` without those on segments ``coder`` has coded, unless their key is in
    ``decided``."""
    coded = store.coded_segments(coder)
    decided = decided or {}
    return [i for i in items if i.segment.id not in coded or i.key in decided]


def _items(info: dict, segments: Sequence[Segment], rows: Sequence[SuggestionRow]
           ) -> list[ReviewItem]:
    """The review items of ``segments`` (in that order) from their suggestion ``rows``
    (by segment, dimension and falling probability) of model ``info``."""
    model_id = info["id"]
    threshold = float(info["manifest"].get("code_threshold", 0.5))
    cuts = certified_thresholds(info["manifest"])
    by_segment = {seg_id: list(got) for seg_id, got in groupby(rows, key=lambda r: r.segment_id)}
    items = []
    groups: list[tuple[list[SuggestionRow], dict[str, list[SuggestionRow]]]] = []
    for seg in segments:
        sugg = by_segment.get(seg.id)
        if not sugg:
            continue
        codes: list[SuggestionRow] = []
        values: dict[str, list[SuggestionRow]] = {}
        for s in sugg:  # by dimension, most probable first
            if s.dimension == CODE_DIMENSION:
                codes.append(s)
            else:
                values.setdefault(s.dimension, []).append(s)
        codes.sort(key=lambda s: (-s.probability, s.label))
        groups.append((codes, values))
        tops = {dim: got[0] for dim, got in values.items()}
        items.append((seg, codes, tops))
    scores = uncertainties(groups, threshold)
    return [ReviewItem(
        segment=seg,
        previous=None,
        codes=tuple((s.label, round(s.probability, 4)) for s in codes),
        suggested_codes=tuple(s.label for s in codes if s.suggested),
        values=tuple((dim, (top.label, round(top.probability, 4)) if top.suggested
                      else None) for dim, top in sorted(tops.items())),
        evidence=(),
        score=round(score, 6),
        model_id=model_id,
        certified=within_certified(codes, tops, cuts),
    ) for (seg, codes, tops), score in zip(items, scores, strict=True)]


class ItemDetails:
    """What a coder sees around a review item, read when the item is shown: up to
    :data:`CONTEXT_BEFORE` turns before it and :data:`CONTEXT_AFTER` after it in its
    document, and the evidence behind its suggestion with the coders of each exemplar.

    Called on an item it returns the item with those filled in (the same item when
    they already are); items of any model of the project.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._done: dict[str, ReviewItem] = {}

    def __call__(self, item: ReviewItem) -> ReviewItem:
        done = self._done.get(item.key)  # the key names the model
        if done is not None:
            return done
        seg = item.segment
        near = self.store.segments_around(seg, CONTEXT_BEFORE, CONTEXT_AFTER)
        before = tuple(s for s in near if s.index < seg.index)
        after = tuple(s for s in near if s.index > seg.index)
        evidence = self.store.suggestion_evidence(item.model_id, seg.id)
        dims = sorted({dim for dim, _ in item.values}
                      | ({CODE_DIMENSION} if item.codes else set()))
        shown = evidence.get((seg.id, dims[0]), ()) if dims else ()
        coders = self.store.coders_of([ev.segment_id for ev in shown], CODER_SOURCES)
        done = replace(item, previous=before[-1] if before else None, before=before,
                       after=after, evidence=shown,
                       evidence_coders=tuple(coders.get(ev.segment_id, ()) for ev in shown))
        self._done[item.key] = done
        return done

    def fill(self, items: Sequence[ReviewItem]) -> list[ReviewItem]:
        """:meth:`__call__` on every item."""
        return [self(item) for item in items]
