"""Classifier-agreement studies on coded-segments CSVs: does the suggester agree with
human coders about as well as they agree with each other?

Units are (document, segment): the segment id, else the start/end offsets, else the
text. Seeds are drawn K per label from TRAIN (or from the other folds, grouped by
document), the suggester is fitted by the project's own trainer
(:func:`isp_nlp.suggest.trainer.train_suggester`), and its
predictions are compared with every coder of TEST. Functions return data only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from isp_nlp.agreement.coefficients import coefficient
from isp_nlp.agreement.tables import MODEL_CODER
from isp_nlp.codebook.load import load_codebook, resolve_code
from isp_nlp.coded.units import (
    NO_CODE,
    CodedUnits,
    EvaluationError,
    embed_units,
    load_units,
)
from isp_nlp.embed import embed_texts
from isp_nlp.errors import ModelError
from isp_nlp.suggest.batch import SegmentBatch
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.prototypes import prototype_texts
from isp_nlp.suggest.trainer import TrainParams, train_multi_label, train_single_label

THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)

# --------------------------------------------------------------------------- agreement


def _table(units: CodedUnits, label: str | None = None) -> pd.DataFrame:
    """Coder table: single-label labels, or 0/1 presence of ``label``."""
    data: dict[str, dict[str, Any]] = {}
    for key, unit in zip(units.keys, units.codings, strict=True):
        for coder, labs in unit.items():
            data.setdefault(coder, {})[key] = labs[0] if label is None else float(label in labs)
    return pd.DataFrame(data, index=units.keys, dtype=object)[sorted(data)]


def _targets(units: CodedUnits, labels: Sequence[str]) -> list[str | None]:
    return list(labels) if units.multi_label else [None]


def human_human(units: CodedUnits, labels: Sequence[str]) -> dict[str, float | None]:
    """Mean pairwise Cohen's kappa and Krippendorff's alpha of the coders (None if one coder)."""

    if len(units.coders) < 2:
        return {"mean_pairwise_kappa": None, "krippendorff_alpha": None}
    kappas, alphas = [], []
    for target in _targets(units, labels):
        table = _table(units, target)
        kappas.append(coefficient(table, "kappa")[0])  # the mean over coder pairs
        alphas.append(coefficient(table, "alpha")[0])
    return {"mean_pairwise_kappa": _none(_nanmean(kappas)),
            "krippendorff_alpha": _none(_nanmean(alphas))}


def model_agreement(units: CodedUnits, predicted: Sequence[Any], labels: Sequence[str],
                    mask: np.ndarray | None = None) -> dict[str, Any]:
    """Model vs every coder (mean kappa, alpha with model) and vs the majority label."""
    idx = list(range(len(units))) if mask is None else np.flatnonzero(mask).tolist()
    sub = units.subset(idx)
    pred = [predicted[i] for i in idx]
    kappas, alphas = [], []
    for target in _targets(units, labels):
        table = _table(sub, target)
        model = pd.Series([p if target is None else float(target in p) for p in pred],
                          index=sub.keys, name=MODEL_CODER, dtype=object)
        kappas.append(_nanmean([coefficient(pd.concat([table[c], model], axis=1), "kappa")[0]
                                for c in table.columns]))
        alphas.append(coefficient(table.assign(**{MODEL_CODER: model}), "alpha")[0])
    out: dict[str, Any] = {"n_units": len(idx), "mean_kappa": _none(_nanmean(kappas)),
                           "krippendorff_alpha_with_model": _none(_nanmean(alphas))}
    if len(idx) == 0:
        return out
    ref = sub.reference()
    if units.multi_label:
        y_true = np.array([[lab in r for lab in labels] for r in ref], dtype=int)
        y_pred = np.array([[lab in p for lab in labels] for p in pred], dtype=int)
        out["accuracy"] = float((y_true == y_pred).mean())
    else:
        y_true, y_pred = np.asarray(ref, dtype=object), np.asarray(pred, dtype=object)
        out["accuracy"] = float(accuracy_score(y_true, y_pred))
    kw = {"labels": list(range(len(labels))) if units.multi_label else list(labels),
          "zero_division": 0}
    out["macro_f1"] = float(f1_score(y_true, y_pred, average="macro", **kw))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, **kw)
    out["per_label"] = {lab: {"precision": float(p[i]), "recall": float(r[i]),
                              "f1": float(f[i]), "support": int(s[i])}
                        for i, lab in enumerate(labels)}
    return out


def _nanmean(values: Sequence[float | None]) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else math.nan


def _none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


# --------------------------------------------------------------------------- seeds and fitting


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


def predict_labels(model: SuggesterModel, batch: SegmentBatch) -> tuple[list[Any], np.ndarray]:
    """(predicted labels, confidence) per row: a code model's codes at their thresholds
    and min max(p, 1 - p), else the top single label and its probability."""

    code_p = model.predict_code_proba(batch)
    if code_p is not None:
        cut = model.code_thresholds
        pred: list[Any] = [tuple(lab for j, lab in enumerate(model.code_labels)
                                 if row[j] >= cut[j]) for row in code_p]
        return pred, np.maximum(code_p, 1 - code_p).min(axis=1)
    proba = model.predict_stage_proba(batch)
    if proba is None:
        raise ModelError(f"suggester {model.model_id} has neither a code nor a stage model")
    classes = np.asarray(model.stage_classes, dtype=object)
    return [str(c) for c in classes[proba.argmax(axis=1)]], proba.max(axis=1)


def fit_predict(train: CodedUnits, idx: np.ndarray, test: CodedUnits, labels: Sequence[str],
                params: TrainParams | None = None,
                prototypes: Mapping[str, np.ndarray] | None = None
                ) -> tuple[list[Any], np.ndarray]:
    """Fit on ``train`` rows ``idx`` (:func:`fit_model`); predict ``test``
    (:func:`predict_labels`)."""

    return predict_labels(fit_model(train, idx, labels, params, prototypes), test.batch())


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
    multi_label: bool = False
    embedder: str = ""
    folds: int | None = None


def check_labels(train: CodedUnits, test: CodedUnits) -> list[str]:
    """The labels to learn; raise when the two files cannot support a study."""
    labels = sorted({lab for r in train.reference() for lab in ((r or ()) if train.multi_label
                                                                 else (r,))})
    if len(labels) < 2:
        raise EvaluationError(
            f"{train.name} has {len(labels)} label(s) ({', '.join(labels) or 'none'}) among its "
            "majority labels; a classifier needs at least 2, so code segments with more labels.")
    test_labels = set(test.labels)
    if not test_labels & set(labels):
        raise EvaluationError(
            f"{test.name} uses the labels {', '.join(sorted(test_labels))} but the training data "
            f"has {', '.join(labels)}; use files coded with the same codebook.")
    unseen = sorted(test_labels - set(labels))
    if unseen:
        raise EvaluationError(
            f"label '{unseen[0]}' appears in {test.name} but has no seed example in "
            f"{train.name}; code training segments with it (or use fewer folds).")
    return labels


def grouped_folds(units: CodedUnits, n_folds: int) -> list[Split]:
    """GroupKFold by document: no document is in both training and test."""
    from sklearn.model_selection import GroupKFold

    docs = sorted(set(units.documents))
    if n_folds < 2 or n_folds > len(docs):
        raise EvaluationError(
            f"{units.name} has {len(docs)} documents, so --folds must be between 2 and "
            f"{len(docs)} (got {n_folds}); change --folds.")
    splits = GroupKFold(n_splits=n_folds).split(np.zeros(len(units)), groups=units.documents)
    out = []
    for f, (tr, te) in enumerate(splits, 1):
        train, test = units.subset(tr), units.subset(te)
        train.name = f"{units.name} (training documents of fold {f})"
        test.name = f"{units.name} (test documents of fold {f})"
        out.append(Split(train, test))
    return out


def run_study(splits: Sequence[Split], config: StudyConfig, *, test_all: CodedUnits,
              params=None, progress: Callable[[str], None] | None = None,
              prototypes=None) -> dict[str, Any]:
    """Learning curve over ``config.seed_per_label`` with R repeats; headline = largest K.

    Each split's test units are predicted by a model fitted on that split's seeds; the
    predictions of all splits are pooled (in ``test_all`` order) before scoring.
    """
    labels = sorted(set().union(*(check_labels(s.train, s.test) for s in splits)))
    position = {k: i for i, k in enumerate(test_all.keys)}
    curve, runs_by_k, seconds = [], {}, {}
    for k in config.seed_per_label:
        repeats = 1 if k is None else config.repeats
        runs = []
        t_k = 0.0
        for r in range(repeats):
            rng = np.random.default_rng([config.seed, r, 0 if k is None else k])
            pred: list[Any] = [None] * len(test_all)
            conf = np.zeros(len(test_all))
            t0 = time.perf_counter()
            for split in splits:
                idx = sample_seeds(split.train, k, rng, labels)
                p, c = fit_predict(split.train, idx, split.test, labels, params, prototypes)
                for key, pi, ci in zip(split.test.keys, p, c, strict=True):
                    pred[position[key]], conf[position[key]] = pi, ci
            t_k += time.perf_counter() - t0
            runs.append((pred, conf))
            if progress:
                progress(f"K={k if k is not None else 'all'} repeat {r + 1}/{repeats}")
        seconds[k] = t_k / repeats
        runs_by_k[k] = runs
        scores = [model_agreement(test_all, p, labels) for p, _ in runs]
        kap = [s["mean_kappa"] for s in scores if s["mean_kappa"] is not None]
        curve.append({"seed_per_label": k, "mean_kappa": _none(_nanmean(kap)),
                      "sd": float(np.std(kap, ddof=1)) if len(kap) > 1 else 0.0,
                      "kappas": kap, "macro_f1": _mean_of(scores, "macro_f1"),
                      "accuracy": _mean_of(scores, "accuracy"),
                      "krippendorff_alpha_with_model": _mean_of(
                          scores, "krippendorff_alpha_with_model"),
                      "fit_predict_seconds_per_repeat": seconds[k]})
    head_k = config.seed_per_label[-1]
    runs = runs_by_k[head_k]
    scores = [model_agreement(test_all, p, labels) for p, _ in runs]
    per_label = {lab: {m: float(np.mean([s["per_label"][lab][m] for s in scores]))
                       for m in ("precision", "recall", "f1")} for lab in labels}
    for lab in labels:
        per_label[lab]["support"] = scores[0]["per_label"][lab]["support"]
    return {
        "n_test_units": len(test_all),
        "n_test_coders": len(test_all.coders),
        "n_train_units": len(splits[0].train) if len(splits) == 1 else None,
        "labels": labels,
        "human_human": human_human(test_all, labels),
        "model_human": {"seed_per_label": head_k,
                        "mean_kappa": curve[-1]["mean_kappa"], "sd": curve[-1]["sd"],
                        "krippendorff_alpha_with_model":
                            curve[-1]["krippendorff_alpha_with_model"],
                        "macro_f1": curve[-1]["macro_f1"], "accuracy": curve[-1]["accuracy"]},
        "per_label": per_label,
        "learning_curve": curve,
        "coverage_at_abstain": coverage_at_abstain(test_all, runs, labels),
        "timing": {"fit_predict_seconds_per_repeat": seconds[head_k]},
        "config": {"seed_per_label": config.seed_per_label, "repeats": config.repeats,
                   "seed": config.seed, "label_column": config.label_column,
                   "multi_label": config.multi_label, "embedder": config.embedder,
                   "folds": config.folds},
    }


def _mean_of(scores: list[dict], key: str) -> float | None:
    return _none(_nanmean([s.get(key) for s in scores]))


def coverage_at_abstain(units: CodedUnits, runs: Sequence[tuple[list[Any], np.ndarray]],
                        labels: Sequence[str],
                        thresholds: Sequence[float] = THRESHOLDS) -> list[dict[str, Any]]:
    """Share of units whose confidence reaches each threshold, and the mean kappa and the
    accuracy (vs the majority label) on them; kappa is 0 when the model gives one label
    to every covered unit, so read it with the accuracy."""
    out = []
    for t in thresholds:
        shares, kappas, accs = [], [], []
        for pred, conf in runs:
            mask = conf >= t
            shares.append(float(mask.mean()))
            if mask.sum() >= 2:
                scored = model_agreement(units, pred, labels, mask)
                kappas.append(scored["mean_kappa"])
                accs.append(scored["accuracy"])
        out.append({"threshold": t, "coverage": float(np.mean(shares)),
                    "mean_kappa": _none(_nanmean(kappas)),
                    "accuracy": _none(_nanmean(accs))})
    return out


def evaluate_files(train: str | Path | None, test: str | Path | None, *,
                   coded: str | Path | None = None, config: StudyConfig, embedder,
                   cache=None, params=None, codebook: str | Path | None = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train/test files or one CODED file with ``config.folds`` grouped folds; with a
    ``codebook``, its definitions and examples of each label join the model as in
    ``isp-nlp train``."""
    def read(path: str | Path) -> CodedUnits:
        return embed_units(load_units(path, label_column=config.label_column,
                                      multi_label=config.multi_label), embedder, cache)

    if coded is not None:
        if not config.folds:
            raise EvaluationError("one coded file needs --folds N (or give --train and --test).")
        units = read(coded)
        splits, test_all = grouped_folds(units, config.folds), units
    else:
        if train is None or test is None:
            raise EvaluationError("give both --train and --test, or one CODED.csv with --folds N.")
        tr = read(train)
        te = read(test)
        splits, test_all = [Split(tr, te)], te
    config.embedder = config.embedder or getattr(embedder, "model_id", "")

    protos = None
    if codebook is not None:  # every label of the data, whichever fold trains on it
        protos = label_prototypes(codebook, test_all if coded is not None else splits[0].train,
                                  embedder, cache, multi_label=config.multi_label,
                                  stages=config.label_column == "stage")
    result = run_study(splits, config, test_all=test_all, params=params, progress=progress,
                       prototypes=protos)
    result["codebook"] = None if codebook is None else {
        "path": Path(codebook).name,
        "prototype_weight": (params or TrainParams()).prototype_weight}
    return result


def label_prototypes(codebook: str | Path, units: CodedUnits, embedder, cache=None, *,
                     multi_label: bool = False, stages: bool = False) -> dict[str, np.ndarray]:
    """label -> embeddings of its codebook texts (a code matched by id or name, or a
    stage by id): zero-shot codes (multi-label) or the single-label prior."""

    book = load_codebook(codebook)
    labels = sorted({str(lab) for r in units.reference() if r is not None
                     for lab in (r if multi_label else (r,))})
    by_stage = {st.id: st for st in book.stages}
    found = {lab: by_stage.get(lab) if stages else resolve_code(book, lab) for lab in labels}
    missing = [lab for lab, code in found.items() if code is None]
    if missing:
        raise EvaluationError(
            f"{Path(codebook).name} has no {'stage' if stages else 'code'} with the id "
            f"{'' if stages else 'or name '}{', '.join(missing)}; "
            f"expected an entry for every label of {units.name}; add them to the codebook.")
    return {lab: embed_texts(prototype_texts(code), embedder, cache)
            for lab, code in found.items() if code is not None}
