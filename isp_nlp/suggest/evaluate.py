"""Classifier-agreement studies on coded-segments CSVs: does the suggester agree with
human coders about as well as they agree with each other, and where?

Units are (document, segment): the segment id, else the start/end offsets, else the
text. Seeds are drawn K per label from TRAIN (or from the other folds, grouped by
document); the suggester is fitted by the project's own trainer
(:func:`isp_nlp.suggest.trainer.train_suggester`), calibrated and certified on
out-of-fold predictions of its seeds (:mod:`isp_nlp.suggest.out_of_fold`), as
``isp-nlp train`` does, and its predictions are compared with every coder of TEST
(:mod:`isp_nlp.suggest.study_scores`). Functions return data only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from isp_nlp.agreement import coverage
from isp_nlp.codebook.load import load_codebook, resolve_code
from isp_nlp.coded.units import (
    NO_CODE,
    CodedUnits,
    EvaluationError,
    embed_units,
    load_units,
)
from isp_nlp.embed import embed_texts
from isp_nlp.records import CODE_DIMENSION
from isp_nlp.suggest import study_scores as scores
from isp_nlp.suggest.certify import CONFIDENCE, Certificate, check_target
from isp_nlp.suggest.prototypes import prototype_texts
from isp_nlp.suggest.study_fit import fit_calibrated, predict, sample_seeds
from isp_nlp.suggest.trainer import SINGLE_LABEL, TrainParams

# --------------------------------------------------------------------------- the study


@dataclass
class Split:
    train: CodedUnits
    test: CodedUnits


@dataclass
class StudyConfig:
    seed_per_label: list[int | None] = field(default_factory=lambda: [None])
    repeats: int = 3
    seed: int = 0
    label_column: str = "code"
    #: None: multi-label when some coder gave a segment several codes.
    multi_label: bool | None = None
    embedder: str = ""
    folds: int | None = None
    #: Agreement the certified threshold must reach on covered segments (None: the seed
    #: coders' mean pairwise percent agreement where seeds are double-coded, else none).
    target_agreement: float | None = None
    confidence: float = CONFIDENCE


def _label_sets(units: CodedUnits, reference: bool) -> set[str]:
    if reference:
        return {lab for r in units.reference()
                for lab in ((r or ()) if units.multi_label else (r,))}
    return set(units.labels)


def check_labels(train: CodedUnits, test: CodedUnits,
                 zero_shot: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(labels to learn and score, labels of ``test`` too rare to evaluate: no seed
    example in ``train`` and no codebook entry in ``zero_shot``); raise when the files
    cannot support a study."""
    seen = _label_sets(train, reference=True)
    labels = sorted(seen)
    if len(labels) < 2:
        raise EvaluationError(
            f"{train.name} has {len(labels)} label(s) ({', '.join(labels) or 'none'}) among its "
            "majority labels; a classifier needs at least 2, so code segments with more labels.")
    test_labels = _label_sets(test, reference=False)
    if not test_labels & set(labels):
        raise EvaluationError(
            f"{test.name} uses the labels {', '.join(sorted(test_labels))} but the training data "
            f"has {', '.join(labels)}; use files coded with the same codebook.")
    unseen = sorted(test_labels - set(labels))
    usable = set(zero_shot) if train.multi_label else set()
    return sorted(set(labels) | (set(unseen) & usable)), sorted(set(unseen) - usable)


def grouped_folds(units: CodedUnits, n_folds: int) -> list[Split]:
    """GroupKFold by document: no document is in both training and test."""
    docs = sorted(set(units.documents))
    if n_folds < 2 or n_folds > len(docs):
        raise EvaluationError(
            f"{units.name} has {len(docs)} documents, so --folds must be between 2 and "
            f"{len(docs)} (got {n_folds}); change --folds.")
    splits = GroupKFold(n_splits=n_folds).split(np.zeros(len(units)), groups=units.documents)
    out = []
    for f, (tr, te) in enumerate(splits, 1):
        train, test = units.subset(tr, share=True), units.subset(te, share=True)
        train.name = f"{units.name} (training documents of fold {f})"
        test.name = f"{units.name} (test documents of fold {f})"
        out.append(Split(train, test))
    return out


def seed_coder_agreement(units: Sequence[CodedUnits]) -> float | None:
    """Mean pairwise percent agreement of the seed coders on double-coded seeds (None when
    no seed has two coders)."""
    return coverage.double_coded_agreement([u for part in units for u in part.codings])


def _excluded_units(test: CodedUnits, too_rare: Sequence[str]) -> np.ndarray:
    """Single-label: units whose majority label is too rare to evaluate."""
    if not too_rare or test.multi_label:
        return np.zeros(len(test), dtype=bool)
    rare = set(too_rare)
    return np.array([r in rare for r in test.reference()], dtype=bool)


