"""Generic single- and multi-label classifiers over a :class:`SegmentBatch`.

Used by ``isp-nlp evaluate`` (any coded-segments CSV) and, through
:func:`isp_nlp.suggest.trainer.train_suggester`, by the project's suggesters.
Each model is a :class:`~isp_nlp.suggest.features.FeatureBuilder` (embedding, previous
turn, TF-IDF and surface features, weighted by :class:`TrainParams`) followed by balanced
logistic regression (probabilities optionally calibrated on out-of-fold scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from isp_nlp.errors import ModelError
from isp_nlp.suggest.batch import SegmentBatch
from isp_nlp.suggest.estimators import CodeSuggester, StageClassifier
from isp_nlp.suggest.features import FeatureBuilder
from isp_nlp.suggest.selection import select_spec
from isp_nlp.suggest.trainer import TrainParams


@dataclass
class SingleLabelModel:
    """One label per segment; ``predict_proba`` columns follow ``classes_``."""

    estimator: StageClassifier
    features: FeatureBuilder | None = None

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    def predict_proba(self, batch: SegmentBatch) -> np.ndarray:
        return self.estimator.predict_proba(_features(self.features, batch))

    def predict(self, batch: SegmentBatch) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(batch), axis=1)]


@dataclass
class MultiLabelModel:
    """Any number of labels per segment; ``predict_proba`` columns follow ``labels``."""

    estimator: CodeSuggester
    labels: list[str]
    features: FeatureBuilder | None = None

    def predict_proba(self, batch: SegmentBatch) -> np.ndarray:
        return self.estimator.predict_proba(_features(self.features, batch))


def _features(builder: FeatureBuilder | None, batch: SegmentBatch):
    return batch.embeddings if builder is None else builder.transform(batch)


def fit_single_label(batch: SegmentBatch, y: Sequence[str], *,
                     params: TrainParams | None = None) -> SingleLabelModel:
    """Fit features + multinomial logistic regression on one label per segment."""
    params = params or TrainParams()
    y = np.asarray(list(y), dtype=object)
    if len(set(y)) < 2:
        raise ModelError(f"need at least 2 different labels to train; found {sorted(set(y))}")
    spec = params.feature_spec()
    if params.select_features:
        spec, _ = select_spec(batch, y, spec, lambda: StageClassifier(
            C=params.stage_C, class_weight=params.class_weight, max_iter=params.max_iter))
    builder = FeatureBuilder(spec)
    X = builder.fit_transform(batch)
    est = StageClassifier(C=params.stage_C, class_weight=params.class_weight,
                          max_iter=params.max_iter, calibration_folds=params.calibration_folds)
    return SingleLabelModel(est.fit(X, y), builder)


def fit_multi_label(batch: SegmentBatch, Y: np.ndarray, labels: Sequence[str], *,
                    params: TrainParams | None = None) -> MultiLabelModel:
    """Fit features + one logistic regression per label (``Y``: 0/1 indicator matrix)."""
    params = params or TrainParams()
    builder = FeatureBuilder(params.feature_spec())
    X = builder.fit_transform(batch)
    est = CodeSuggester(C=params.code_C, class_weight=params.class_weight,
                        max_iter=params.max_iter, threshold=params.code_threshold,
                        calibration_folds=params.calibration_folds)
    return MultiLabelModel(est.fit(X, np.asarray(Y)), list(labels), builder)
