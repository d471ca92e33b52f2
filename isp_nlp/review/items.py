"""Build the review stream (ReviewItems) from a project's stored suggestions.

Kept apart from :mod:`isp_nlp.review` (queue, session, terminal UI) so those
stay free of SQL, and light: nothing here imports torch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from isp_nlp.errors import ModelError
from isp_nlp.records import Segment, Suggestion
from isp_nlp.review.queue import ReviewItem
from isp_nlp.store.database import Store
from isp_nlp.suggest.evidence import uncertainty_scores


def uncertainty(codes: list[Suggestion], stage: list[Suggestion], threshold: float) -> float:
    """How informative a coder's verdict would be: 1 at the decision boundary, 0 when sure.

    The larger of (a) the code closest to its threshold and (b) one minus the
    margin between the two most probable stages.
    """
    return float(uncertainty_scores(np.array([[s.probability for s in codes]]) if codes else None,
                                    np.array([[s.probability for s in stage]]) if stage else None,
                                    threshold)[0])


def certified_thresholds(manifest: dict) -> dict[str, float]:
    """The certified threshold by dimension recorded in a model's manifest."""
    out = {}
    for dim, cert in (manifest.get("certified") or {}).items():
        if isinstance(cert, dict) and isinstance(cert.get("threshold"), int | float):
            out[dim] = float(cert["threshold"])
    return out


def within_certified(codes: Sequence[Suggestion], stage: Suggestion | None,
                     cuts: dict[str, float]) -> tuple[str, ...]:
    """The dimensions whose suggestion reaches its certified threshold (codes: every code
    decision's max(p, 1 - p); the stage: its probability, when suggested)."""
    out = []
    if codes and "code" in cuts and min(max(s.probability, 1 - s.probability)
                                        for s in codes) >= cuts["code"] - 1e-12:
        out.append("code")
    if stage is not None and stage.suggested and "stage" in cuts \
            and stage.probability >= cuts["stage"] - 1e-12:
        out.append("stage")
    return tuple(out)


def build_review_items(store: Store, coder: str, decided: dict[str, str] | None = None):
    """ReviewItems for every segment the latest model suggested on, minus those this
    coder has already coded otherwise (by hand, or in review of an older model).

    Items whose key is in ``decided`` stay in, so the session can resume and undo.
    """

    info = store.latest_model()
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
    coded_by_coder = {a.segment_id for a in store.annotations() if a.coder == coder}
    segments = store.segments()
    previous: dict[str, Segment | None] = {}
    last: Segment | None = None
    for seg in segments:
        previous[seg.id] = last if last is not None and last.document == seg.document else None
        last = seg
    items = []
    for seg in segments:
        sugg = by_segment.get(seg.id)
        if not sugg:
            continue
        codes = sorted((s for s in sugg if s.dimension == "code"),
                       key=lambda s: (-s.probability, s.label))
        stages = [s for s in sugg if s.dimension == "stage"]
        top_stage = max(stages, key=lambda s: s.probability) if stages else None
        items.append(ReviewItem(
            segment=seg,
            previous=previous[seg.id],
            codes=tuple((s.label, round(s.probability, 4)) for s in codes),
            suggested_codes=tuple(s.label for s in codes if s.suggested),
            stage=(None if top_stage is None or not top_stage.suggested
                   else (top_stage.label, round(top_stage.probability, 4))),
            evidence=sugg[0].evidence,
            score=round(uncertainty(codes, stages, threshold), 6),
            model_id=model_id,
            certified=within_certified(codes, top_stage, cuts),
        ))
    decided = decided or {}
    return [i for i in items if i.segment.id not in coded_by_coder or i.key in decided]
