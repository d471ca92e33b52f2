"""Fit out of fold, calibrate and certify: the one path from seed codes to a shipped model.

``isp-nlp train`` (:mod:`isp_nlp.suggest.project_fit`) and ``isp-nlp evaluate`` and the
AnnoMI study (:mod:`isp_nlp.suggest.study_fit`) both call :func:`fit_calibrate_certify`
with their own seeds: it fits the model on every seed, fits fold models on the seeds
grouped by document, predicts the held-out seeds (never test data), and on those
out-of-fold predictions

1. chooses the code threshold (:func:`~isp_nlp.suggest.calibration.choose_code_threshold`);
2. calibrates: per single-choice dimension, a temperature on its final (single-label)
   probabilities, and a Platt map per code (:mod:`isp_nlp.suggest.calibration`); and the
   label mix a dimension's confidence refers to (the estimators train with balanced class
   weights, as if every value were equally common; the confidence of the top value is
   moved by Bayes' rule to the label mix of the coded segments, or of a ``population``
   the seeds were drawn from);
3. certifies (:mod:`isp_nlp.suggest.certify`), for each dimension given a target (a
   dimension id, or "code"): on the calibrated out-of-fold confidences, the threshold
   whose covered seeds agree with their coders at least the target share of the time,
   with 90 % confidence (seeds weighted to the ``population``'s label mix when it differs
   from theirs);
4. for each dimension without a certified threshold, sets the threshold at which its
   calibrated out-of-fold values match the coders often enough
   (:func:`~isp_nlp.suggest.calibration.choose_value_threshold`).

Confidence of a single-label suggestion: its probability under that label mix
(:func:`~isp_nlp.suggest.calibration.top_label_confidence`); of a segment's codes:
min over codes of max(p, 1 - p) (every code decision must be sure). Agreement: the
share of the segment's seed coders whose label (the dimension's value, or exact set of
codes) the suggestion matches.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION
from isp_nlp.suggest.bundle import SUGGEST_CHUNK, SuggesterModel
from isp_nlp.suggest.calibration import (
    apply_platt,
    apply_temperature,
    balancing_weights,
    choose_code_threshold,
    choose_value_threshold,
    fit_proba_platt,
    fit_proba_temperature,
    label_mix,
    top_label_confidence,
)
from isp_nlp.suggest.certify import CONFIDENCE, Certificate, certify_threshold
from isp_nlp.suggest.exclusive import exclusive_mask

#: Out-of-fold rows below which no calibration map is fitted.
MIN_CALIBRATION_ROWS = 20


def code_confidence(proba: np.ndarray) -> np.ndarray:
    """Per segment, min over codes of max(p, 1 - p)."""
    P = np.asarray(proba, dtype=np.float64)
    if P.shape[1] == 0:
        return np.ones(len(P))
    return np.maximum(P, 1 - P).min(axis=1)


def predicted_sets(model: SuggesterModel, proba: np.ndarray) -> list[tuple[str, ...]]:
    """The codes each row's probabilities reach at the model's code thresholds (of
    mutually exclusive codes only the most probable, :mod:`isp_nlp.suggest.exclusive`)."""
    P = np.asarray(proba)
    on = exclusive_mask(P, P >= model.code_thresholds, model.code_labels,
                        model.exclusive_groups)
    return [tuple(lab for j, lab in enumerate(model.code_labels) if row[j]) for row in on]


def _share(predicted: Sequence[Hashable], coders: Sequence[Sequence[Hashable]]) -> np.ndarray:
    return np.array([np.mean([p == c for c in cs]) if cs else np.nan
                     for p, cs in zip(predicted, coders, strict=True)])


def calibrate_dimension(model: SuggesterModel, dimension: str, oof_proba: np.ndarray,
                        truth: Sequence[str],
                        population: Sequence[str] | None = None) -> SuggesterModel:
    """``model`` with ``dimension``'s temperature fitted on its out-of-fold probabilities
    (columns = its classes) against the reference value of each row, and the label mix
    its confidences refer to: that of ``population`` (the coded segments the seeds were
    drawn from; None: the seeds themselves)."""
    dim = model.dimension(dimension)
    classes = dim.classes
    rows = [i for i, t in enumerate(truth) if t in classes]
    if len(rows) < MIN_CALIBRATION_ROWS:
        return model
    y = np.array([classes.index(truth[i]) for i in rows])
    balanced = dim.balanced
    weights = balancing_weights(y, len(classes)) if balanced else None
    seeds = [truth[i] for i in rows]
    trained = np.full(len(classes), 1 / len(classes)) if balanced else label_mix(seeds, classes)
    ratio = label_mix(population if population is not None else seeds, classes) / trained
    calibrated = replace(dim, temperature=fit_proba_temperature(oof_proba[rows], y, weights),
                         prior_weights=None if np.allclose(ratio, ratio[0]) else ratio)
    return replace(model, dimensions={**model.dimensions, dimension: calibrated})


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


def value_confidence(model: SuggesterModel, dimension: str | None, proba: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(column of the top value, its confidence) for calibrated probabilities of
    ``dimension`` (None: the model's only dimension)."""
    return top_label_confidence(proba, model.dimension(dimension).prior_weights)


