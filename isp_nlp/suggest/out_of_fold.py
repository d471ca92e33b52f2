"""Calibrate a fitted suggester and certify its abstain threshold from out-of-fold
predictions on its own seed codes (never test data).

``isp-nlp train`` (:mod:`isp_nlp.suggest.project_fit`) and ``isp-nlp evaluate``
(:mod:`isp_nlp.suggest.evaluate`) both fit fold models on the seeds grouped by document,
predict the held-out seeds, and pass those predictions here:

1. calibration: a temperature on the final stage (single-label) probabilities, a Platt
   map per code (:mod:`isp_nlp.suggest.calibration`), fitted on the out-of-fold
   probabilities; and the label mix a stage's confidence refers to (the estimators train
   with balanced class weights, as if every stage were equally common; the confidence of
   the top stage is moved by Bayes' rule to the label mix of the coded segments);
2. certification (:mod:`isp_nlp.suggest.certify`): on the calibrated out-of-fold
   confidences, the threshold whose covered seeds agree with their coders at least the
   target share of the time, with 90 % confidence.

Confidence of a single-label suggestion: its probability under that label mix
(:func:`~isp_nlp.suggest.calibration.top_label_confidence`); of a segment's codes:
min over codes of max(p, 1 - p) (every code decision must be sure). Agreement: the
share of the segment's seed coders whose label (stage, or exact set of codes) the
suggestion matches.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace

import numpy as np

from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.calibration import (
    apply_platt,
    apply_temperature,
    balancing_weights,
    fit_proba_platt,
    fit_proba_temperature,
    label_mix,
    top_label_confidence,
)
from isp_nlp.suggest.certify import CONFIDENCE, Certificate, certify_threshold

#: Out-of-fold rows below which no calibration map is fitted.
MIN_CALIBRATION_ROWS = 20


def code_confidence(proba: np.ndarray) -> np.ndarray:
    """Per segment, min over codes of max(p, 1 - p)."""
    P = np.asarray(proba, dtype=np.float64)
    if P.shape[1] == 0:
        return np.ones(len(P))
    return np.maximum(P, 1 - P).min(axis=1)


def predicted_sets(model: SuggesterModel, proba: np.ndarray) -> list[tuple[str, ...]]:
    """The codes each row's probabilities reach at the model's code thresholds."""
    cut = model.code_thresholds
    return [tuple(lab for j, lab in enumerate(model.code_labels) if row[j] >= cut[j])
            for row in proba]


def _share(predicted: Sequence[Hashable], coders: Sequence[Sequence[Hashable]]) -> np.ndarray:
    return np.array([np.mean([p == c for c in cs]) if cs else np.nan
                     for p, cs in zip(predicted, coders, strict=True)])


def _balanced(model: SuggesterModel) -> bool:
    est = model.stage_estimator
    return est is not None and getattr(est, "class_weight", None) == "balanced"


def calibrate_stage(model: SuggesterModel, oof_proba: np.ndarray, truth: Sequence[str],
                    population: Sequence[str] | None = None) -> SuggesterModel:
    """``model`` with a temperature fitted on out-of-fold stage probabilities (columns =
    ``model.stage_classes``) against the reference stage of each row, and the label mix
    its confidences refer to: that of ``population`` (the coded segments the seeds were
    drawn from; None: the seeds themselves)."""
    classes = model.stage_classes
    rows = [i for i, t in enumerate(truth) if t in classes]
    if len(rows) < MIN_CALIBRATION_ROWS:
        return model
    y = np.array([classes.index(truth[i]) for i in rows])
    balanced = _balanced(model)
    weights = balancing_weights(y, len(classes)) if balanced else None
    seeds = [truth[i] for i in rows]
    trained = np.full(len(classes), 1 / len(classes)) if balanced else label_mix(seeds, classes)
    ratio = label_mix(population if population is not None else seeds, classes) / trained
    return replace(model,
                   stage_temperature=fit_proba_temperature(oof_proba[rows], y, weights),
                   stage_prior_weights=None if np.allclose(ratio, ratio[0]) else ratio)


def seed_weights(truth: Sequence[str], population: Sequence[str] | None,
                 classes: Sequence[str]) -> np.ndarray | None:
    """Per seed, population share / seed share of its label (certification weights that
    make the seeds stand for ``population``); None when there is no population or the
    mixes agree."""
    if population is None:
        return None
    rows = [t for t in truth if t in classes]
    if len(rows) != len(truth):
        return None
    ratio = label_mix(population, classes) / label_mix(truth, classes)
    if np.allclose(ratio, ratio[0]):
        return None
    return ratio[[list(classes).index(t) for t in truth]]


def stage_confidence(model: SuggesterModel, proba: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(column of the top stage, its confidence) for calibrated stage probabilities."""
    return top_label_confidence(proba, model.stage_prior_weights)


def oof_stage_confidence(model: SuggesterModel, oof_proba: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stage_confidence` of uncalibrated out-of-fold probabilities, through the
    model's temperature (what ``suggest`` would say of those seeds)."""
    return stage_confidence(model, apply_temperature(oof_proba, model.stage_temperature))


def calibrate_codes(model: SuggesterModel, oof_proba: np.ndarray,
                    Y: np.ndarray) -> SuggesterModel:
    """``model`` with per-code Platt maps fitted on out-of-fold code probabilities."""
    if len(Y) < MIN_CALIBRATION_ROWS:
        return model
    maps = fit_proba_platt(oof_proba, Y)
    if np.array_equal(maps, np.tile([1.0, 0.0], (len(maps), 1))):
        return model
    return replace(model, code_platt=maps)


def certify_stage(model: SuggesterModel, oof_proba: np.ndarray,
                  coders: Sequence[Sequence[str]], target: float,
                  level: float = CONFIDENCE,
                  weights: np.ndarray | None = None) -> Certificate:
    """Certificate of the stage suggestions: ``oof_proba`` uncalibrated out-of-fold
    probabilities, ``coders[i]`` the seed coders' stages of row i, ``weights`` per row
    (:func:`seed_weights`)."""
    top, conf = oof_stage_confidence(model, oof_proba)
    labels = np.asarray(model.stage_classes, dtype=object)[top]
    return certify_threshold(conf, _share(list(labels), coders), target, level=level,
                             weights=weights)


def certify_codes(model: SuggesterModel, oof_proba: np.ndarray,
                  coders: Sequence[Sequence[tuple[str, ...]]], target: float,
                  level: float = CONFIDENCE) -> Certificate:
    """Certificate of the code suggestions (exact sets of codes per segment)."""
    proba = oof_proba if model.code_platt is None else apply_platt(oof_proba, model.code_platt)
    sets = predicted_sets(model, proba)
    wanted = [[tuple(sorted(c)) for c in cs] for cs in coders]
    return certify_threshold(code_confidence(proba), _share(sets, wanted), target, level=level)


def with_certificate(model: SuggesterModel, dimension: str,
                     certificate: Certificate) -> SuggesterModel:
    """``model`` carrying ``certificate``; a certified stage threshold becomes the stage
    abstain threshold (suggest abstains below it)."""
    if dimension not in (CODE_DIMENSION, STAGE_DIMENSION):
        raise ValueError(f"dimension is {dimension!r}; expected 'code' or 'stage'")
    certified = {**model.certified, dimension: certificate.to_dict()}
    out = replace(model, certified=certified)
    if dimension == STAGE_DIMENSION and certificate.threshold is not None:
        out = out.with_thresholds(stage=certificate.threshold)
    manifest = {**model.manifest, "certified": certified}
    return replace(out, manifest={**manifest, "model_id": out.content_hash()})
