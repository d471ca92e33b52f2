"""What a suggester sees of a set of segments: text, conversational context, embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from isp_nlp.records import Segment

#: Previous turns a batch carries as history (the most any feature spec looks back).
HISTORY_TURNS = 8


@dataclass(frozen=True, eq=False)
class ContextHistory:
    """Several previous turns of each segment, as row indices into a table of embeddings.

    ``index[i, j]`` is the row of ``table`` holding the embedding of the (j + 1)-th turn
    before segment i (most recent first; -1 = none), ``same_speaker[i, j]`` whether that
    turn has the segment's speaker. Indices keep memory at one embedding per turn however
    many turns a segment looks back.
    """

    index: np.ndarray
    same_speaker: np.ndarray
    table: np.ndarray

    def __post_init__(self) -> None:
        if self.index.ndim != 2 or self.same_speaker.shape != self.index.shape:
            raise ValueError("ContextHistory: index and same_speaker must be (n, turns) arrays")
        if self.table.ndim != 2 or (self.index.size and int(self.index.max()) >= len(self.table)):
            raise ValueError("ContextHistory: index points outside the embedding table")

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def subset(self, idx: np.ndarray) -> ContextHistory:
        return ContextHistory(self.index[idx], self.same_speaker[idx], self.table)


@dataclass(frozen=True, eq=False)
class SegmentBatch:
    """Segments to train on or score, aligned row by row.

    ``context_texts``/``context_embeddings`` hold the previous turn (any speaker;
    empty string / zero vector when there is none); ``history`` optionally the
    previous turns further back (see :class:`ContextHistory`). All are optional so a
    caller without conversational context can still use the suggesters.
    """

    segment_ids: tuple[str, ...]
    texts: tuple[str, ...]
    embeddings: np.ndarray
    context_texts: tuple[str, ...] | None = None
    context_embeddings: np.ndarray | None = None
    history: ContextHistory | None = None

    def __post_init__(self) -> None:
        n = len(self.segment_ids)
        if len(self.texts) != n or self.embeddings.shape[0] != n:
            raise ValueError("SegmentBatch: ids, texts and embeddings must have the same length")
        if self.context_texts is not None and len(self.context_texts) != n:
            raise ValueError("SegmentBatch: context_texts must align with texts")
        if self.context_embeddings is not None and self.context_embeddings.shape[0] != n:
            raise ValueError("SegmentBatch: context_embeddings must align with texts")
        if self.history is not None and len(self.history) != n:
            raise ValueError("SegmentBatch: history must align with texts")

    def __len__(self) -> int:
        return len(self.segment_ids)

    def subset(self, index: Sequence[int] | np.ndarray) -> SegmentBatch:
        idx = np.asarray(index, dtype=int)
        pick = [int(i) for i in idx]
        return SegmentBatch(
            segment_ids=tuple(self.segment_ids[i] for i in pick),
            texts=tuple(self.texts[i] for i in pick),
            embeddings=self.embeddings[idx],
            context_texts=None if self.context_texts is None
            else tuple(self.context_texts[i] for i in pick),
            context_embeddings=None if self.context_embeddings is None
            else self.context_embeddings[idx],
            history=None if self.history is None else self.history.subset(idx),
        )


def history_from_sequence(documents: Sequence[str], speakers: Sequence[str | None],
                          rows: Sequence[int], turns: int) -> tuple[np.ndarray, np.ndarray]:
    """(index, same_speaker) of :class:`ContextHistory` for ``rows`` of a turn sequence.

    ``documents``/``speakers`` describe every turn in document order (the rows of the
    embedding table); ``rows`` are the positions of the segments to describe. Up to
    ``turns`` previous turns of the same document are listed, most recent first. An
    unknown speaker (None or "") never counts as the same speaker.
    """
    n = len(rows)
    index = np.full((n, max(turns, 0)), -1, dtype=np.int64)
    same = np.zeros((n, max(turns, 0)), dtype=bool)
    for i, r in enumerate(rows):
        for j in range(turns):
            p = r - 1 - j
            if p < 0 or documents[p] != documents[r]:
                break
            index[i, j] = p
            same[i, j] = bool(speakers[r]) and speakers[p] == speakers[r]
    return index, same


def document_turns(segments: Sequence[Segment]
                   ) -> tuple[list[tuple[str, int]], list[str | None], list[str]]:
    """(document, turn index) keys, speakers and texts of the turns of ``segments`` (the
    project's segments in document order), turns sorted within each document. A turn
    split into several segments is joined back with spaces, as
    :func:`isp_nlp.suggest.training_data.previous_turns` does."""
    parts: dict[tuple[str, int], list[str]] = {}
    speaker: dict[tuple[str, int], str | None] = {}
    for seg in segments:
        key = (seg.document, seg.turn_index)
        parts.setdefault(key, []).append(seg.text)
        speaker.setdefault(key, seg.speaker)
    documents = list(dict.fromkeys(k[0] for k in parts))
    rank = {d: i for i, d in enumerate(documents)}
    keys = sorted(parts, key=lambda k: (rank[k[0]], k[1]))
    return keys, [speaker[k] for k in keys], [" ".join(parts[k]) for k in keys]
