"""What a suggester sees of a set of segments: text, conversational context, embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class SegmentBatch:
    """Segments to train on or score, aligned row by row.

    ``context_texts``/``context_embeddings`` hold the previous turn (any speaker;
    empty string / zero vector when there is none). Both are optional so a caller
    without conversational context can still use the suggesters.
    """

    segment_ids: tuple[str, ...]
    texts: tuple[str, ...]
    embeddings: np.ndarray
    context_texts: tuple[str, ...] | None = None
    context_embeddings: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.segment_ids)
        if len(self.texts) != n or self.embeddings.shape[0] != n:
            raise ValueError("SegmentBatch: ids, texts and embeddings must have the same length")
        if self.context_texts is not None and len(self.context_texts) != n:
            raise ValueError("SegmentBatch: context_texts must align with texts")
        if self.context_embeddings is not None and self.context_embeddings.shape[0] != n:
            raise ValueError("SegmentBatch: context_embeddings must align with texts")

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
        )
