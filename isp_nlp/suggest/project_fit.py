"""Fit the project's suggester on its :class:`TrainingData`: pure, no store.

One model on every coded segment (independent codes, codes accepted or relabelled in
review, and rejected suggestions as negatives), fitted, calibrated and certified by
:func:`isp_nlp.suggest.out_of_fold.fit_calibrate_certify` as ``isp-nlp evaluate`` does
(through :func:`isp_nlp.suggest.trainer.train_suggester`) on the independent codes'
out-of-fold predictions alone; those predictions (grouped by document, so a transcript
is never scored by a model trained on it) are stored for ``agreement`` to compare with
the human coders.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from isp_nlp.agreement import coverage
from isp_nlp.agreement.coefficients import coefficient
from isp_nlp.agreement.ratings import Ratings
from isp_nlp.records import CODE_DIMENSION, Suggestion
from isp_nlp.store.registry import CV_SUFFIX
from isp_nlp.suggest import out_of_fold as oof
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.calibration import choose_code_threshold, choose_value_threshold
from isp_nlp.suggest.certify import CONFIDENCE, Certificate, check_target
from isp_nlp.suggest.exclusive import exclusive_suggestions
from isp_nlp.suggest.trainer import TrainParams, train_suggester
from isp_nlp.suggest.training_data import TrainingData, TrainingSet

#: A dimension's threshold when the out-of-fold predictions cannot choose one (too few,
#: or none reaches the target of :func:`choose_value_threshold`): with four values (the
#: default stage dimension) sharing the probability mass, 0.5 abstains on most segments
#: (evaluation/results/tuning.md).
DEFAULT_VALUE_THRESHOLD = 0.4


@dataclass(frozen=True)
class ProjectFit:
    """The model to ship, the folds used and the out-of-fold suggestions to store."""

    model: SuggesterModel
    cv_folds: int
    out_of_fold: list[Suggestion]
    code_threshold_from_cv: bool
    #: By dimension id: whether its threshold was chosen on the out-of-fold predictions.
    thresholds_from_cv: dict[str, bool]
    #: Certificates by dimension (:mod:`isp_nlp.suggest.certify`); absent: no target.
    certificates: dict[str, Certificate] | None = None
    #: The targets used by dimension and where they came from.
    targets: dict[str, tuple[float, str]] | None = None
    #: By dimension id: the out-of-fold top values' mean Cohen's kappa with each seed
    #: coder and the segments it rests on (:func:`model_human_kappa`).
    model_human: dict[str, dict[str, float | int | None]] | None = None


def project_params() -> TrainParams:
    """The hyper-parameters ``isp-nlp train`` fits with."""
    return TrainParams(value_threshold=DEFAULT_VALUE_THRESHOLD)


def fit_rows(data: TrainingData, idx: np.ndarray,
             params: TrainParams | None = None) -> SuggesterModel:
    """The suggester fitted on rows ``idx`` of ``data`` (suggesting at most one code of
    each of its exclusive groups)."""
    ts, part = data.labels, data.batch.subset(idx)
    model = train_suggester(
        part.embeddings, list(part.segment_ids), list(part.texts),
        [ts.code_sets[i] for i in idx],
        {d: [column[i] for i in idx] for d, column in ts.values.items()
         if d in data.value_labels},
        code_labels=data.code_labels, value_labels=data.value_labels,
        embedder_id=data.embedder_id, params=params or project_params(),
        context_texts=part.context_texts, context_embeddings=part.context_embeddings,
        history=part.history,
        code_known=[ts.known_codes(int(i)) for i in idx],
        prototype_embeddings=data.code_prototypes or None,
        value_prototype_embeddings={d: protos for d, protos in data.value_prototypes.items()
                                    if protos} or None,
    )
    return model.with_exclusive(data.exclusive_groups)


def fit_project(data: TrainingData, folds: int = 5, *, target_agreement: float | None = None,
                level: float = CONFIDENCE) -> ProjectFit:
    """Fit on every row of ``data`` (independent, assisted and rejected), calibrate and
    certify on the independent rows' out-of-fold predictions
    (:func:`~isp_nlp.suggest.out_of_fold.fit_calibrate_certify`, folds grouped by
    document), certifying each dimension with a target (``target_agreement``, else the
    seed coders' own percent agreement where segments are double-coded); plus the
    out-of-fold suggestions to store, flagged at thresholds chosen on the other folds."""
    ts = data.labels
    if target_agreement is not None:
        check_target(target_agreement, level)
    goals = {dim: goal for dim in (*data.value_labels, CODE_DIMENSION)
             if (goal := _target(ts, dim, target_agreement)) is not None}
    params = project_params()
    fit = oof.fit_calibrate_certify(
        lambda rows: fit_rows(data, rows, params), data.batch,
        [s.document for s in ts.segments], seed_labels(ts), folds=folds,
        targets={dim: goal[0] for dim, goal in goals.items()}, level=level,
        evaluated=[ts.is_independent(i) for i in range(len(ts.segments))])
    model, pred = fit.model, fit.out_of_fold
    by_fold = [_fold_suggestions(ts, rows, pred, model, params, targets)
               for rows, targets in zip(pred.fold_rows, pred.fold_targets, strict=True)]
    pooled = [s for fold in by_fold for s in fold]
    choose = [d for d in pred.value_proba if _value_threshold(ts, pooled, d) is not None]
    oof_rows = flag_out_of_fold(ts, by_fold, data.code_labels,
                                model.manifest["model_id"] + CV_SUFFIX, params.code_threshold,
                                choose=fit.code_threshold_chosen, floors=pred.floors,
                                value_default=params.value_threshold, choose_values=choose,
                                exclusive_groups=data.exclusive_groups)
    targets = {dim: goals[dim] for dim in fit.certificates}
    return ProjectFit(model, pred.folds, oof_rows, fit.code_threshold_chosen,
                      fit.thresholds_chosen, fit.certificates or None, targets or None,
                      {dim: model_human_kappa(model.dimensions[dim].classes, P,
                                              ts.coder_values.get(dim) or [])
                       for dim, P in pred.value_proba.items() if dim in model.dimensions})


def model_human_kappa(classes: Sequence[str], proba: np.ndarray,
                      coders: Sequence[Mapping[str, str]]) -> dict[str, float | int | None]:
    """Mean over seed coders of Cohen's kappa between the out-of-fold top value (every
    scored row, before any abstaining) and the coder's value, each on the rows the coder
    coded: the statistic ``evaluate`` reports as model–human (mean coder) kappa."""
    scored = [i for i in range(len(coders)) if coders[i] and not np.isnan(proba[i]).any()]
    top = {i: classes[int(proba[i].argmax())] for i in scored}
    names = sorted({c for i in scored for c in coders[i]})
    kappas = []
    for name in names:
        rows = [i for i in scored if name in coders[i]]
        pairs = [(coders[i][name], top[i]) for i in rows]
        categories = tuple(sorted({v for pair in pairs for v in pair}))
        code = {v: j for j, v in enumerate(categories)}
        data = np.array([[code[a], code[b]] for a, b in pairs], dtype=np.int64)
        kappas.append(coefficient(Ratings(data, categories, (name, "model")), "kappa")[0])
    finite = [k for k in kappas if k is not None and not np.isnan(k)]
    return {"mean_kappa": float(np.mean(finite)) if finite else None,
            "segments": len(scored), "coders": len(names)}


def seed_labels(ts: TrainingSet) -> oof.SeedLabels:
    """The merged and per-coder labels of ``ts``'s rows (a row without per-coder labels
    counts its merged label as its one coder's)."""
    return oof.SeedLabels(
        code_sets=ts.code_sets, values=ts.values,
        coder_codes=[list(ts.coder_codes[i].values()) if ts.coder_codes else [cs or ()]
                     for i, cs in enumerate(ts.code_sets)],
        coder_values={d: [list(per[i].values()) if (per := ts.coder_values.get(d))
                          else [str(v)] for i, v in enumerate(column)]
                      for d, column in ts.values.items()})


