"""Seeds and fits of an evaluation study: K seeds per label, the project's trainer, and
calibration and certification on out-of-fold predictions of those seeds (as ``isp-nlp
train``; :mod:`isp_nlp.suggest.out_of_fold`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from isp_nlp.coded.units import NO_CODE, CodedUnits, EvaluationError
from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION
from isp_nlp.suggest import out_of_fold as oof
from isp_nlp.suggest.batch import SegmentBatch
from isp_nlp.suggest.bundle import SUGGEST_CHUNK, SuggesterModel
from isp_nlp.suggest.certify import CONFIDENCE, Certificate
from isp_nlp.suggest.trainer import TrainParams, train_multi_label, train_single_label

#: Grouped folds over the seeds for calibration and certification (as ``isp-nlp train``).
CALIBRATION_FOLDS = 5


def sample_seeds(units: CodedUnits, k: int | None, rng: np.random.Generator,
                 labels: Sequence[str]) -> np.ndarray:
    """K units per label (majority label; for multi-label K per code plus K without codes)."""
    ref = units.reference()
    if k is None:
        return np.arange(len(units))
    pools: dict[str, list[int]] = {}
    for i, r in enumerate(ref):
        for lab in (r or (NO_CODE,)) if units.multi_label else (r,):
            pools.setdefault(lab, []).append(i)
    chosen: list[int] = []
    taken: set[int] = set()
    for lab in [*labels, NO_CODE] if units.multi_label else labels:
        pool = [i for i in pools.get(lab, []) if i not in taken]
        if lab == NO_CODE and not pool:
            continue
        if len(pool) < k:
            raise EvaluationError(
                f"{units.name}: label '{lab}' has {len(pool)} training segments but "
                f"{k} seeds per label were asked for; lower --seed-per-label to {len(pool)} "
                "or fewer, or code more segments with that label.")
        pick = rng.choice(pool, size=k, replace=False)
        chosen.extend(int(i) for i in pick)
        taken.update(int(i) for i in pick)
    return np.asarray(chosen, dtype=int)


def fit_model(train: CodedUnits, idx: np.ndarray, labels: Sequence[str],
              params: TrainParams | None = None,
              prototypes: Mapping[str, np.ndarray] | None = None) -> SuggesterModel:
    """The project's model fitted on ``train`` rows ``idx``: multi-label units train its
    codes, single-label units its single-label (stage) part. ``prototypes`` (label ->
    codebook embeddings) are the zero-shot codes or the single-label prior."""

    ref = train.reference()
    batch = train.batch(idx)
    if train.multi_label:
        Y = np.array([[lab in ref[i] for lab in labels] for i in idx], dtype=int)
        return train_multi_label(batch, Y, labels, params=params, prototypes=prototypes)
    return train_single_label(batch, [ref[i] for i in idx], params=params,
                              prototypes=prototypes)


@dataclass(frozen=True)
class Prediction:
    """A model's labels for a batch, each row's confidence and the probabilities behind
    them (columns = ``classes``)."""

    labels: list[Any]
    confidence: np.ndarray
    proba: np.ndarray
    classes: list[str]


def predict(model: SuggesterModel, batch: SegmentBatch) -> Prediction:
    """A code model's codes at their thresholds (confidence: min over codes of
    max(p, 1 - p)), else the top single label and its probability. Scored
    :data:`~isp_nlp.suggest.bundle.SUGGEST_CHUNK` rows at a time (bounded memory)."""
    n = len(batch)
    if n > SUGGEST_CHUNK:
        parts = [predict(model, batch.subset(np.arange(i, min(i + SUGGEST_CHUNK, n))))
                 for i in range(0, n, SUGGEST_CHUNK)]
        return Prediction([lab for part in parts for lab in part.labels],
                          np.concatenate([part.confidence for part in parts]),
                          np.vstack([part.proba for part in parts]), parts[0].classes)
    code_p = model.predict_code_proba(batch)
    if code_p is not None:
        return Prediction(oof.predicted_sets(model, code_p), oof.code_confidence(code_p),
                          code_p, list(model.code_labels))
    proba = model.predict_stage_proba(batch)
    if proba is None:
        raise ModelError(f"suggester {model.model_id} has neither a code nor a stage model")
    classes = np.asarray(model.stage_classes, dtype=object)
    top, conf = oof.stage_confidence(model, proba)
    return Prediction([str(c) for c in classes[top]], conf, proba, list(model.stage_classes))


def predict_labels(model: SuggesterModel, batch: SegmentBatch) -> tuple[list[Any], np.ndarray]:
    """(predicted labels, confidence) per row (:func:`predict`)."""
    out = predict(model, batch)
    return out.labels, out.confidence


def out_of_fold_proba(train: CodedUnits, idx: np.ndarray, labels: Sequence[str],
                      classes: Sequence[str], params: TrainParams | None = None,
                      prototypes: Mapping[str, np.ndarray] | None = None,
                      folds: int = CALIBRATION_FOLDS) -> np.ndarray | None:
    """(len(idx), len(classes)) probabilities of each seed from a model fitted on the other
    seeds' documents (grouped folds); single-label rows of an unfitted fold are all zero,
    multi-label ones NaN. None with fewer than two documents."""
    docs = np.asarray([train.documents[i] for i in idx])
    n_folds = min(folds, len(set(docs.tolist())))
    if n_folds < 2:
        return None
    P = np.full((len(idx), len(classes)), np.nan)
    for tr, te in GroupKFold(n_splits=n_folds).split(idx, groups=docs):
        try:
            part = fit_model(train, idx[tr], labels, params, prototypes)
        except ModelError:
            continue  # a fold without two labels: its seeds stay unscored
        got = predict(part, train.batch(idx[te]))
        col = [list(classes).index(c) for c in got.classes if c in classes]
        P[np.ix_(te, col)] = got.proba[:, [i for i, c in enumerate(got.classes) if c in classes]]
    return P if train.multi_label else np.where(np.isnan(P), 0.0, P)


def fit_calibrated(train: CodedUnits, idx: np.ndarray, labels: Sequence[str],
                   params: TrainParams | None = None,
                   prototypes: Mapping[str, np.ndarray] | None = None,
                   target: float | None = None, *, level: float = CONFIDENCE,
                   folds: int = CALIBRATION_FOLDS) -> tuple[SuggesterModel, Certificate | None]:
    """:func:`fit_model` on seeds ``idx``, then calibrated (and, with a ``target``,
    certified) on out-of-fold predictions of those seeds, folds grouped by document.
    Confidences refer to the label mix of every unit of ``train`` (the pool the seeds were
    drawn from), and seeds are weighted to it when certifying."""
    model = fit_model(train, idx, labels, params, prototypes)
    multi = train.multi_label
    classes = list(model.code_labels) if multi else model.stage_classes
    P = out_of_fold_proba(train, idx, labels, classes, params, prototypes, folds)
    if P is None:
        return model, None
    scored = ~np.isnan(P).any(axis=1) & (P.sum(axis=1) > 0 if not multi else True)
    rows = np.flatnonzero(scored)
    ref = train.reference()
    coders = [list(train.codings[i].values()) for i in idx[rows]]
    if multi:
        Y = np.array([[lab in ref[i] for lab in classes] for i in idx[rows]], dtype=int)
        model = oof.calibrate_codes(model, P[rows], Y)
        weights = None
    else:
        truth = [str(ref[i]) for i in idx[rows]]
        population = [str(r) for r in ref]
        model = oof.calibrate_stage(model, P[rows], truth, population)
        weights = oof.seed_weights(truth, population, classes)
    cert = None
    if target is not None:
        if multi:
            cert = oof.certify_codes(model, P[rows], [[tuple(c) for c in cs] for cs in coders],
                                     target, level)
        else:
            cert = oof.certify_stage(model, P[rows], [[c[0] for c in cs if c] for cs in coders],
                                     target, level, weights)
        model = oof.with_certificate(model, CODE_DIMENSION if multi else STAGE_DIMENSION, cert)
    return model, cert


def fit_predict(train: CodedUnits, idx: np.ndarray, test: CodedUnits, labels: Sequence[str],
                params: TrainParams | None = None,
                prototypes: Mapping[str, np.ndarray] | None = None
                ) -> tuple[list[Any], np.ndarray]:
    """Fit on ``train`` rows ``idx`` (:func:`fit_calibrated`); predict ``test``."""
    model, _ = fit_calibrated(train, idx, labels, params, prototypes)
    return predict_labels(model, test.batch())


