"""The review queue: scored items and the sorters that order them.

After Prodigy, the queue is a stream of items that each carry a score
(uncertainty; higher = more informative), and the ordering is a separate,
swappable sorter. Every item has a content-hash ``key`` so that decisions can
be stored against it: resuming a session is "drop items that already have a
verdict", and the same suggestion offered twice is reviewed once.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from isp_nlp.errors import IspNlpError
from isp_nlp.records import Evidence, Segment, item_key
from isp_nlp.suggest.next_to_code import worth_coding

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
    #: Up to two turns before the segment (oldest first) and two after it, in the same
    #: document, for context. Not in the key.
    before: tuple[Segment, ...] = ()
    after: tuple[Segment, ...] = ()
    #: Per evidence exemplar (same order as ``evidence``), the coders who coded it.
    #: Not in the key.
    evidence_coders: tuple[tuple[str, ...], ...] = ()

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


def by_confidence(items: Iterable[ReviewItem]) -> Iterator[ReviewItem]:
    """Least uncertain (lowest score) first: quick confirmations; ties in document order.
    A score that is not finite goes last."""
    def key(it: ReviewItem) -> tuple[float, str, int]:
        score = float(it.score)
        return (score if math.isfinite(score) else math.inf, *_position(it))
    return iter(sorted(items, key=key))


#: The seed of ``--order random`` unless ``--seed`` gives another.
DEFAULT_SEED = 20261206


def shuffled(items: Iterable[ReviewItem], seed: int = DEFAULT_SEED) -> Iterator[ReviewItem]:
    """A seeded random order: the same items and seed always give the same order."""
    ordered = sorted(items, key=_position)  # independent of the order items came in
    random.Random(seed).shuffle(ordered)
    return iter(ordered)


SORTERS: dict[str, Sorter] = {"uncertain": by_uncertainty, "confident": by_confidence,
                              "document": in_document_order, "random": shuffled}


def sorter(order: str, seed: int = DEFAULT_SEED) -> Sorter:
    """The sorter named ``order`` (a key of :data:`SORTERS`); ``seed`` seeds ``random``."""
    if order not in SORTERS:
        raise IspNlpError(f"--order {order!r} is not an order; expected one of "
                          f"{', '.join(SORTERS)}; choose one of those.")
    if order == "random":
        return lambda items: shuffled(items, seed)
    return SORTERS[order]


#: How many codes the full-screen review lists per item (more if more are suggested).
SHOWN_CODES = 5


def shown_codes(item: ReviewItem, limit: int = SHOWN_CODES) -> tuple[str, ...]:
    """The codes a coder sees for ``item``: every suggested code, then the most probable
    others until ``limit`` (at most 9, the number keys)."""
    out = list(item.suggested_codes)
    for code, _ in item.codes:
        if len(out) >= max(limit, 1):
            break
        if code not in out:
            out.append(code)
    return tuple(out[:9])


@dataclass(frozen=True)
class ReviewFilter:
    """Which items a review shows (all when every field is left empty)."""

    code: str | None = None  # suggested, or among the shown codes
    documents: tuple[str, ...] = ()
    speaker: str | None = None
    has_values: tuple[tuple[str, str], ...] = ()  # (dimension, suggested value)
    min_words: int = 0
    backchannels: bool = False  # False: "Mm-hmm." and "Yeah." go to the back


def filter_items(items: Sequence[ReviewItem], flt: ReviewFilter) -> list[ReviewItem]:
    """``items`` (in order) that pass ``flt``; backchannels (see
    :func:`isp_nlp.suggest.next_to_code.worth_coding`) moved to the back unless
    ``flt.backchannels``."""
    docs = set(flt.documents)
    speaker = flt.speaker.strip().casefold() if flt.speaker else None
    kept = []
    for it in items:
        if flt.code and flt.code not in it.suggested_codes and flt.code not in shown_codes(it):
            continue
        if docs and it.segment.document not in docs:
            continue
        if speaker is not None and (it.segment.speaker or "").strip().casefold() != speaker:
            continue
        values = it.suggested_values
        if any(values.get(dim) != value for dim, value in flt.has_values):
            continue
        if len(it.segment.text.split()) < flt.min_words:
            continue
        kept.append(it)
    if flt.backchannels:
        return kept
    worth = {id(s) for s in worth_coding([it.segment for it in kept], 0)}
    return [it for it in kept if id(it.segment) in worth] + [
        it for it in kept if id(it.segment) not in worth]


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
