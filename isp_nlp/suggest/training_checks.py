"""Checks of the trainer's inputs (:func:`isp_nlp.suggest.trainer.train_suggester`): one
embedding row, id and label set per segment, finite vectors, known labels."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from isp_nlp.coded.batch import ContextHistory, SegmentBatch
from isp_nlp.errors import ModelError


def validate_training(
    X: np.ndarray,
    segment_ids: Sequence[str],
    texts: Sequence[str],
    code_sets: Sequence[Collection[str] | None],
    values: Mapping[str, Sequence[str | None]],
    code_labels: Sequence[str],
    value_labels: Mapping[str, Sequence[str]],
) -> np.ndarray:
    """``X`` as float64 after checking every training input; ModelError names the problem."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ModelError(
            f"Training embeddings have shape {X.shape}; expected a 2-D (segments, dims) array; "
            "fix the caller to pass one embedding row per segment."
        )
    lengths = {"segment_ids": len(segment_ids), "texts": len(texts),
               "code_sets": len(code_sets),
               **{f"values of {d}": len(v) for d, v in values.items()}}
    bad = {k: n for k, n in lengths.items() if n != X.shape[0]}
    if bad:
        raise ModelError(
            f"Training inputs differ in length ({bad} vs {X.shape[0]} embedding rows); expected "
            "one entry per segment in every list; fix the caller."
        )
    if not np.isfinite(X).all():
        raise ModelError(
            "Training embeddings contain NaN or infinity; expected finite vectors; fix it by "
            "clearing the embedding cache and re-embedding."
        )
    seen: set[str] = set()
    for sid in segment_ids:
        if sid in seen:
            raise ModelError(
                f"Segment {sid} appears twice in the training data; expected each segment once "
                "with all its labels; fix the caller to merge its annotations."
            )
        seen.add(sid)
    for kind, labels in (("code", code_labels), *value_labels.items()):
        if len(set(labels)) != len(labels):
            raise ModelError(
                f"The {kind} label list {list(labels)} has duplicates; expected unique ids; "
                "fix the codebook."
            )
    known_codes = set(code_labels)
    for sid, codes in zip(segment_ids, code_sets, strict=True):
        for code in codes or ():
            if code not in known_codes:
                raise ModelError(
                    f"Segment {sid} is coded {code!r}, which is not in the codebook "
                    f"({sorted(known_codes)}); fix the annotation or add the code."
                )
    for dim, column in values.items():
        known = set(value_labels.get(dim, ()))
        for sid, value in zip(segment_ids, column, strict=True):
            if value is not None and value not in known:
                raise ModelError(
                    f"Segment {sid} has {dim} {value!r}; expected one of {sorted(known)}; "
                    "fix the annotation."
                )
    return X


def training_batch(
    X: np.ndarray,
    ids: Sequence[str],
    texts: Sequence[str],
    context_texts: Sequence[str] | None,
    context_embeddings: np.ndarray | None,
    history: ContextHistory | None = None,
) -> SegmentBatch:
    """The training rows as a :class:`SegmentBatch` (contexts checked against ``X``)."""
    n = X.shape[0]
    if context_texts is not None and len(context_texts) != n:
        raise ModelError(
            f"Training got {len(context_texts)} context texts for {n} segments; expected one "
            "previous turn per segment (\"\" when none); fix the caller."
        )
    ctx = None
    if context_embeddings is not None:
        ctx = np.asarray(context_embeddings, dtype=np.float64)
        if ctx.shape != X.shape or not np.isfinite(ctx).all():
            raise ModelError(
                f"Context embeddings have shape {ctx.shape} (or non-finite values); expected "
                f"finite vectors of shape {X.shape}, one per segment; fix the caller."
            )
    return SegmentBatch(tuple(ids), tuple(str(t) for t in texts), X,
                        None if context_texts is None else tuple(str(t) for t in context_texts),
                        ctx, history)
