"""Pick the feature set per task by internal cross-validation on the seed set.

Lexical and surface features lift some tasks a lot (therapist behaviour on AnnoMI:
questions and reflections have telling words and punctuation) and slightly hurt
others (client change/sustain talk, where the seeds are too few for thousands
of sparse features). With ``TrainParams.select_features`` the fit functions
score the configured feature set against the embedding-only one (context
embedding kept) by out-of-fold Cohen's kappa on the training seeds and keep
the better; ties go to the richer set.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import StratifiedKFold

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.suggest.features import FeatureBuilder, FeatureSpec

SELECTION_FOLDS = 3


def candidate_specs(spec: FeatureSpec) -> list[FeatureSpec]:
    """The configured spec and its embedding-only (plus context embedding) reduction."""
    lean = replace(spec, word_weight=0.0, char_weight=0.0, context_word_weight=0.0,
                   surface_weight=0.0)
    return [spec] if lean == spec else [spec, lean]


def select_spec(batch: SegmentBatch, y: np.ndarray, spec: FeatureSpec, make_estimator,
                folds: int = SELECTION_FOLDS, seed: int = 0) -> tuple[FeatureSpec, list[float]]:
    """(best spec, out-of-fold kappa per candidate) for single-label targets ``y``.

    ``make_estimator()`` returns an unfitted classifier. Without at least ``folds``
    rows per class the configured spec is returned unscored.
    """
    candidates = candidate_specs(spec)
    _, counts = np.unique(y, return_counts=True)
    if len(candidates) == 1 or len(counts) < 2 or counts.min() < folds:
        return spec, []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(y)), y))
    scores = []
    for candidate in candidates:
        pred = np.empty(len(y), dtype=object)
        for train_idx, test_idx in splits:
            builder = FeatureBuilder(candidate).fit(batch.subset(train_idx))
            est = make_estimator().fit(builder.transform(batch.subset(train_idx)), y[train_idx])
            pred[test_idx] = est.predict(builder.transform(batch.subset(test_idx)))
        scores.append(float(cohen_kappa_score(y.astype(str), pred.astype(str))))
    best = int(np.argmax(scores))  # first maximum: the richer set on ties
    return candidates[best], scores