def oof_value_confidence(model: SuggesterModel, dimension: str, oof_proba: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`value_confidence` of uncalibrated out-of-fold probabilities, through the
    dimension's temperature (what ``suggest`` would say of those seeds)."""
    t = model.dimension(dimension).temperature
    return value_confidence(model, dimension, apply_temperature(oof_proba, t))


def calibrate_codes(model: SuggesterModel, oof_proba: np.ndarray,
                    Y: np.ndarray) -> SuggesterModel:
    """``model`` with per-code Platt maps fitted on out-of-fold code probabilities."""
    if len(Y) < MIN_CALIBRATION_ROWS:
        return model
    maps = fit_proba_platt(oof_proba, Y)
    if np.array_equal(maps, np.tile([1.0, 0.0], (len(maps), 1))):
        return model
    return replace(model, code_platt=maps)


def certify_dimension(model: SuggesterModel, dimension: str, oof_proba: np.ndarray,
                      coders: Sequence[Sequence[str]], target: float,
                      level: float = CONFIDENCE,
                      weights: np.ndarray | None = None) -> Certificate:
    """Certificate of ``dimension``'s suggestions: ``oof_proba`` uncalibrated out-of-fold
    probabilities, ``coders[i]`` the seed coders' values of row i, ``weights`` per row
    (:func:`seed_weights`)."""
    top, conf = oof_value_confidence(model, dimension, oof_proba)
    labels = np.asarray(model.dimension(dimension).classes, dtype=object)[top]
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
    """``model`` carrying ``certificate`` of ``dimension`` ("code" or a dimension id); a
    dimension's certified threshold becomes its abstain threshold (suggest abstains
    below it)."""
    if dimension != CODE_DIMENSION and dimension not in model.dimensions:
        raise ValueError(f"dimension is {dimension!r}; expected 'code' or one of "
                         f"{list(model.dimensions)}")
    certified = {**model.certified, dimension: certificate.to_dict()}
    out = replace(model, certified=certified)
    if dimension != CODE_DIMENSION and certificate.threshold is not None:
        out = out.with_thresholds(values={dimension: certificate.threshold})
    manifest = {**model.manifest, "certified": certified}
    return replace(out, manifest={**manifest, "model_id": out.content_hash()})


# --------------------------------------------------------------------------- the one path


@dataclass(frozen=True)
class SeedLabels:
    """The human labels of the rows being fitted, row-aligned with them.

    ``code_sets[i]``: row i's reference codes (None: not coded for codes);
    ``values[dim][i]`` its reference value of dimension ``dim`` (None: none);
    ``coder_codes[i]`` / ``coder_values[dim][i]``: each seed coder's codes / value of row
    i, which certification counts agreement with.
    """

    code_sets: Sequence[Collection[str] | None]
    values: Mapping[str, Sequence[str | None]]
    coder_codes: Sequence[Sequence[Collection[str]]]
    coder_values: Mapping[str, Sequence[Sequence[str]]]


@dataclass(frozen=True)
class OutOfFold:
    """Predictions of each row by a model fitted without its document's rows.

    ``code_proba`` / ``value_proba[dim]``: uncalibrated probabilities (columns: the code
    labels / the dimension's classes asked for; a value its fold model lacks is 0), NaN
    in rows whose fold model could not be fitted or has no such part; None (absent)
    when not asked for. ``fold_rows``, ``fold_targets`` and ``floors`` list each fitted
    fold's held-out rows, the targets ("code" or a dimension id) it predicts for them and
    its model's zero-shot floors by code (a code with no positive in that fold's training
    rows). Targets coded on different rows (a therapist dimension, a client dimension)
    are folded apart, each over the rows coded for it, as ``evaluate`` folds one column.
    """

    folds: int
    fold_rows: list[np.ndarray]
    floors: list[dict[str, float]]
    code_proba: np.ndarray | None
    value_proba: dict[str, np.ndarray]
    fold_targets: list[tuple[str, ...]] = field(default_factory=list)


def out_of_fold(fit: Callable[[np.ndarray], SuggesterModel], batch: SegmentBatch,
                groups: Sequence[str], folds: int, *, code_labels: Sequence[str] = (),
                value_classes: Mapping[str, Sequence[str]] | None = None,
                coded: Mapping[str, Sequence[bool]] | None = None,
                evaluated: Sequence[bool] | None = None) -> OutOfFold:
    """:class:`OutOfFold` of ``batch``'s rows: ``fit(rows)`` fits a model on those rows,
    folds are ``min(folds, documents)`` grouped by ``groups`` (none below two); a fold
    whose model cannot be fitted (:class:`ModelError`) leaves its rows unscored.
    ``value_classes`` maps the dimensions to predict to their classes (columns).
    ``coded[target]`` marks the rows coded for a target ("code" or a dimension id;
    absent: every row): each set of targets coded on the same rows is folded over those
    rows alone. ``evaluated`` (None: every row) marks the rows that may be held out and
    scored; the others (assisted codes) only ever train, in the folds whose held-out
    documents they are not from."""
    n = len(batch)
    P_code = np.full((n, len(code_labels)), np.nan) if code_labels else None
    wanted = {d: list(c) for d, c in (value_classes or {}).items() if c}
    P_value = {d: np.full((n, len(c)), np.nan) for d, c in wanted.items()}
    docs = np.asarray(list(groups), dtype=object)
    targets = ([CODE_DIMENSION] if code_labels else []) + list(wanted)
    populations: dict[tuple[int, ...], list[str]] = {}
    for target in targets:
        mask = (coded or {}).get(target)
        rows = tuple(range(n)) if mask is None else tuple(np.flatnonzero(np.asarray(
            mask, dtype=bool)).tolist())
        populations.setdefault(rows, []).append(target)
    out = OutOfFold(0, [], [], P_code, P_value, [])
    scored = None if evaluated is None else np.asarray(evaluated, dtype=bool)
    n_folds = [_fold_population(out, fit, batch, docs, np.asarray(rows, dtype=np.int64),
                                members, folds, list(code_labels), wanted, scored)
               for rows, members in populations.items()]
    return replace(out, folds=max(n_folds, default=0))


def _fold_population(out: OutOfFold, fit: Callable[[np.ndarray], SuggesterModel],
                     batch: SegmentBatch, docs: np.ndarray, population: np.ndarray,
                     targets: Sequence[str], folds: int, code_labels: list[str],
                     wanted: Mapping[str, list[str]], scored: np.ndarray | None = None) -> int:
    """Fold ``population``'s rows by document and fill ``out``'s lists and arrays for
    ``targets``; return the number of folds (0: fewer than two documents). Only rows
    ``scored`` (None: all) are held out; each fold trains on the population's rows from
    the other documents."""
    held = population if scored is None else population[scored[population]]
    n_folds = min(folds, len(set(docs[held].tolist())))
    if n_folds < 2:
        return 0
    dims = [d for d in targets if d != CODE_DIMENSION]
    with_codes = CODE_DIMENSION in targets
    for _, te in GroupKFold(n_splits=n_folds).split(held, groups=docs[held]):
        test_idx = held[te]
        out_docs = set(docs[test_idx].tolist())
        train_idx = population[[d not in out_docs for d in docs[population].tolist()]]
        try:
            model = fit(train_idx)
        except ModelError:
            continue
        out.fold_rows.append(test_idx)
        out.fold_targets.append(tuple(targets))
        cut = model.with_thresholds(code=0.0).code_thresholds
        out.floors.append({c: float(t) for c, t in zip(model.code_labels, cut, strict=True)
                           if t > 0} if with_codes else {})
        code_p, value_p = _predict_proba(model, batch.subset(test_idx), dims)
        parts = [(out.code_proba, code_p, model.code_labels, code_labels, np.nan)] \
            if with_codes else []
        parts += [(out.value_proba[d], value_p.get(d), model.dimensions[d].classes if d in
                   model.dimensions else [], wanted[d], 0.0) for d in dims]
        for P, got, have, columns, fill in parts:
            if P is None or got is None:
                continue
            block = np.full((len(test_idx), len(columns)), fill)
            kept = [j for j, c in enumerate(have) if c in columns]
            block[:, [columns.index(have[j]) for j in kept]] = got[:, kept]
            P[test_idx] = block
    return n_folds


def _predict_proba(model: SuggesterModel, batch: SegmentBatch, dimensions: Sequence[str]
                   ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """(code probabilities, {dimension: probabilities}) of the ``dimensions`` the model
    has, :data:`SUGGEST_CHUNK` rows at a time."""
    parts = [batch.subset(np.arange(i, min(i + SUGGEST_CHUNK, len(batch))))
             for i in range(0, len(batch), SUGGEST_CHUNK)]
    code = [model.predict_code_proba(part) for part in parts]
    got = [d for d in dimensions if d in model.dimensions]
    values = {d: np.vstack([model.predict_value_proba(part, d) for part in parts])
              for d in got} if parts else {}
    blocks = [b for b in code if b is not None]
    return (np.vstack(blocks) if blocks and len(blocks) == len(code) else None), values


@dataclass(frozen=True)
class CalibratedFit:
    """What :func:`fit_calibrate_certify` returns: the model to ship (code threshold,
    calibration maps, certificates and dimension thresholds set), the out-of-fold
    predictions they were chosen on, the certificates by dimension, and which thresholds
    the out-of-fold predictions chose (the code's, and each dimension's)."""

    model: SuggesterModel
    out_of_fold: OutOfFold
    certificates: dict[str, Certificate]
    code_threshold_chosen: bool
    thresholds_chosen: dict[str, bool]

    @property
    def calibration(self) -> dict[str, Any]:
        """The calibration maps: each dimension's temperature and label-mix weights, the
        code Platt maps."""
        return {"temperatures": {d: m.temperature for d, m in self.model.dimensions.items()},
                "prior_weights": {d: m.prior_weights
                                  for d, m in self.model.dimensions.items()},
                "code_platt": self.model.code_platt}


def fit_calibrate_certify(fit: Callable[[np.ndarray], SuggesterModel], batch: SegmentBatch,
                          groups: Sequence[str], labels: SeedLabels, *, folds: int,
                          targets: Mapping[str, float] | None = None,
                          level: float = CONFIDENCE,
                          population: Mapping[str, Sequence[str]] | None = None,
                          evaluated: Sequence[bool] | None = None) -> CalibratedFit:
    """Fit on every row of ``batch`` (``fit(rows)``), predict each row out of fold
    (:func:`out_of_fold`, folds grouped by ``groups``), and on those predictions choose
    the code threshold, calibrate, certify each dimension of ``targets`` ("code" or a
    dimension id -> target agreement) at ``level``, and set each dimension's threshold
    (steps 1-4 of this module). ``population[dim]``: the values of the segments the seeds
    were drawn from (their label mix; seeds are weighted to it when certifying); absent:
    the seeds'. ``evaluated`` (None: every row) marks the independent rows, the only ones
    predicted out of fold and so the only ones steps 1-4 rest on; the others (assisted
    codes) train the model and the fold models alone."""
    model = fit(np.arange(len(batch)))
    pred = out_of_fold(fit, batch, groups, folds, code_labels=model.code_labels,
                       value_classes={d: m.classes for d, m in model.dimensions.items()},
                       coded={CODE_DIMENSION: [c is not None for c in labels.code_sets],
                              **{d: [v is not None for v in column]
                                 for d, column in labels.values.items()}},
                       evaluated=evaluated)
    targets = targets or {}
    population = population or {}
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
    chosen: dict[str, float | None] = {}
    for dim, P_all in pred.value_proba.items():
        column = labels.values.get(dim) or [None] * len(batch)
        rows = _scored(P_all, [v is not None for v in column])
        P, truth = P_all[rows], [str(column[i]) for i in rows]
        model = calibrate_dimension(model, dim, P, truth, population.get(dim))
        chosen[dim] = None
        if rows:
            top, conf = oof_value_confidence(model, dim, P)
            hits = np.asarray(model.dimensions[dim].classes, dtype=object)[top] == np.asarray(truth)
            chosen[dim] = choose_value_threshold(conf, hits)
        if dim in targets and rows:
            coders = labels.coder_values.get(dim) or [[] for _ in column]
            certs[dim] = certify_dimension(
                model, dim, P, [list(coders[i]) for i in rows], targets[dim], level,
                seed_weights(truth, population.get(dim), model.dimensions[dim].classes))
            model = with_certificate(model, dim, certs[dim])
    if pred.code_proba is not None:
        P = pred.code_proba[code_rows]
        model = calibrate_codes(model, P, Y)
        if CODE_DIMENSION in targets and code_rows:
            certs[CODE_DIMENSION] = certify_codes(
                model, P, [[tuple(sorted(c)) for c in labels.coder_codes[i]] for i in code_rows],
                targets[CODE_DIMENSION], level)
            model = with_certificate(model, CODE_DIMENSION, certs[CODE_DIMENSION])
    thresholds = dict(model.manifest.get("thresholds") or {})
    thresholds_from = dict(model.manifest.get("thresholds_from") or {})
    for dim, t in chosen.items():
        if dim in certs and certs[dim].certified:
            thresholds[dim] = model.dimensions[dim].threshold
            thresholds_from[dim] = f"certified (see certified.{dim})"
        elif t is not None:
            model = model.with_thresholds(values={dim: t})
            thresholds[dim] = t
            thresholds_from[dim] = "out-of-fold share of values matching the coders"
    model = replace(model, manifest={**model.manifest, "thresholds": thresholds,
                                     "thresholds_from": thresholds_from})
    model = replace(model, manifest={**model.manifest, "model_id": model.content_hash()})
    return CalibratedFit(model, pred, certs, threshold is not None,
                         {d: t is not None for d, t in chosen.items()})


def _scored(P: np.ndarray | None, labelled: Sequence[bool]) -> list[int]:
    """Rows with a label and an out-of-fold prediction."""
    if P is None:
        return []
    return [i for i, ok in enumerate(labelled) if ok and not np.isnan(P[i]).any()]
