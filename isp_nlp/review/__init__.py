"""Review (triage) of model suggestions: queue, session logic and terminal UI."""

from __future__ import annotations

from isp_nlp.review.queue import (
    FINAL_ACTIONS,
    SORTERS,
    ReviewItem,
    Sorter,
    by_uncertainty,
    in_document_order,
    pending,
)
from isp_nlp.review.session import ACTIONS, Decision, DecisionRecorder, ReviewSession, snapshot
from isp_nlp.review.terminal import (
    ReviewSummary,
    render_codebook,
    render_item,
    run_review,
    run_scripted,
)

__all__ = [
    "ACTIONS",
    "FINAL_ACTIONS",
    "SORTERS",
    "Decision",
    "DecisionRecorder",
    "ReviewItem",
    "ReviewSession",
    "ReviewSummary",
    "Sorter",
    "by_uncertainty",
    "in_document_order",
    "pending",
    "render_codebook",
    "render_item",
    "run_review",
    "run_scripted",
    "snapshot",
]