@dataclass
class _Run:
    pred: list[Any]
    conf: np.ndarray
    proba: np.ndarray
    covered: np.ndarray
    certificates: list[Certificate]


def _one_run(splits: Sequence[Split], k: int | None, rng: np.random.Generator,
             labels: Sequence[str], position: Mapping[str, int], n: int, params, prototypes,
             target: float | None, level: float, dimension: str,
             exclusive_groups: Sequence[Sequence[str]] = ()) -> _Run:
    pred: list[Any] = [None] * n
    conf = np.zeros(n)
    proba = np.zeros((n, len(labels)))
    covered = np.zeros(n, dtype=bool)
    certs: list[Certificate] = []
    for split in splits:
        idx = sample_seeds(split.train, k, rng, labels)
        model, cert = fit_calibrated(split.train, idx, labels, params, prototypes, target,
                                     level=level, dimension=dimension)
        got = predict(model.with_exclusive(exclusive_groups), split.test.batch())
        rows = [position[key] for key in split.test.keys]
        cols = [list(labels).index(c) for c in got.classes]
        for r, pi in zip(rows, got.labels, strict=True):
            pred[r] = pi
        conf[rows] = got.confidence
        proba[np.ix_(rows, cols)] = got.proba
        if cert is not None:
            certs.append(cert)
            if cert.threshold is not None:
                covered[rows] = got.confidence >= cert.threshold - 1e-12
    return _Run(pred, conf, proba, covered, certs)


def run_study(splits: Sequence[Split], config: StudyConfig, *, test_all: CodedUnits,
              params=None, progress: Callable[[str], None] | None = None,
              prototypes=None,
              exclusive_groups: Sequence[Sequence[str]] = ()) -> dict[str, Any]:
    """Learning curve over ``config.seed_per_label`` with R repeats; headline = largest K,
    with its risk–coverage table, calibration error and certified threshold.

    Each split's test units are predicted by a model fitted on that split's seeds; the
    predictions of all splits are pooled (in ``test_all`` order) before scoring. Codes of
    one of ``exclusive_groups`` are never predicted together (the most probable stays).
    """
    checked = [check_labels(s.train, s.test, list(prototypes or ())) for s in splits]
    labels = sorted(set().union(*(c[0] for c in checked)))
    too_rare = sorted(set().union(*(c[1] for c in checked)) - set(labels))
    excluded = _excluded_units(test_all, too_rare)
    scored_units = (test_all.subset(np.flatnonzero(~excluded), share=True) if excluded.any()
                    else test_all)
    test = scores.encode_test(scored_units, labels)
    target = config.target_agreement
    target_from = "--target-agreement"
    if target is None:
        target = seed_coder_agreement([s.train for s in splits])
        target_from = "the seed coders' mean pairwise percent agreement"
    if target is not None:
        check_target(target, config.confidence)
    position = {k: i for i, k in enumerate(test_all.keys)}
    keep = np.flatnonzero(~excluded)
    column = config.label_column.strip().casefold()  # the single-label model's dimension id
    dimension = SINGLE_LABEL if column in ("", CODE_DIMENSION) else column
    curve, runs_by_k, seconds = [], {}, {}
    for k in config.seed_per_label:
        repeats = 1 if k is None else config.repeats
        runs: list[_Run] = []
        t0 = time.perf_counter()
        for r in range(repeats):
            rng = np.random.default_rng([config.seed, r, 0 if k is None else k])
            run = _one_run(splits, k, rng, labels, position, len(test_all), params, prototypes,
                           target, config.confidence, dimension, exclusive_groups)
            runs.append(_Run([run.pred[i] for i in keep], run.conf[keep], run.proba[keep],
                             run.covered[keep], run.certificates))
            if progress:
                progress(f"K={k if k is not None else 'all'} repeat {r + 1}/{repeats}")
        seconds[k] = (time.perf_counter() - t0) / repeats
        runs_by_k[k] = runs
        scored = [scores.model_agreement(test, run.pred) for run in runs]
        kap = [s["mean_kappa"] for s in scored if s["mean_kappa"] is not None]
        curve.append({"seed_per_label": k, "mean_kappa": scores.nanmean(kap),
                      "sd": float(np.std(kap, ddof=1)) if len(kap) > 1 else 0.0,
                      "kappas": kap, "macro_f1": _mean_of(scored, "macro_f1"),
                      "accuracy": _mean_of(scored, "accuracy"),
                      "percent_agreement": _mean_of(scored, "percent_agreement"),
                      "krippendorff_alpha_with_model": _mean_of(
                          scored, "krippendorff_alpha_with_model"),
                      "ece": scores.nanmean([
                          scores.calibration_error(test, run.proba, labels, run.pred, run.conf)
                          for run in runs]),
                      "parity_coverage": coverage.parity_coverage(coverage.mean_rows(
                          [scores.risk_coverage(test, run.pred, run.conf) for run in runs])),
                      "certified": _certified(test, runs, target, target_from,
                                              config.confidence),
                      "fit_predict_seconds_per_repeat": seconds[k]})
    head_k = config.seed_per_label[-1]
    runs = runs_by_k[head_k]
    scored = [scores.model_agreement(test, run.pred) for run in runs]
    per_label = {lab: {m: float(np.mean([s["per_label"][lab][m] for s in scored]))
                       for m in ("precision", "recall", "f1")} for lab in labels}
    for lab in labels:
        per_label[lab]["support"] = scored[0]["per_label"][lab]["support"]
    table = coverage.mean_rows([scores.risk_coverage(test, run.pred, run.conf) for run in runs])
    return {
        "n_test_units": len(test.ids),
        "n_test_coders": len(test.coders),
        "n_train_units": len(splits[0].train) if len(splits) == 1 else None,
        "read_as": [u.reading for u in _distinct_files(splits, test_all) if u.reading],
        "labels": labels,
        "too_rare_to_evaluate": {"labels": too_rare, "n_test_units_left_out": int(excluded.sum()),
                                 "why": "no seed example in the training data and no "
                                        "codebook entry to score them zero-shot"}
        if too_rare else None,
        "human_human": scores.human_human(test),
        "model_human": {"seed_per_label": head_k,
                        "mean_kappa": curve[-1]["mean_kappa"], "sd": curve[-1]["sd"],
                        "percent_agreement": curve[-1]["percent_agreement"],
                        "krippendorff_alpha_with_model":
                            curve[-1]["krippendorff_alpha_with_model"],
                        "macro_f1": curve[-1]["macro_f1"], "accuracy": curve[-1]["accuracy"],
                        "ece": curve[-1]["ece"]},
        "per_label": per_label,
        "learning_curve": curve,
        "risk_coverage": table,
        "parity_coverage": coverage.parity_coverage(table),
        "certified": curve[-1]["certified"],
        "timing": {"fit_predict_seconds_per_repeat": seconds[head_k]},
        "config": {"seed_per_label": config.seed_per_label, "repeats": config.repeats,
                   "seed": config.seed, "label_column": config.label_column,
                   "multi_label": test.multi_label, "embedder": config.embedder,
                   "folds": config.folds, "target_agreement": target,
                   "confidence": config.confidence},
    }


