"""Fit out of fold, calibrate and certify: the one path from seed codes to a shipped model.

``isp-nlp train`` (:mod:`isp_nlp.suggest.project_fit`) and ``isp-nlp evaluate`` and the
AnnoMI study (:mod:`isp_nlp.suggest.study_fit`) both call :func:`fit_calibrate_certify`
with their own seeds: it fits the model on every seed, fits fold models on the seeds
grouped by document, predicts the held-out seeds (never test data), and on those
out-of-fold predictions

1. chooses the code threshold (:func:`~isp_nlp.suggest.calibration.choose_code_threshold`);
2. calibrates: a temperature on the final stage (single-label) probabilities, a Platt
   map per code (:mod:`isp_nlp.suggest.calibration`); and the label mix a stage's
   confidence refers to (the estimators train with balanced class weights, as if every
   stage were equally common; the confidence of the top stage is moved by Bayes' rule to
   the label mix of the coded segments, or of a ``population`` the seeds were drawn from);
3. certifies (:mod:`isp_nlp.suggest.certify`), for each dimension given a target: on the
   calibrated out-of-fold confidences, the threshold whose covered seeds agree with their
   coders at least the target share of the time, with 90 % confidence (seeds weighted to
   the ``population``'s label mix when it differs from theirs);
4. without a certified stage threshold, sets the stage threshold at which the calibrated
   out-of-fold stages match the coders often enough
   (:func:`~isp_nlp.suggest.calibration.choose_stage_threshold`).

Confidence of a single-label suggestion: its probability under that label mix
(:func:`~isp_nlp.suggest.calibration.top_label_confidence`); of a segment's codes:
min over codes of max(p, 1 - p) (every code decision must be sure). Agreement: the
share of the segment's seed coders whose label (stage, or exact set of codes) the
suggestion matches.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION
from isp_nlp.suggest.bundle import SUGGEST_CHUNK, SuggesterModel
from isp_nlp.suggest.calibration import (
    apply_platt,
    apply_temperature,
    balancing_weights,
    choose_code_threshold,
    choose_stage_threshold,
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
    sets = [tuple(sorted(s)) for s in predicted_sets(model, proba)]  # codebook order aside
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


# --------------------------------------------------------------------------- the one path


@dataclass(frozen=True)
class SeedLabels:
    """The human labels of the rows being fitted, row-aligned with them.

    ``code_sets[i]``: row i's reference codes (None: not coded for codes); ``stages[i]``
    its reference stage (None: no stage); ``coder_codes[i]`` / ``coder_stages[i]``: each
    seed coder's codes / stage of row i, which certification counts agreement with.
    """

    code_sets: Sequence[Collection[str] | None]
    stages: Sequence[str | None]
    coder_codes: Sequence[Sequence[Collection[str]]]
    coder_stages: Sequence[Sequence[str]]


@dataclass(frozen=True)
class OutOfFold:
    """Predictions of each row by a model fitted without its document's rows.

    ``code_proba`` / ``stage_proba``: uncalibrated probabilities (columns: the code labels
    / stage classes asked for; a stage its fold model lacks is 0), NaN in rows whose fold
    model could not be fitted or has no such part; None when not asked for. ``fold_rows``
    and ``floors`` list each fitted fold's held-out rows and its model's zero-shot floors
    by code (a code with no positive in that fold's training rows).
    """

    folds: int
    fold_rows: list[np.ndarray]
    floors: list[dict[str, float]]
    code_proba: np.ndarray | None
    stage_proba: np.ndarray | None


def out_of_fold(fit: Callable[[np.ndarray], SuggesterModel], batch: SegmentBatch,
                groups: Sequence[str], folds: int, *, code_labels: Sequence[str] = (),
                stage_classes: Sequence[str] = ()) -> OutOfFold:
    """:class:`OutOfFold` of ``batch``'s rows: ``fit(rows)`` fits a model on those rows,
    folds are ``min(folds, documents)`` grouped by ``groups`` (none below two); a fold
    whose model cannot be fitted (:class:`ModelError`) leaves its rows unscored."""
    n = len(batch)
    P_code = np.full((n, len(code_labels)), np.nan) if code_labels else None
    P_stage = np.full((n, len(stage_classes)), np.nan) if stage_classes else None
    docs = np.asarray(list(groups), dtype=object)
    n_folds = min(folds, len(set(docs.tolist())))
    if n_folds < 2:
        return OutOfFold(0, [], [], P_code, P_stage)
    fold_rows: list[np.ndarray] = []
    floors: list[dict[str, float]] = []
    for train_idx, test_idx in GroupKFold(n_splits=n_folds).split(np.arange(n), groups=docs):
        try:
            model = fit(train_idx)
        except ModelError:
            continue
        fold_rows.append(test_idx)
        cut = model.with_thresholds(code=0.0).code_thresholds
        floors.append({c: float(t) for c, t in zip(model.code_labels, cut, strict=True)
                       if t > 0})
        code_p, stage_p = _predict_proba(model, batch.subset(test_idx))
        for P, got, have, columns, fill in (
                (P_code, code_p, model.code_labels, list(code_labels), np.nan),
                (P_stage, stage_p, model.stage_classes, list(stage_classes), 0.0)):
            if P is None or got is None:
                continue
            block = np.full((len(test_idx), len(columns)), fill)
            kept = [j for j, c in enumerate(have) if c in columns]
            block[:, [columns.index(have[j]) for j in kept]] = got[:, kept]
            P[test_idx] = block
    return OutOfFold(n_folds, fold_rows, floors, P_code, P_stage)


def _predict_proba(model: SuggesterModel, batch: SegmentBatch
                   ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(code, stage) probabilities, :data:`SUGGEST_CHUNK` rows at a time."""
    parts = [batch.subset(np.arange(i, min(i + SUGGEST_CHUNK, len(batch))))
             for i in range(0, len(batch), SUGGEST_CHUNK)]
    code = [model.predict_code_proba(part) for part in parts]
    stage = [model.predict_stage_proba(part) for part in parts]

    def join(blocks: list[np.ndarray | None]) -> np.ndarray | None:
        got = [b for b in blocks if b is not None]
        return np.vstack(got) if got and len(got) == len(blocks) else None

    return join(code), join(stage)


@dataclass(frozen=True)
class CalibratedFit:
    """What :func:`fit_calibrate_certify` returns: the model to ship (code threshold,
    calibration maps, certificates and stage threshold set), the out-of-fold predictions
    they were chosen on, the certificates by dimension, and which thresholds the
    out-of-fold predictions chose."""

    model: SuggesterModel
    out_of_fold: OutOfFold
    certificates: dict[str, Certificate]
    code_threshold_chosen: bool
    stage_threshold_chosen: bool

    @property
    def calibration(self) -> dict[str, Any]:
        """The calibration maps: stage temperature and label-mix weights, code Platt maps."""
        return {"stage_temperature": self.model.stage_temperature,
                "stage_prior_weights": self.model.stage_prior_weights,
                "code_platt": self.model.code_platt}


def fit_calibrate_certify(fit: Callable[[np.ndarray], SuggesterModel], batch: SegmentBatch,
                          groups: Sequence[str], labels: SeedLabels, *, folds: int,
                          targets: Mapping[str, float] | None = None,
                          level: float = CONFIDENCE,
                          population: Sequence[str] | None = None) -> CalibratedFit:
    """Fit on every row of ``batch`` (``fit(rows)``), predict each row out of fold
    (:func:`out_of_fold`, folds grouped by ``groups``), and on those predictions choose
    the code threshold, calibrate, certify each dimension of ``targets`` ("code" /
    "stage" -> target agreement) at ``level``, and set the stage threshold (steps 1-4 of
    this module). ``population``: the stage labels of the segments the seeds were drawn
    from (their label mix; seeds are weighted to it when certifying); None: the seeds'."""
    model = fit(np.arange(len(batch)))
    pred = out_of_fold(fit, batch, groups, folds, code_labels=model.code_labels,
                       stage_classes=model.stage_classes)
    targets = targets or {}
    certs: dict[str, Certificate] = {}
    code_rows = _scored(pred.code_proba, [c is not None for c in labels.code_sets])
    Y = np.array([[c in (labels.code_sets[i] or ()) for c in model.code_labels]
                  for i in code_rows], dtype=int).reshape(len(code_rows), len(model.code_labels))
    threshold = None
    if pred.code_proba is not None and code_rows:
        threshold = choose_code_threshold(pred.code_proba[code_rows], Y)
    if threshold is not None:
        model = replace(model.with_thresholds(code=threshold), manifest={
            **model.manifest, "code_threshold": threshold,
            "code_threshold_from": "out-of-fold kappa"})
    stage: float | None = None
    if pred.stage_proba is not None:
        rows = _scored(pred.stage_proba, [s is not None for s in labels.stages])
        P, truth = pred.stage_proba[rows], [str(labels.stages[i]) for i in rows]
        model = calibrate_stage(model, P, truth, population)
        if rows:
            top, conf = oof_stage_confidence(model, P)
            hits = np.asarray(model.stage_classes, dtype=object)[top] == np.asarray(truth)
            stage = choose_stage_threshold(conf, hits)
        if STAGE_DIMENSION in targets and rows:
            certs[STAGE_DIMENSION] = certify_stage(
                model, P, [list(labels.coder_stages[i]) for i in rows],
                targets[STAGE_DIMENSION], level,
                seed_weights(truth, population, model.stage_classes))
            model = with_certificate(model, STAGE_DIMENSION, certs[STAGE_DIMENSION])
    if pred.code_proba is not None:
        P = pred.code_proba[code_rows]
        model = calibrate_codes(model, P, Y)
        if CODE_DIMENSION in targets and code_rows:
            certs[CODE_DIMENSION] = certify_codes(
                model, P, [[tuple(sorted(c)) for c in labels.coder_codes[i]] for i in code_rows],
                targets[CODE_DIMENSION], level)
            model = with_certificate(model, CODE_DIMENSION, certs[CODE_DIMENSION])
    if STAGE_DIMENSION in certs and certs[STAGE_DIMENSION].certified:
        model = replace(model, manifest={
            **model.manifest, "stage_threshold": model.stage_threshold,
            "stage_threshold_from": "certified (see certified.stage)"})
    elif stage is not None:
        model = replace(model.with_thresholds(stage=stage), manifest={
            **model.manifest, "stage_threshold": stage,
            "stage_threshold_from": "out-of-fold share of stages matching the coders"})
    model = replace(model, manifest={**model.manifest, "model_id": model.content_hash()})
    return CalibratedFit(model, pred, certs, threshold is not None, stage is not None)


def _scored(P: np.ndarray | None, labelled: Sequence[bool]) -> list[int]:
    """Rows with a label and an out-of-fold prediction."""
    if P is None:
        return []
    return [i for i, ok in enumerate(labelled) if ok and not np.isnan(P[i]).any()]