def _fold_suggestions(ts: TrainingSet, rows: np.ndarray, pred: oof.OutOfFold,
                      model: SuggesterModel, params: TrainParams,
                      targets: Collection[str]) -> list[Suggestion]:
    """One fold's out-of-fold suggestions of its ``targets``, as its fold model's
    ``suggest`` makes them without evidence: every code, and each dimension's top value,
    at the fitted default thresholds."""
    out: list[Suggestion] = []
    for i in rows:
        sid = ts.segments[i].id
        if CODE_DIMENSION in targets and pred.code_proba is not None \
                and not np.isnan(pred.code_proba[i]).any():
            out += [Suggestion(sid, "", CODE_DIMENSION, label, float(p),
                               bool(p >= params.code_threshold))
                    for label, p in zip(model.code_labels, pred.code_proba[i], strict=True)]
        for dim, P in pred.value_proba.items():
            if dim not in targets or np.isnan(P[i]).any():
                continue
            top = int(P[i].argmax())
            p = float(P[i, top])
            out.append(Suggestion(sid, "", dim, model.dimensions[dim].classes[top], p,
                                  p >= params.value_threshold))
    return out


def seed_agreement(ts: TrainingSet, dimension: str) -> float | None:
    """Mean pairwise percent agreement of the seed coders on independent segments two or
    more of them coded (codes: exact sets), None when no segment is double-coded."""
    per: Sequence[Mapping[str, Hashable]] = (
        ts.coder_codes if dimension == CODE_DIMENSION else ts.coder_values.get(dimension, []))
    return coverage.double_coded_agreement(
        [row for i, row in enumerate(per) if ts.is_independent(i)])