def _distinct_files(splits: Sequence[Split], test_all: CodedUnits) -> list[CodedUnits]:
    out: list[CodedUnits] = []
    for u in (splits[0].train, test_all):
        if u.reading and all(u.reading != v.reading for v in out):
            out.append(u)
    return out


def _certified(test: scores.TestLabels, runs: Sequence[_Run], target: float | None,
               target_from: str, level: float) -> dict[str, Any] | None:
    """The certified threshold chosen on TRAIN and what it gave on TEST, over repeats."""
    if target is None:
        return {"threshold": None, "coverage": None, "model_human_agreement": None,
                "human_human_agreement": None, "parity": None, "target": None,
                "reason": "no target agreement: the seeds are single-coded, so give "
                          "--target-agreement A (e.g. the coders' percent agreement)"}
    rows, thresholds, reasons = [], [], []
    for run in runs:
        ids = scores.predicted_ids(test, run.pred)
        rows.append(coverage.masked_row(ids, test.ids, run.covered, None))
        thresholds += [c.threshold for c in run.certificates]
        reasons += [c.reason for c in run.certificates if c.threshold is None]
    mean = coverage.mean_rows([[r] for r in rows])[0]
    got = [t for t in thresholds if t is not None]
    return {"threshold": float(np.mean(got)) if got else None,
            "thresholds": thresholds,
            "coverage": mean["coverage"], "n_units": mean["n_units"],
            "model_human_agreement": mean["model_human_agreement"],
            "human_human_agreement": mean["human_human_agreement"],
            "model_human_kappa": mean["model_human_kappa"],
            "human_human_kappa": mean["human_human_kappa"],
            "parity": mean["parity"],
            "parity_in_repeats": [r["parity"] for r in rows],
            "target": target, "target_from": target_from, "confidence": level,
            "method": runs[0].certificates[0].method if runs and runs[0].certificates else "",
            "reason": reasons[0] if reasons else ""}


def _mean_of(scored: list[dict], key: str) -> float | None:
    return scores.nanmean([s.get(key) for s in scored])


