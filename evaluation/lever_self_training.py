"""Self-training: refit the single-label suggester on its most confident pool predictions;
measured by evaluation/levers.py, not shipped (evaluation/results/levers.md).

A project always has uncoded segments. :func:`train_self_training` fits on the seeds,
labels the pool, adds the ``per_label`` most confident pool segments of each predicted
label as pseudo-seeds and refits, ``rounds`` times. A wrapper around the one trainer
(:func:`isp_nlp.suggest.trainer.train_single_label`), so the features stay the shipped ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.trainer import TrainParams, train_single_label


def _concat(a: SegmentBatch, b: SegmentBatch) -> SegmentBatch:
    """Rows of ``a`` then ``b`` (context kept only when both have it)."""
    ctx_t = (a.context_texts + b.context_texts
             if a.context_texts is not None and b.context_texts is not None else None)
    ctx_e = (np.vstack([a.context_embeddings, b.context_embeddings])
             if a.context_embeddings is not None and b.context_embeddings is not None else None)
    history = None
    if a.history is not None and b.history is not None and a.history.table is b.history.table:
        history = type(a.history)(np.vstack([a.history.index, b.history.index]),
                                  np.vstack([a.history.same_speaker, b.history.same_speaker]),
                                  a.history.table)
    return SegmentBatch(a.segment_ids + b.segment_ids, a.texts + b.texts,
                        np.vstack([a.embeddings, b.embeddings]), ctx_t, ctx_e, history)


def train_self_training(batch: SegmentBatch, y: Sequence[str], pool: SegmentBatch, *,
                        per_label: int, rounds: int = 1, params: TrainParams | None = None,
                        prototypes: Mapping[str, np.ndarray] | None = None,
                        embedder_id: str = "") -> SuggesterModel:
    """The single-label model refitted ``rounds`` times on seeds + pseudo-labelled pool rows."""
    labels = [str(v) for v in y]
    model = train_single_label(batch, labels, params=params, prototypes=prototypes,
                               embedder_id=embedder_id)
    if len(pool) == 0 or per_label <= 0:
        return model
    seed_ids = set(batch.segment_ids)
    free = np.array([i for i, s in enumerate(pool.segment_ids) if s not in seed_ids], dtype=int)
    for _ in range(rounds):
        proba = model.predict_value_proba(pool.subset(free))
        assert proba is not None
        classes = np.asarray(model.value_classes(), dtype=object)
        top, conf = proba.argmax(axis=1), proba.max(axis=1)
        picked: list[int] = []
        for c in range(len(classes)):
            rows = np.flatnonzero(top == c)
            picked += [int(r) for r in rows[np.argsort(-conf[rows])][:per_label]]
        if not picked:
            break
        extra = pool.subset(free[picked])
        model = train_single_label(_concat(batch, extra),
                                   labels + [str(classes[top[p]]) for p in picked],
                                   params=params, prototypes=prototypes, embedder_id=embedder_id)
    return model
