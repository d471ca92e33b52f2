"""Generic single- and multi-label classifiers over a :class:`SegmentBatch`.

Used by ``isp-nlp evaluate`` (any coded-segments CSV) and, through
:func:`isp_nlp.suggest.trainer.train_suggester`, by the project's suggesters.
Baseline: logistic regression on the segment embedding only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from isp_nlp.errors import ModelError
from isp_nlp.suggest.batch import SegmentBatch
from isp_nlp.suggest.estimators import CodeSuggester, StageClassifier
from isp_nlp.suggest.trainer import TrainParams


@dataclass
class SingleLabelModel:
    """One label per segment; ``predict_proba`` columns follow ``classes_``."""

    estimator: StageClassifier

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    def predict_proba(self, batch: SegmentBatch) -> np.ndarray:
        return self.estimator.predict_proba(batch.embeddings)

    def predict(self, batch: SegmentBatch) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(batch), axis=1)]


@dataclass
class MultiLabelModel:
    """Any number of labels per segment; ``predict_proba`` columns follow ``labels``."""

    estimator: CodeSuggester
    labels: list[str]

    def predict_proba(self, batch: SegmentBatch) -> np.ndarray:
        return self.estimator.predict_proba(batch.embeddings)


def fit_single_label(batch: SegmentBatch, y: Sequence[str], *,
                     params: TrainParams | None = None) -> SingleLabelModel:
    params = params or TrainParams()
    y = np.asarray(list(y), dtype=object)
    if len(set(y)) < 2:
        raise ModelError(f"need at least 2 different labels to train; found {sorted(set(y))}")
    est = StageClassifier(C=params.stage_C, class_weight=params.class_weight,
                          max_iter=params.max_iter)
    return SingleLabelModel(est.fit(batch.embeddings, y))


def fit_multi_label(batch: SegmentBatch, Y: np.ndarray, labels: Sequence[str], *,
                    params: TrainParams | None = None) -> MultiLabelModel:
    params = params or TrainParams()
    est = CodeSuggester(C=params.code_C, class_weight=params.class_weight,
                        max_iter=params.max_iter, threshold=params.code_threshold)
    return MultiLabelModel(est.fit(batch.embeddings, np.asarray(Y)), list(labels))
