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

from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION, Suggestion
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.calibration import choose_code_threshold, choose_stage_threshold
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


def fit_project(data: TrainingData, folds: int = 5) -> ProjectFit:
    """Fit on everything, cross-validate, and set the code threshold from the folds."""
    ts = data.labels
    model = fit_rows(data, np.arange(len(ts.segments)))
    cv, by_fold, floors = cross_validate(data, folds)
    default, stage_default = model.code_threshold, model.stage_threshold
    pooled = [s for fold in by_fold for s in fold]
    threshold = _code_threshold(ts, pooled, data.code_labels)
    stage = _stage_threshold(ts, pooled)
    manifest = dict(model.manifest)
    if threshold is not None:
        model = model.with_thresholds(code=threshold)
        manifest.update(code_threshold=threshold, code_threshold_from="out-of-fold kappa")
    if stage is not None:
        model = model.with_thresholds(stage=stage)
        manifest.update(stage_threshold=stage,
                        stage_threshold_from="out-of-fold share of stages matching the coders")
    if threshold is not None or stage is not None:
        model = replace(model, manifest={**manifest, "model_id": model.content_hash()})
    oof = flag_out_of_fold(ts, by_fold, data.code_labels, model.manifest["model_id"] + CV_SUFFIX,
                           default, choose=threshold is not None, floors=floors,
                           stage_default=stage_default, choose_stage=stage is not None)
    return ProjectFit(model, cv, oof, threshold is not None, stage is not None)


def cross_validate(data: TrainingData, folds: int
                   ) -> tuple[int, list[list[Suggestion]], list[dict[str, float]]]:
    """(folds used, each fold's out-of-fold suggestions for its coded segments, each fold
    model's zero-shot floors by code); folds are grouped by document."""
    ts = data.labels
    documents = np.array([s.document for s in ts.segments])
    n_folds = min(folds, len(set(documents)))
    if n_folds < 2:
        return 0, [], []
    out: list[list[Suggestion]] = []
    floors: list[dict[str, float]] = []
    rows = np.arange(len(ts.segments))
    for train_idx, test_idx in GroupKFold(n_splits=n_folds).split(rows, groups=documents):
        try:
            fold_model = fit_rows(data, train_idx)
        except ModelError:
            continue
        ids = [ts.segments[i].id for i in test_idx]
        out.append(fold_model.suggest(data.batch.subset(test_idx), ids, top_evidence=0))
        cut = fold_model.with_thresholds(code=0.0).code_thresholds
        floors.append({c: float(t) for c, t in zip(fold_model.code_labels, cut, strict=True)
                       if t > 0})
    return n_folds, out, floors


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