def evaluate_files(train: str | Path | None, test: str | Path | None, *,
                   coded: str | Path | None = None, config: StudyConfig, embedder,
                   cache=None, params=None, codebook: str | Path | None = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train/test files or one CODED file with ``config.folds`` grouped folds; with a
    ``codebook``, its definitions and examples of each label join the model as in
    ``isp-nlp train``, a single-choice column's spellings are read by the codebook's
    dimension of that id, and a multi-label study never predicts two codes the codebook
    declares mutually exclusive (by code id)."""
    book = None if codebook is None else load_codebook(codebook)
    column = config.label_column.strip().casefold()
    dimension = None if book is None or column == CODE_DIMENSION else book.dimension(column)
    if book is not None and column != CODE_DIMENSION and dimension is None:
        raise EvaluationError(
            f"{Path(str(codebook)).name} declares no dimension '{column}' (it has "
            f"{', '.join(book.dimension_ids) or 'none'}); name one of its dimensions with "
            "--label-column, or drop --codebook.")

    config.label_column = column

    def read(path: str | Path, multi: bool | None) -> CodedUnits:
        return load_units(path, label_column=column, multi_label=multi, dimension=dimension)

    if config.target_agreement is not None:
        check_target(config.target_agreement, config.confidence)
    if coded is not None:
        if not config.folds:
            raise EvaluationError("one coded file needs --folds N (or give --train and --test).")
        units = embed_units(read(coded, config.multi_label), embedder, cache)
        splits, test_all = grouped_folds(units, config.folds), units
    else:
        if train is None or test is None:
            raise EvaluationError("give both --train and --test, or one CODED.csv with --folds N.")
        tr, te = read(train, config.multi_label), read(test, config.multi_label)
        if tr.multi_label != te.multi_label:  # one file has several codes per segment
            tr, te = read(train, True), read(test, True)
        tr, te = embed_units(tr, embedder, cache), embed_units(te, embedder, cache)
        splits, test_all = [Split(tr, te)], te
    config.embedder = config.embedder or getattr(embedder, "model_id", "")

    protos = None
    if codebook is not None:  # every label of the data, whichever fold trains on it
        protos = label_prototypes(codebook, test_all if coded is not None else splits[0].train,
                                  embedder, cache, multi_label=test_all.multi_label,
                                  dimension=None if column == CODE_DIMENSION else column,
                                  extra=test_all.labels if test_all.multi_label else ())
    groups = book.exclusive_groups if book is not None and test_all.multi_label else ()
    result = run_study(splits, config, test_all=test_all, params=params, progress=progress,
                       prototypes=protos, exclusive_groups=groups)
    result["codebook"] = None if codebook is None else {
        "path": Path(codebook).name,
        "prototype_weight": (params or TrainParams()).prototype_weight}
    return result


def label_prototypes(codebook: str | Path, units: CodedUnits, embedder, cache=None, *,
                     multi_label: bool = False, dimension: str | None = None,
                     extra: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """label -> embeddings of its codebook texts (a code matched by id or name, or a value
    of the codebook's ``dimension`` by id): zero-shot codes (multi-label) or the
    single-label prior. Every majority label of ``units`` needs an entry; ``extra`` labels
    (rare ones) join when they have one."""

    book = load_codebook(codebook)
    labels = sorted({str(lab) for r in units.reference() if r is not None
                     for lab in (r if multi_label else (r,))})
    dim = None if dimension is None else book.dimension(dimension)
    if dimension is not None and dim is None:
        raise EvaluationError(
            f"{Path(codebook).name} declares no dimension '{dimension}' (it has "
            f"{', '.join(book.dimension_ids) or 'none'}); add it to the codebook or drop "
            "--codebook.")
    by_value = {v.id: v for v in dim.values} if dim is not None else {}

    def entry(lab: str):
        return by_value.get(lab) if dim is not None else resolve_code(book, lab)

    found = {lab: entry(lab) for lab in labels}
    missing = [lab for lab, code in found.items() if code is None]
    if NO_CODE in missing:
        raise EvaluationError(
            f"{units.name} has rows with an empty code, read as the label '{NO_CODE}', which "
            f"{Path(codebook).name} cannot define; drop --codebook, or use --multi-label "
            "(an empty code is then the empty set).")
    found.update({lab: code for lab in extra if lab not in found
                  and (code := entry(lab)) is not None})
    if missing:
        what = f"value of {dim.name or dim.id} with the id" if dim is not None else \
            "code with the id or name"
        raise EvaluationError(
            f"{Path(codebook).name} has no {what} {', '.join(missing)}; "
            f"expected an entry for every label of {units.name}; add them to the codebook.")
    return {lab: embed_texts(prototype_texts(code), embedder, cache)
            for lab, code in found.items() if code is not None}
