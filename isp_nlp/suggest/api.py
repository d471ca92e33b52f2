"""Generic single- and multi-label classifiers over a :class:`SegmentBatch`.

Used by ``isp-nlp evaluate`` (any coded-segments CSV) and, through
:func:`isp_nlp.suggest.trainer.train_suggester`, by the project's suggesters.
Each model is a :class:`~isp_nlp.suggest.features.FeatureBuilder` (embedding, previous
turn, TF-IDF and surface features, weighted by :class:`TrainParams`) followed by balanced
logistic regression (probabilities optionally calibrated on out-of-fold scores).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from isp_nlp.errors import ModelError
from isp_nlp.suggest.batch import SegmentBatch
from isp_nlp.suggest.estimators import CodeSuggester, StageClassifier
from isp_nlp.suggest.features import FeatureBuilder
from isp_nlp.suggest.prototypes import LabelPrototypes
from isp_nlp.suggest.selection import select_spec
from isp_nlp.suggest.trainer import TrainParams

#: Share of a single-label model's probability that comes from the codebook prototypes
#: when they are given: grouped CV on the AnnoMI pool (evaluation/results/tuning.md) chose
#: 0.3 among 0.2, 0.3, 0.5 and seed-count schedules.
PROTOTYPE_WEIGHT = 0.3


@dataclass
class SingleLabelModel:
    """One label per segment; ``predict_proba`` columns follow ``classes_``.

    With ``prototypes`` the probabilities are ``(1 - w) * classifier + w * codebook``,
    ``w = prototype_weight``: the codebook's definitions and examples act as a prior
    that matters most when there are few seeds.
    """

    estimator: StageClassifier
    features: FeatureBuilder | None = None
    prototypes: LabelPrototypes | None = None
    prototype_weight: float = 0.0

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    def predict_proba(self, batch: SegmentBatch) -> np.ndarray:
        proba = self.estimator.predict_proba(_features(self.features, batch))
        if self.prototypes is None or not self.prototype_weight:
            return proba
        w = self.prototype_weight
        return (1 - w) * proba + w * self.prototypes.predict_proba(batch.embeddings,
                                                                   self.classes_)

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
                     params: TrainParams | None = None,
                     prototypes: Mapping[str, np.ndarray] | None = None,
                     prototype_weight: float = PROTOTYPE_WEIGHT) -> SingleLabelModel:
    """Fit features + multinomial logistic regression on one label per segment.

    ``prototypes`` maps each label to the embeddings of its codebook texts
    (:func:`isp_nlp.suggest.prototypes.prototype_texts`); every label needs some.
    """
    params = params or TrainParams()
    y = np.asarray(list(y), dtype=object)
    if len(set(y)) < 2:
        raise ModelError(f"need at least 2 different labels to train; found {sorted(set(y))}")
    missing = sorted(str(c) for c in set(y) if prototypes is not None and
                     np.asarray(prototypes.get(str(c), ())).size == 0)
    if missing:
        raise ModelError(f"the codebook has no definition or example for {', '.join(missing)}; "
                         "expected one for every label; add them to the codebook.")
    spec = params.feature_spec()
    if params.select_features:
        spec, _ = select_spec(batch, y, spec, lambda: StageClassifier(
            C=params.stage_C, class_weight=params.class_weight, max_iter=params.max_iter))
    builder = FeatureBuilder(spec)
    X = builder.fit_transform(batch)
    est = StageClassifier(C=params.stage_C, class_weight=params.class_weight,
                          max_iter=params.max_iter, calibration_folds=params.calibration_folds)
    protos = None if prototypes is None else LabelPrototypes(
        {str(c): np.atleast_2d(np.asarray(prototypes[str(c)], np.float32)) for c in set(y)})
    return SingleLabelModel(est.fit(X, y), builder, protos,
                            prototype_weight if protos is not None else 0.0)


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
