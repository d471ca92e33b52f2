"""What the project's trainer reads from the store, as plain data.

:func:`merge_labels` turns the human annotations into one row per coded segment,
:func:`previous_turns` gives each segment its conversational context, and
:class:`TrainingData` holds everything one training run needs (segments, labels,
embeddings with context embeddings, codebook prototype embeddings), so fitting is a
pure function of it (:mod:`isp_nlp.suggest.project_fit`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.records import (
    CERTIFYING_SOURCES,
    CODE_DIMENSION,
    TRAINING_SOURCES,
    Annotation,
    Segment,
)
from isp_nlp.store.decisions import Rejection


@dataclass(frozen=True)
class TrainingSet:
    """One row per human-coded segment, the coders' labels merged.

    A code counts as present when at least half of the coders who coded the
    segment applied it (for two coders: either of them), so a suggestion is
    what at least one trained coder would apply; a dimension's value is the coders'
    most common one (ties: alphabetically first coder). ``code_sets[i]`` is None when
    no coder gave codes for the segment (dimensions only); ``values[dim][i]`` None when
    no coder gave it a value of ``dim``.
    """

    segments: list[Segment]
    coders: list[tuple[str, ...]]
    code_sets: list[frozenset[str] | None]
    #: By dimension id: each row's merged value (None: not coded on that dimension).
    values: dict[str, list[str | None]] = field(default_factory=dict)
    #: Each coder's own codes per row (for agreement with the seed coders).
    coder_codes: list[dict[str, frozenset[str]]] = field(default_factory=list)
    #: By dimension id: each coder's own value per row.
    coder_values: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    #: Per row: whether its labels are independent codes (:data:`CERTIFYING_SOURCES`),
    #: which calibration and certification may score; empty: every row is.
    independent: list[bool] = field(default_factory=list)
    #: Per row: None when every code is known (present or absent), else the codes known
    #: absent (a rejected suggestion; the row says nothing of the others); empty: all known.
    code_known: list[frozenset[str] | None] = field(default_factory=list)

    def is_independent(self, i: int) -> bool:
        """Whether row ``i`` holds independent codes (a row calibration may score)."""
        return not self.independent or self.independent[i]

    def known_codes(self, i: int) -> frozenset[str] | None:
        """Row ``i``'s known codes (None: all of them)."""
        return self.code_known[i] if self.code_known else None

    def learned_from(self) -> dict[str, int]:
        """Rows by kind: ``independent`` (seed codes), ``assisted`` (accepted or relabelled
        in review) and ``rejected`` (rejected suggestions only)."""
        n = len(self.segments)
        rejected = sum(self.known_codes(i) is not None for i in range(n))
        independent = sum(self.is_independent(i) for i in range(n))
        return {"independent": independent, "assisted": n - independent - rejected,
                "rejected": rejected}


def humanly_coded(annotations: Sequence[Annotation]) -> set[str]:
    """Ids of the segments with a human (or consensus) annotation."""
    return {a.segment_id for a in annotations if a.source in TRAINING_SOURCES}


