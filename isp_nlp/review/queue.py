"""The review queue: scored items and the sorters that order them.

After Prodigy, the queue is a stream of items that each carry a score
(uncertainty; higher = more informative), and the ordering is a separate,
swappable sorter. Every item has a content-hash ``key`` so that decisions can
be stored against it: resuming a session is "drop items that already have a
verdict", and the same suggestion offered twice is reviewed once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

from isp_nlp.records import Evidence, Segment, item_key

#: Actions that settle an item; ``skip`` does not.
FINAL_ACTIONS = frozenset({"accept", "reject", "relabel"})
SKIP = "skip"


@dataclass(frozen=True)
class ReviewItem:
    """One segment and the model's suggestion for it, as shown to a coder."""

    segment: Segment
    previous: Segment | None
    codes: tuple[tuple[str, float], ...]  # every code: (id, probability), most probable first
    suggested_codes: tuple[str, ...]  # the codes above the threshold
    #: Per single-choice dimension the model suggested on, by dimension id: (dimension id,
    #: (value id, probability)), or (dimension id, None) when the model abstains on it.
    values: tuple[tuple[str, tuple[str, float] | None], ...]
    evidence: tuple[Evidence, ...]
    score: float
    model_id: str
    #: Dimensions ("code" or a dimension id) whose suggestion is within the model's
    #: certified range (at or above its certified threshold; see
    #: isp_nlp.suggest.certify). Not in the key.
    certified: tuple[str, ...] = ()

    def value(self, dimension: str) -> tuple[str, float] | None:
        """(value id, probability) suggested on ``dimension``; None when the model abstains
        on it or did not suggest on it."""
        return dict(self.values).get(dimension)

    @property
    def suggested_values(self) -> dict[str, str | None]:
        """Dimension id → suggested value id (None where the model abstains)."""
        return {dim: (None if got is None else got[0]) for dim, got in self.values}

    @cached_property
    def key(self) -> str:
        """sha256 of what a decision is about: segment, text, model and its suggestion.

        Probabilities are left out on purpose: the same suggestion rescored by the
        same model keeps its key (and its decision); new text or a new model does not.
        """
        return item_key(self.segment.id, self.segment.text, self.model_id,
                        self.suggested_codes, self.suggested_values)


Sorter = Callable[[Iterable[ReviewItem]], Iterator[ReviewItem]]


def _position(item: ReviewItem) -> tuple[str, int]:
    return (item.segment.document, item.segment.index)


def _score(item: ReviewItem) -> float:
    score = float(item.score)
    return score if math.isfinite(score) else -math.inf  # NaN/inf never jump the queue


def by_uncertainty(items: Iterable[ReviewItem]) -> Iterator[ReviewItem]:
    """Most uncertain (highest score) first; ties in document order."""
    return iter(sorted(items, key=lambda it: (-_score(it), *_position(it))))


def in_document_order(items: Iterable[ReviewItem]) -> Iterator[ReviewItem]:
    """By document name, then by segment position within the document."""
    return iter(sorted(items, key=_position))


SORTERS: dict[str, Sorter] = {"uncertain": by_uncertainty, "document": in_document_order}


def pending(items: Iterable[ReviewItem], decided: Mapping[str, str]) -> list[ReviewItem]:
    """Items still to review, in the given order.

    Items whose key has a final verdict (accept, reject, relabel) are dropped,
    items the coder skipped earlier go to the end, and repeated keys are kept once.
    """
    fresh: list[ReviewItem] = []
    skipped: list[ReviewItem] = []
    seen: set[str] = set()
    for item in items:
        key = item.key
        if key in seen:
            continue
        seen.add(key)
        action = decided.get(key)
        if action in FINAL_ACTIONS:
            continue
        (skipped if action == SKIP else fresh).append(item)
    return fresh + skipped
