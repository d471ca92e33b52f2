"""Fit the project's suggester on its :class:`TrainingData`: pure, no store.

One model on every human-coded segment, plus out-of-fold predictions (grouped by
document, so a transcript is never scored by a model trained on it) that choose the
code threshold and that ``agreement`` compares with the human coders. Every fit goes
through :func:`isp_nlp.suggest.trainer.train_suggester`, as ``isp-nlp evaluate`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import GroupKFold

from isp_nlp.agreement import coverage
from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION, Suggestion
from isp_nlp.suggest import out_of_fold as oof
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.calibration import choose_code_threshold, choose_stage_threshold
from isp_nlp.suggest.certify import CONFIDENCE, Certificate, check_target
from isp_nlp.suggest.trainer import TrainParams, train_suggester
from isp_nlp.suggest.training_data import TrainingData, TrainingSet

#: Stage threshold when the out-of-fold predictions cannot choose one (too few, or none
#: reaches the target of :func:`choose_stage_threshold`): four stages share the
#: probability mass, so 0.5 abstains on most segments (evaluation/results/tuning.md).
DEFAULT_STAGE_THRESHOLD = 0.4
CV_SUFFIX = "/cv"


@dataclass(frozen=True)
class ProjectFit:
    """The model to ship, the folds used and the out-of-fold suggestions to store."""

    model: SuggesterModel
    cv_folds: int
    out_of_fold: list[Suggestion]
    code_threshold_from_cv: bool
    stage_threshold_from_cv: bool
    #: Certificates by dimension (:mod:`isp_nlp.suggest.certify`); absent: no target.
    certificates: dict[str, Certificate] | None = None
    #: The targets used by dimension and where they came from.
    targets: dict[str, tuple[float, str]] | None = None


def project_params() -> TrainParams:
    """The hyper-parameters ``isp-nlp train`` fits with."""
    return TrainParams(stage_threshold=DEFAULT_STAGE_THRESHOLD)


def fit_rows(data: TrainingData, idx: np.ndarray,
             params: TrainParams | None = None) -> SuggesterModel:
    """The suggester fitted on rows ``idx`` of ``data``."""
    ts, part = data.labels, data.batch.subset(idx)
    return train_suggester(
        part.embeddings, list(part.segment_ids), list(part.texts),
        [ts.code_sets[i] for i in idx], [ts.stages[i] for i in idx],
        code_labels=data.code_labels, stage_labels=data.stage_labels,
        embedder_id=data.embedder_id, params=params or project_params(),
        context_texts=part.context_texts, context_embeddings=part.context_embeddings,
        history=part.history,
        prototype_embeddings=data.code_prototypes or None,
        stage_prototype_embeddings=data.stage_prototypes or None,
    )


def fit_project(data: TrainingData, folds: int = 5, *, target_agreement: float | None = None,
                level: float = CONFIDENCE) -> ProjectFit:
    """Fit on everything, cross-validate (grouped by document), set the code threshold from
    the folds, calibrate on the out-of-fold probabilities and, for each dimension with a
    target (``target_agreement``, else the seed coders' own percent agreement where
    segments are double-coded), certify the abstain threshold."""
    ts = data.labels
    if target_agreement is not None:
        check_target(target_agreement, level)
    model = fit_rows(data, np.arange(len(ts.segments)))
    cv, by_fold, floors, P_code, P_stage = cross_validate(data, folds, model)
    default, stage_default = model.code_threshold, model.stage_threshold
    pooled = [s for fold in by_fold for s in fold]
    threshold = _code_threshold(ts, pooled, data.code_labels)
    fold_stage = _stage_threshold(ts, pooled)
    manifest = dict(model.manifest)
    if threshold is not None:
        model = model.with_thresholds(code=threshold)
        manifest.update(code_threshold=threshold, code_threshold_from="out-of-fold kappa")
    model = replace(model, manifest=manifest)
    model, certs, targets, stage = _calibrate_and_certify(model, ts, P_code, P_stage,
                                                          target_agreement, level)
    if certs.get(STAGE_DIMENSION) is not None and certs[STAGE_DIMENSION].certified:
        manifest = {**model.manifest, "stage_threshold": model.stage_threshold,
                    "stage_threshold_from": "certified (see certified.stage)"}
        model = replace(model, manifest=manifest)
    elif stage is not None:
        model = model.with_thresholds(stage=stage)
        model = replace(model, manifest={
            **model.manifest, "stage_threshold": stage,
            "stage_threshold_from": "out-of-fold share of stages matching the coders"})
    model = replace(model, manifest={**model.manifest, "model_id": model.content_hash()})
    oof_rows = flag_out_of_fold(ts, by_fold, data.code_labels,
                                model.manifest["model_id"] + CV_SUFFIX, default,
                                choose=threshold is not None, floors=floors,
                                stage_default=stage_default,
                                choose_stage=fold_stage is not None)
    return ProjectFit(model, cv, oof_rows, threshold is not None, stage is not None,
                      certs or None, targets or None)


def seed_agreement(ts: TrainingSet, dimension: str) -> float | None:
    """Mean pairwise percent agreement of the seed coders on segments two or more of them
    coded (codes: exact sets), None when no segment is double-coded."""
    per = ts.coder_codes if dimension == CODE_DIMENSION else ts.coder_stages
    return coverage.double_coded_agreement(per)


def _calibrate_and_certify(model: SuggesterModel, ts: TrainingSet, P_code: np.ndarray | None,
                           P_stage: np.ndarray | None, target: float | None, level: float
                           ) -> tuple[SuggesterModel, dict[str, Certificate],
                                      dict[str, tuple[float, str]], float | None]:
    """(calibrated and certified model, certificates, targets, the uncertified stage
    threshold chosen on the calibrated out-of-fold confidences)."""
    certs: dict[str, Certificate] = {}
    targets: dict[str, tuple[float, str]] = {}
    stage: float | None = None
    if P_stage is not None:
        rows = [i for i, st in enumerate(ts.stages) if st is not None
                and not np.isnan(P_stage[i]).any()]
        truth = [str(ts.stages[i]) for i in rows]
        model = oof.calibrate_stage(model, P_stage[rows], truth)
        if rows:
            top, conf = oof.oof_stage_confidence(model, P_stage[rows])
            hits = np.asarray(model.stage_classes, dtype=object)[top] == np.asarray(truth)
            stage = choose_stage_threshold(conf, hits)
        goal = _target(ts, STAGE_DIMENSION, target)
        if goal is not None and rows:
            targets[STAGE_DIMENSION] = goal
            coders: list[list[str]] = [list(ts.coder_stages[i].values()) if ts.coder_stages
                                       else [str(ts.stages[i])] for i in rows]
            certs[STAGE_DIMENSION] = oof.certify_stage(model, P_stage[rows], coders, goal[0],
                                                       level)
            model = oof.with_certificate(model, STAGE_DIMENSION, certs[STAGE_DIMENSION])
    if P_code is not None:
        rows = [i for i, cs in enumerate(ts.code_sets) if cs is not None
                and not np.isnan(P_code[i]).any()]
        Y = np.array([[c in (ts.code_sets[i] or ()) for c in model.code_labels] for i in rows],
                     dtype=int).reshape(len(rows), len(model.code_labels))
        model = oof.calibrate_codes(model, P_code[rows], Y)
        goal = _target(ts, CODE_DIMENSION, target)
        if goal is not None and rows:
            targets[CODE_DIMENSION] = goal
            sets: list[list[tuple[str, ...]]] = [
                [tuple(sorted(v)) for v in ts.coder_codes[i].values()] if ts.coder_codes
                else [tuple(sorted(ts.code_sets[i] or ()))] for i in rows]
            certs[CODE_DIMENSION] = oof.certify_codes(model, P_code[rows], sets, goal[0], level)
            model = oof.with_certificate(model, CODE_DIMENSION, certs[CODE_DIMENSION])
    return model, certs, targets, stage


def _target(ts: TrainingSet, dimension: str, given: float | None) -> tuple[float, str] | None:
    if given is not None:
        return given, "--target-agreement"
    seed = seed_agreement(ts, dimension)
    return None if seed is None else (seed, "the seed coders' mean pairwise percent agreement")


def cross_validate(data: TrainingData, folds: int, model: SuggesterModel
                   ) -> tuple[int, list[list[Suggestion]], list[dict[str, float]],
                              np.ndarray | None, np.ndarray | None]:
    """(folds used, each fold's out-of-fold suggestions for its coded segments, each fold
    model's zero-shot floors by code, out-of-fold code and stage probabilities by row in
    ``model``'s columns, NaN where unscored); folds are grouped by document."""
    ts = data.labels
    documents = np.array([s.document for s in ts.segments])
    n_folds = min(folds, len(set(documents)))
    n = len(ts.segments)
    P_code = None if model.code_estimator is None else np.full((n, len(model.code_labels)),
                                                                np.nan)
    P_stage = None if model.stage_estimator is None else np.full(
        (n, len(model.stage_classes)), np.nan)
    if n_folds < 2:
        return 0, [], [], P_code, P_stage
    out: list[list[Suggestion]] = []
    floors: list[dict[str, float]] = []
    rows = np.arange(len(ts.segments))
    for train_idx, test_idx in GroupKFold(n_splits=n_folds).split(rows, groups=documents):
        try:
            fold_model = fit_rows(data, train_idx)
        except ModelError:
            continue
        ids = [ts.segments[i].id for i in test_idx]
        part = data.batch.subset(test_idx)
        out.append(fold_model.suggest(part, ids, top_evidence=0))
        cut = fold_model.with_thresholds(code=0.0).code_thresholds
        floors.append({c: float(t) for c, t in zip(fold_model.code_labels, cut, strict=True)
                       if t > 0})
        if P_code is not None and (cp := fold_model.predict_code_proba(part)) is not None:
            P_code[test_idx] = cp
        if P_stage is not None and (sp := fold_model.predict_stage_proba(part)) is not None:
            cols = [model.stage_classes.index(c) for c in fold_model.stage_classes]
            block = np.zeros((len(test_idx), len(model.stage_classes)))
            block[:, cols] = sp
            P_stage[test_idx] = block
    return n_folds, out, floors, P_code, P_stage


def flag_out_of_fold(ts: TrainingSet, by_fold: Sequence[Sequence[Suggestion]],
                     code_labels: Sequence[str], model_id: str, default: float, *,
                     choose: bool,
                     floors: Sequence[Mapping[str, float]] | None = None,
                     stage_default: float | None = None,
                     choose_stage: bool = False) -> list[Suggestion]:
    """The out-of-fold suggestions as stored for ``agreement``: each fold's codes are
    suggested at the threshold chosen on the *other* folds (``default`` when not
    ``choose`` or too little data), so agreement never scores a choice made on the
    segments it scores. ``floors[f]`` holds fold ``f``'s zero-shot floors by code (a
    code with no positive in that fold's training documents), which a code also needs.
    Stages likewise with ``choose_stage`` (``stage_default`` when the other folds cannot
    choose); without it a stage keeps its fold model's flag."""
    out: list[Suggestion] = []
    for f, fold in enumerate(by_fold):
        others = [s for g, other in enumerate(by_fold) if g != f for s in other]
        t = _code_threshold(ts, others, code_labels) if choose else None
        t = default if t is None else t
        st = _stage_threshold(ts, others) if choose_stage else None
        st = stage_default if st is None else st
        floor = floors[f] if floors else {}
        out += [Suggestion(segment_id=s.segment_id, model_id=model_id, dimension=s.dimension,
                           label=s.label, probability=s.probability,
                           suggested=(s.probability >= max(t, floor.get(s.label, 0.0))
                                      if s.dimension == CODE_DIMENSION
                                      else s.suggested if st is None or not choose_stage
                                      else s.probability >= st))
                for s in fold]
    return out


def _stage_threshold(ts: TrainingSet, oof: Sequence[Suggestion]) -> float | None:
    """The stage threshold chosen on the out-of-fold stage suggestions
    (:func:`~isp_nlp.suggest.calibration.choose_stage_threshold`)."""
    truth = {s.id: st for s, st in zip(ts.segments, ts.stages, strict=True) if st is not None}
    rows = [s for s in oof if s.dimension == STAGE_DIMENSION and s.segment_id in truth]
    if not rows:
        return None
    return choose_stage_threshold(np.array([s.probability for s in rows]),
                                  np.array([s.label == truth[s.segment_id] for s in rows]))


def _code_threshold(ts: TrainingSet, oof: Sequence[Suggestion],
                    code_labels: Sequence[str]) -> float | None:
    """The code threshold that best matches the coders on the out-of-fold suggestions."""

    row = {s.id: i for i, s in enumerate(ts.segments) if ts.code_sets[i] is not None}
    col = {c: j for j, c in enumerate(code_labels)}
    P = np.full((len(ts.segments), len(code_labels)), np.nan)
    for s in oof:
        if s.dimension == CODE_DIMENSION and s.segment_id in row and s.label in col:
            P[row[s.segment_id], col[s.label]] = s.probability
    keep = ~np.isnan(P).any(axis=1)
    if not keep.any():
        return None
    Y = np.array([[c in (ts.code_sets[i] or ()) for c in code_labels]
                  for i in range(len(ts.segments))], dtype=int)
    return choose_code_threshold(P[keep], Y[keep])