def merge_labels(segments: Sequence[Segment], annotations: Sequence[Annotation],
                 dimensions: Sequence[str] | None = None, *,
                 sources: Collection[str] = TRAINING_SOURCES,
                 rejects: Sequence[Rejection] = ()) -> TrainingSet:
    """The :class:`TrainingSet` of the annotations of ``sources``, in document order: codes
    and the single-choice ``dimensions`` (None: every dimension the annotations use; a
    dimension of ``dimensions`` nobody coded has an all-None column).

    A segment with a :data:`CERTIFYING_SOURCES` annotation is an independent row made of
    those annotations alone; a segment with only other ``sources`` (assisted codes from
    review) is a row the model learns from and nobody scores it on (``independent``
    False). ``rejects`` (:func:`~isp_nlp.store.decisions.effective_rejects`) add, on
    segments no annotation of ``sources`` covers, a row whose rejected codes are negatives
    and whose other codes and values are unknown (``code_known``); a reject names no
    value, so dimensions learn nothing from it.
    """
    by_id = {s.id: s for s in segments}
    chosen = [a for a in annotations if a.source in sources and a.segment_id in by_id]
    independent = {a.segment_id for a in chosen if a.source in CERTIFYING_SOURCES}
    codes: dict[str, dict[str, set[str]]] = {}
    given: dict[str, dict[str, dict[str, str]]] = {d: {} for d in dimensions or ()}
    for a in chosen:
        if a.segment_id in independent and a.source not in CERTIFYING_SOURCES:
            continue  # an independent code of the segment outranks an assisted one
        if a.dimension == CODE_DIMENSION:
            labels = codes.setdefault(a.segment_id, {}).setdefault(a.coder, set())
            if a.label is not None:
                labels.add(a.label)
        elif a.label and (dimensions is None or a.dimension in given):
            given.setdefault(a.dimension, {}).setdefault(a.segment_id, {})[a.coder] = a.label
    coded = set(codes).union(*given.values())
    labelled = {a.segment_id for a in chosen}
    rejected: dict[str, dict[str, set[str]]] = {}
    for r in rejects:
        if r.codes and r.segment_id in by_id and r.segment_id not in labelled:
            rejected.setdefault(r.segment_id, {}).setdefault(r.coder, set()).update(r.codes)
    ids = sorted(coded | set(rejected), key=lambda i: (by_id[i].document, by_id[i].index))
    ts = TrainingSet(segments=[], coders=[], code_sets=[],
                     values={d: [] for d in given}, coder_values={d: [] for d in given})
    for sid in ids:
        if sid not in coded:
            by_coder = rejected[sid]
            ts.segments.append(by_id[sid])
            ts.coders.append(tuple(sorted(by_coder)))
            ts.code_sets.append(frozenset())
            ts.coder_codes.append(dict.fromkeys(by_coder, frozenset()))
            for dim in given:
                ts.values[dim].append(None)
                ts.coder_values[dim].append({})
            ts.independent.append(False)
            ts.code_known.append(frozenset(c for cs in by_coder.values() for c in cs))
            continue
        per_coder = codes.get(sid)
        code_set = None
        if per_coder is not None:
            counts = Counter(c for labels in per_coder.values() for c in labels)
            code_set = frozenset(c for c, n in counts.items() if 2 * n >= len(per_coder))
        coders = set(per_coder or {})
        for dim, by_segment in given.items():
            st = by_segment.get(sid, {})
            value = None
            if st:
                votes = Counter(st[c] for c in sorted(st))
                value = votes.most_common(1)[0][0]  # ties: first coder in sorted order
            ts.values[dim].append(value)
            ts.coder_values[dim].append(dict(st))
            coders |= set(st)
        ts.segments.append(by_id[sid])
        ts.coders.append(tuple(sorted(coders)))
        ts.code_sets.append(code_set)
        ts.coder_codes.append({c: frozenset(v) for c, v in (per_coder or {}).items()})
        ts.independent.append(sid in independent)
        ts.code_known.append(None)
    return ts


def previous_turns(all_segments: Sequence[Segment], segments: Sequence[Segment]) -> list[str]:
    """Each of ``segments``' context: the text of the previous turn of its document ("" if
    none), looked up among ``all_segments`` (the project's segments, document order).

    A turn split into several segments (sentence or paragraph units) is joined back
    with spaces; non-codable turns (e.g. the interviewer's questions) count as context.
    """
    turns: dict[str, dict[int, list[str]]] = {}
    for seg in all_segments:
        turns.setdefault(seg.document, {}).setdefault(seg.turn_index, []).append(seg.text)
    previous: dict[tuple[str, int], str] = {}
    for document, by_turn in turns.items():
        last = ""
        for turn_index in sorted(by_turn):
            previous[(document, turn_index)] = last
            last = " ".join(by_turn[turn_index])
    return [previous.get((s.document, s.turn_index), "") for s in segments]


@dataclass(frozen=True)
class TrainingData:
    """Everything one ``isp-nlp train`` run fits on.

    ``batch`` is row-aligned with ``labels.segments`` (embeddings and previous-turn
    context); ``value_labels`` maps each single-choice dimension of the codebook (its
    order) to its values, ``dimension_names`` to its name; ``code_prototypes`` maps leaf
    codes, ``value_prototypes[dim]`` a dimension's values to the embeddings of their
    codebook texts.
    """

    labels: TrainingSet
    batch: SegmentBatch
    code_labels: list[str]
    value_labels: dict[str, list[str]]
    embedder_id: str
    code_prototypes: Mapping[str, np.ndarray]
    value_prototypes: Mapping[str, Mapping[str, np.ndarray]]
    dimension_names: Mapping[str, str] = field(default_factory=dict)
    #: The codebook's groups of mutually exclusive codes (never suggested together).
    exclusive_groups: tuple[tuple[str, ...], ...] = ()
