"""Scores of an evaluation study: the model beside the coders of a test set.

The test set's labels are encoded once (:func:`encode_test`) as integer matrices (units ×
coders, -1 = not coded), so every score is numpy over arrays, not tables of Python
objects (a 500k-unit study stays in memory and time bounds). Single-label: one id per
label. Multi-label: one id per distinct set of codes (exact-set agreement, risk–coverage)
and one 0/1 matrix per code (per-code kappa, as the agreement report scores codes).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from isp_nlp.agreement import coverage
from isp_nlp.agreement.coefficients import coefficient
from isp_nlp.agreement.ratings import Ratings
from isp_nlp.coded.units import CodedUnits
from isp_nlp.suggest.calibration import expected_calibration_error


@dataclass(frozen=True)
class TestLabels:
    """The coders' labels of a test set, encoded."""

    coders: tuple[str, ...]
    labels: tuple[str, ...]
    multi_label: bool
    ids: np.ndarray
    index: dict[Hashable, int]
    per_code: dict[str, np.ndarray]
    reference: list[Any]

    @property
    def categories(self) -> tuple[Hashable, ...]:
        return tuple(sorted(self.index, key=self.index.__getitem__))


def encode_test(units: CodedUnits, labels: Sequence[str]) -> TestLabels:
    """Encode ``units`` (single-label: each coder's label; multi-label: each coder's set,
    restricted to ``labels``)."""
    coders = units.coders
    keep = set(labels)
    rows: list[dict[str, Hashable]]
    if units.multi_label:
        rows = [{c: tuple(v for v in labs if v in keep) for c, labs in u.items()}
                for u in units.codings]
    else:
        rows = [{c: labs[0] for c, labs in u.items() if labs} for u in units.codings]
    ids, index = coverage.encode_labels(rows, coders)
    per_code: dict[str, np.ndarray] = {}
    if units.multi_label:
        col = {c: j for j, c in enumerate(coders)}
        for lab in labels:
            m = np.full((len(rows), len(coders)), -1, dtype=np.int64)
            for i, row in enumerate(rows):
                for coder, codes in row.items():
                    m[i, col[coder]] = int(lab in codes)  # type: ignore[operator]
            per_code[lab] = m
    ref = units.reference()
    if units.multi_label:
        ref = [tuple(v for v in r if v in keep) for r in ref]
    return TestLabels(tuple(coders), tuple(labels), units.multi_label, ids, index, per_code,
                      ref)


def _targets(t: TestLabels) -> list[tuple[np.ndarray, tuple[Hashable, ...]]]:
    if t.multi_label:
        return [(m, (0, 1)) for m in t.per_code.values()]
    return [(t.ids, t.categories)]


def _ratings(data: np.ndarray, categories: tuple[Hashable, ...], coders: Sequence[str]
             ) -> Ratings:
    return Ratings(np.ascontiguousarray(data), tuple(categories), tuple(coders))


def nanmean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else None


def human_human(t: TestLabels) -> dict[str, float | None]:
    """Mean pairwise Cohen's kappa, Krippendorff's alpha and mean pairwise percent
    agreement of the coders (None with one coder)."""
    if len(t.coders) < 2:
        return {"mean_pairwise_kappa": None, "krippendorff_alpha": None,
                "percent_agreement": None}
    kappas, alphas = [], []
    for data, cats in _targets(t):
        r = _ratings(data, cats, t.coders)
        kappas.append(coefficient(r, "kappa")[0])
        alphas.append(coefficient(r, "alpha")[0])
    return {"mean_pairwise_kappa": nanmean(kappas), "krippendorff_alpha": nanmean(alphas),
            "percent_agreement": coverage.human_human(t.ids)[0]}


def predicted_ids(t: TestLabels, predicted: Sequence[Any]) -> np.ndarray:
    """Ids of the model's labels in ``t``'s encoding (a new label gets a new id)."""
    index = dict(t.index)
    return coverage.encode_predictions(
        [tuple(p) if t.multi_label else p for p in predicted], index)


