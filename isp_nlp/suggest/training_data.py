"""What the project's trainer reads from the store, as plain data.

:func:`merge_labels` turns the human annotations into one row per coded segment,
:func:`previous_turns` gives each segment its conversational context, and
:class:`TrainingData` holds everything one training run needs (segments, labels,
embeddings with context embeddings, codebook prototype embeddings), so fitting is a
pure function of it (:mod:`isp_nlp.suggest.project_fit`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.records import CODE_DIMENSION, TRAINING_SOURCES, Annotation, Segment


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


def humanly_coded(annotations: Sequence[Annotation]) -> set[str]:
    """Ids of the segments with a human (or consensus) annotation."""
    return {a.segment_id for a in annotations if a.source in TRAINING_SOURCES}


def merge_labels(segments: Sequence[Segment], annotations: Sequence[Annotation],
                 dimensions: Sequence[str] | None = None) -> TrainingSet:
    """The :class:`TrainingSet` of the human annotations, in document order: codes and the
    single-choice ``dimensions`` (None: every dimension the annotations use; a
    dimension of ``dimensions`` nobody coded has an all-None column)."""
    by_id = {s.id: s for s in segments}
    codes: dict[str, dict[str, set[str]]] = {}
    given: dict[str, dict[str, dict[str, str]]] = {d: {} for d in dimensions or ()}
    for a in annotations:
        if a.source not in TRAINING_SOURCES or a.segment_id not in by_id:
            continue
        if a.dimension == CODE_DIMENSION:
            labels = codes.setdefault(a.segment_id, {}).setdefault(a.coder, set())
            if a.label is not None:
                labels.add(a.label)
        elif a.label and (dimensions is None or a.dimension in given):
            given.setdefault(a.dimension, {}).setdefault(a.segment_id, {})[a.coder] = a.label
    coded = set(codes).union(*given.values())
    ids = sorted(coded, key=lambda i: (by_id[i].document, by_id[i].index))
    ts = TrainingSet(segments=[], coders=[], code_sets=[],
                     values={d: [] for d in given}, coder_values={d: [] for d in given})
    for sid in ids:
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