def _target(ts: TrainingSet, dimension: str, given: float | None) -> tuple[float, str] | None:
    if given is not None:
        return given, "--target-agreement"
    seed = seed_agreement(ts, dimension)
    return None if seed is None else (seed, "the seed coders' mean pairwise percent agreement")


def flag_out_of_fold(ts: TrainingSet, by_fold: Sequence[Sequence[Suggestion]],
                     code_labels: Sequence[str], model_id: str, default: float, *,
                     choose: bool,
                     floors: Sequence[Mapping[str, float]] | None = None,
                     value_default: float | None = None,
                     choose_values: Collection[str] = (),
                     exclusive_groups: Sequence[Sequence[str]] = ()) -> list[Suggestion]:
    """The out-of-fold suggestions as stored for ``agreement``: each fold's codes are
    suggested at the threshold chosen on the *other* folds (``default`` when not
    ``choose`` or too little data), so agreement never scores a choice made on the
    segments it scores. ``floors[f]`` holds fold ``f``'s zero-shot floors by code (a
    code with no positive in that fold's training documents), which a code also needs.
    The values of the dimensions in ``choose_values`` likewise (``value_default`` when
    the other folds cannot choose); any other dimension keeps its fold model's flag. Of
    the codes of one of ``exclusive_groups`` only the most probable stays suggested."""
    out: list[Suggestion] = []
    for f, fold in enumerate(by_fold):
        others = [s for g, other in enumerate(by_fold) if g != f for s in other]
        t = _code_threshold(ts, others, code_labels) if choose else None
        t = default if t is None else t
        cut: dict[str, float | None] = {}
        for dim in choose_values:
            chosen = _value_threshold(ts, others, dim)
            cut[dim] = value_default if chosen is None else chosen
        floor = floors[f] if floors else {}
        out += [Suggestion(segment_id=s.segment_id, model_id=model_id, dimension=s.dimension,
                           label=s.label, probability=s.probability,
                           suggested=_flag(s, t, floor, cut.get(s.dimension)))
                for s in fold]
    return exclusive_suggestions(out, exclusive_groups)


def _flag(s: Suggestion, code_cut: float, floor: Mapping[str, float],
          value_cut: float | None) -> bool:
    """Whether ``s`` is suggested at these thresholds (a dimension without a
    ``value_cut`` keeps its fold model's flag)."""
    if s.dimension == CODE_DIMENSION:
        return s.probability >= max(code_cut, floor.get(s.label, 0.0))
    return s.suggested if value_cut is None else s.probability >= value_cut


def _value_threshold(ts: TrainingSet, pooled: Sequence[Suggestion],
                     dimension: str) -> float | None:
    """``dimension``'s threshold chosen on its out-of-fold suggestions
    (:func:`~isp_nlp.suggest.calibration.choose_value_threshold`)."""
    column = ts.values.get(dimension, [])
    truth = {s.id: v for s, v in zip(ts.segments, column, strict=True) if v is not None}
    rows = [s for s in pooled if s.dimension == dimension and s.segment_id in truth]
    if not rows:
        return None
    return choose_value_threshold(np.array([s.probability for s in rows]),
                                  np.array([s.label == truth[s.segment_id] for s in rows]))


def _code_threshold(ts: TrainingSet, pooled: Sequence[Suggestion],
                    code_labels: Sequence[str]) -> float | None:
    """The code threshold that best matches the coders on the out-of-fold suggestions."""

    row = {s.id: i for i, s in enumerate(ts.segments) if ts.code_sets[i] is not None}
    col = {c: j for j, c in enumerate(code_labels)}
    P = np.full((len(ts.segments), len(code_labels)), np.nan)
    for s in pooled:
        if s.dimension == CODE_DIMENSION and s.segment_id in row and s.label in col:
            P[row[s.segment_id], col[s.label]] = s.probability
    keep = ~np.isnan(P).any(axis=1)
    if not keep.any():
        return None
    Y = np.array([[c in (ts.code_sets[i] or ()) for c in code_labels]
                  for i in range(len(ts.segments))], dtype=int)
    return choose_code_threshold(P[keep], Y[keep])
