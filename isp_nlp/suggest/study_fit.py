"""Seeds and fits of an evaluation study: K seeds per label, the project's trainer, and
calibration and certification on out-of-fold predictions of those seeds through
:func:`isp_nlp.suggest.out_of_fold.fit_calibrate_certify`, as ``isp-nlp train`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.coded.units import NO_CODE, CodedUnits, EvaluationError
from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION
from isp_nlp.suggest import out_of_fold as oof
from isp_nlp.suggest.bundle import SUGGEST_CHUNK, SuggesterModel
from isp_nlp.suggest.certify import CONFIDENCE, Certificate
from isp_nlp.suggest.trainer import (
    SINGLE_LABEL,
    TrainParams,
    train_multi_label,
    train_single_label,
)

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
              prototypes: Mapping[str, np.ndarray] | None = None, *,
              dimension: str = SINGLE_LABEL) -> SuggesterModel:
    """The project's model fitted on ``train`` rows ``idx``: multi-label units train its
    codes, single-label units one dimension (id ``dimension``: the label column).
    ``prototypes`` (label -> codebook embeddings) are the zero-shot codes or the
    single-label prior."""

    ref = train.reference()
    batch = train.batch(idx)
    if train.multi_label:
        Y = np.array([[lab in ref[i] for lab in labels] for i in idx], dtype=int)
        return train_multi_label(batch, Y, labels, params=params, prototypes=prototypes)
    return train_single_label(batch, [ref[i] for i in idx], dimension=dimension,
                              params=params, prototypes=prototypes)


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
    if not model.dimensions:
        raise ModelError(f"suggester {model.model_id} has neither a code nor a dimension model")
    proba = model.predict_value_proba(batch)
    classes = model.value_classes()
    top, conf = oof.value_confidence(model, None, proba)
    return Prediction([str(c) for c in np.asarray(classes, dtype=object)[top]], conf, proba,
                      classes)


def predict_labels(model: SuggesterModel, batch: SegmentBatch) -> tuple[list[Any], np.ndarray]:
    """(predicted labels, confidence) per row (:func:`predict`)."""
    out = predict(model, batch)
    return out.labels, out.confidence


def out_of_fold_proba(train: CodedUnits, idx: np.ndarray, labels: Sequence[str],
                      classes: Sequence[str], params: TrainParams | None = None,
                      prototypes: Mapping[str, np.ndarray] | None = None,
                      folds: int = CALIBRATION_FOLDS) -> np.ndarray | None:
    """(len(idx), len(classes)) probabilities of each seed from a model fitted on the other
    seeds' documents (:func:`~isp_nlp.suggest.out_of_fold.out_of_fold`); single-label rows
    of an unfitted fold are all zero, multi-label ones NaN. None with fewer than two
    documents."""
    multi = train.multi_label
    pred = oof.out_of_fold(_fitter(train, idx, labels, params, prototypes, SINGLE_LABEL),
                           train.batch(idx), [train.documents[i] for i in idx], folds,
                           code_labels=classes if multi else (),
                           value_classes=None if multi else {SINGLE_LABEL: classes})
    P = pred.code_proba if multi else pred.value_proba.get(SINGLE_LABEL)
    if not pred.folds or P is None:
        return None
    return P if multi else np.where(np.isnan(P), 0.0, P)


def fit_calibrated(train: CodedUnits, idx: np.ndarray, labels: Sequence[str],
                   params: TrainParams | None = None,
                   prototypes: Mapping[str, np.ndarray] | None = None,
                   target: float | None = None, *, level: float = CONFIDENCE,
                   folds: int = CALIBRATION_FOLDS,
                   dimension: str = SINGLE_LABEL) -> tuple[SuggesterModel, Certificate | None]:
    """(model, certificate) of :func:`~isp_nlp.suggest.out_of_fold.fit_calibrate_certify`
    on seeds ``idx``, folds grouped by document, as ``isp-nlp train`` fits: multi-label
    units train and certify its codes, single-label ones a dimension with the id
    ``dimension`` (the label column). Confidences refer to the label mix of every unit
    of ``train`` (the pool the seeds were drawn from), and seeds are weighted to it when
    certifying; a certificate needs a ``target``."""
    multi = train.multi_label
    ref = train.reference()
    codings = [list(train.codings[i].values()) for i in idx]
    key = CODE_DIMENSION if multi else dimension
    labelled = oof.SeedLabels(
        code_sets=[ref[i] for i in idx] if multi else [None] * len(idx),
        values={} if multi else {dimension: [str(ref[i]) for i in idx]},
        coder_codes=codings if multi else [[] for _ in idx],
        coder_values={} if multi else {dimension: [[c[0] for c in cs if c] for cs in codings]})
    fit = oof.fit_calibrate_certify(
        _fitter(train, idx, labels, params, prototypes, dimension), train.batch(idx),
        [train.documents[i] for i in idx], labelled, folds=folds,
        targets=None if target is None else {key: target}, level=level,
        population=None if multi else {dimension: [str(r) for r in ref]})
    return fit.model, fit.certificates.get(key)


def _fitter(train: CodedUnits, idx: np.ndarray, labels: Sequence[str],
            params: TrainParams | None, prototypes: Mapping[str, np.ndarray] | None,
            dimension: str = SINGLE_LABEL) -> Callable[[np.ndarray], SuggesterModel]:
    """Rows of the seeds ``idx`` -> :func:`fit_model` on them."""
    return lambda rows: fit_model(train, idx[rows], labels, params, prototypes,
                                  dimension=dimension)


def fit_predict(train: CodedUnits, idx: np.ndarray, test: CodedUnits, labels: Sequence[str],
                params: TrainParams | None = None,
                prototypes: Mapping[str, np.ndarray] | None = None
                ) -> tuple[list[Any], np.ndarray]:
    """Fit on ``train`` rows ``idx`` (:func:`fit_calibrated`); predict ``test``."""
    model, _ = fit_calibrated(train, idx, labels, params, prototypes)
    return predict_labels(model, test.batch())