def model_agreement(t: TestLabels, predicted: Sequence[Any],
                    mask: np.ndarray | None = None) -> dict[str, Any]:
    """Model vs every coder (mean kappa, percent agreement, alpha with the model) and vs
    the coders' majority label (accuracy, macro F1, per label)."""
    idx = np.arange(len(t.ids)) if mask is None else np.flatnonzero(mask)
    pred = [predicted[int(i)] for i in idx]
    kappas: list[float | None] = []
    alphas: list[float] = []
    for data, cats in _targets(t):
        sub = data[idx]
        if t.multi_label:
            lab = t.labels[len(kappas)]
            model = np.array([int(lab in p) for p in pred], dtype=np.int64)
        else:
            index = dict(t.index)
            model = coverage.encode_predictions(pred, index)
            cats = tuple(sorted(index, key=index.__getitem__))
        kappas.append(nanmean([coefficient(_ratings(np.column_stack([sub[:, c], model]), cats,
                                                    (t.coders[c], "model")), "kappa")[0]
                               for c in range(sub.shape[1])]))
        alphas.append(coefficient(_ratings(np.column_stack([sub, model]), cats,
                                           (*t.coders, "model")), "alpha")[0])
    pa = coverage.model_human(predicted_ids(t, pred), t.ids[idx])[0] if len(idx) else None
    out: dict[str, Any] = {"n_units": int(len(idx)), "mean_kappa": nanmean(kappas),
                           "percent_agreement": pa,
                           "krippendorff_alpha_with_model": nanmean(alphas)}
    if len(idx) == 0:
        return out
    ref = [t.reference[int(i)] for i in idx]
    labels = list(t.labels)
    if t.multi_label:
        y_true = np.array([[lab in r for lab in labels] for r in ref], dtype=int)
        y_pred = np.array([[lab in p for lab in labels] for p in pred], dtype=int)
        out["accuracy"] = float((y_true == y_pred).mean())
    else:
        y_true, y_pred = np.asarray(ref, dtype=object), np.asarray(pred, dtype=object)
        out["accuracy"] = float(accuracy_score(y_true, y_pred))
    kw = {"labels": list(range(len(labels))) if t.multi_label else labels, "zero_division": 0}
    out["macro_f1"] = float(f1_score(y_true, y_pred, average="macro", **kw))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, **kw)
    out["per_label"] = {lab: {"precision": float(p[i]), "recall": float(r[i]),
                              "f1": float(f[i]), "support": int(s[i])}
                        for i, lab in enumerate(labels)}
    return out


def calibration_error(t: TestLabels, proba: np.ndarray, classes: Sequence[str],
                      predicted: Sequence[Any], confidence: np.ndarray) -> float | None:
    """Expected calibration error on the test set: single-label, each suggestion's
    confidence against the share of coders giving its label; multi-label, every (segment,
    code) decision's max(p, 1 - p) against the share of coders making the same decision."""
    P = np.asarray(proba, dtype=np.float64)
    if t.multi_label:
        confs, hits = [], []
        for j, lab in enumerate(classes):
            m = t.per_code.get(lab)
            if m is None:
                continue
            decision = (P[:, j] >= 0.5).astype(np.int64)
            confs.append(np.maximum(P[:, j], 1 - P[:, j]))
            hits.append(coverage.agreement_share(decision, m))
        if not confs:
            return None
        conf, hit = np.concatenate(confs), np.concatenate(hits)
    else:
        conf = np.asarray(confidence, dtype=np.float64)
        hit = coverage.agreement_share(predicted_ids(t, list(predicted)), t.ids)
    keep = ~np.isnan(hit)
    return expected_calibration_error(conf[keep], hit[keep])


def risk_coverage(t: TestLabels, predicted: Sequence[Any], confidence: np.ndarray,
                  thresholds: Sequence[float] = coverage.THRESHOLDS) -> list[dict[str, Any]]:
    """Risk–coverage rows (:func:`isp_nlp.agreement.coverage.risk_coverage`)."""
    return coverage.risk_coverage(predicted_ids(t, predicted), np.asarray(confidence), t.ids,
                                  thresholds)


def covered_row(t: TestLabels, predicted: Sequence[Any], confidence: np.ndarray,
                threshold: float) -> dict[str, Any]:
    """One risk–coverage row at ``threshold``."""
    return coverage.covered_row(predicted_ids(t, predicted), np.asarray(confidence), t.ids,
                                threshold)
