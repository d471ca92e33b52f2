"""Risk–coverage: model–human beside human–human agreement on the same covered units.

For a confidence threshold t, S(t) is the units whose suggestion has confidence >= t;
*coverage* is |S(t)| / N; *model–human agreement* on S is the mean over coders of the
percent agreement (model, coder) on the units of S that coder coded; *human–human
agreement* on S is the mean over coder pairs of their percent agreement on S; Cohen's
kappa is reported beside both where defined. *Parity* holds at t when model–human >=
human–human. Labels are integer ids (units × coders, -1 = not coded): a single label, or
one id per distinct set of codes (exact-set agreement). Pure numpy, no loops over units.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

#: Thresholds of a risk–coverage table (0, 0.05, ..., 0.95).
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(20))


def encode_labels(rows: Sequence[Mapping[str, Any]], coders: Sequence[str],
                  index: dict[Hashable, int] | None = None) -> tuple[np.ndarray, dict]:
    """(units × coders id matrix, label -> id) for ``rows[i][coder] = label``."""
    index = {} if index is None else index
    out = np.full((len(rows), len(coders)), -1, dtype=np.int64)
    col = {c: j for j, c in enumerate(coders)}
    for i, row in enumerate(rows):
        for coder, label in row.items():
            out[i, col[coder]] = index.setdefault(label, len(index))
    return out, index


def encode_predictions(predicted: Sequence[Hashable], index: dict[Hashable, int]) -> np.ndarray:
    """Ids of predicted labels (a label no coder used gets a new id)."""
    return np.fromiter((index.setdefault(p, len(index)) for p in predicted), dtype=np.int64,
                       count=len(predicted))


def percent(a: np.ndarray, b: np.ndarray) -> float:
    """Share of units (both coded) on which two id vectors agree; NaN without such units."""
    both = (a >= 0) & (b >= 0)
    return float((a[both] == b[both]).mean()) if both.any() else math.nan


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two id vectors on units both coded (NaN when undefined)."""
    both = (a >= 0) & (b >= 0)
    if not both.any():
        return math.nan
    x, y = a[both], b[both]
    _, inv = np.unique(np.concatenate([x, y]), return_inverse=True)
    k = int(inv.max()) + 1
    xi, yi = inv[: len(x)], inv[len(x):]
    po = float((xi == yi).mean())
    pe = float(np.dot(np.bincount(xi, minlength=k), np.bincount(yi, minlength=k))) / len(x) ** 2
    return math.nan if math.isclose(pe, 1.0) else (po - pe) / (1 - pe)


def _mean(values: Sequence[float]) -> float | None:
    vals = [v for v in values if not math.isnan(v)]
    return float(np.mean(vals)) if vals else None


def model_human(pred: np.ndarray, labels: np.ndarray) -> tuple[float | None, float | None]:
    """(mean percent agreement, mean kappa) of the model with each coder."""
    cols = range(labels.shape[1])
    return (_mean([percent(pred, labels[:, c]) for c in cols]),
            _mean([kappa(pred, labels[:, c]) for c in cols]))


def human_human(labels: np.ndarray) -> tuple[float | None, float | None]:
    """(mean percent agreement, mean kappa) over coder pairs; None with one coder."""
    pairs = list(combinations(range(labels.shape[1]), 2))
    return (_mean([percent(labels[:, i], labels[:, j]) for i, j in pairs]),
            _mean([kappa(labels[:, i], labels[:, j]) for i, j in pairs]))


def double_coded_agreement(rows: Sequence[Mapping[str, Hashable]]) -> float | None:
    """Mean pairwise percent agreement over the rows (coder -> label) that two or more
    coders labelled; None when no row is double-coded."""
    shared = [r for r in rows if len(r) >= 2]
    if not shared:
        return None
    ids, _ = encode_labels(shared, sorted({c for r in shared for c in r}))
    return human_human(ids)[0]


def agreement_share(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per unit, the share of its coders whose label the model's matches (NaN: no coder)."""
    coded = labels >= 0
    hits = ((labels == pred[:, None]) & coded).sum(axis=1)
    n = coded.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hits / np.maximum(n, 1), np.nan)


def covered_row(pred: np.ndarray, conf: np.ndarray, labels: np.ndarray,
                threshold: float) -> dict[str, Any]:
    """One risk–coverage row at ``threshold``."""
    return masked_row(pred, labels, conf >= threshold - 1e-12, threshold)


def masked_row(pred: np.ndarray, labels: np.ndarray, mask: np.ndarray,
               threshold: float | None) -> dict[str, Any]:
    """A risk–coverage row for the covered units ``mask`` (e.g. a threshold per unit)."""
    sub_p, sub_l = pred[mask], labels[mask]
    mh_a, mh_k = model_human(sub_p, sub_l) if mask.any() else (None, None)
    hh_a, hh_k = human_human(sub_l) if mask.any() else (None, None)
    return {"threshold": None if threshold is None else float(threshold),
            "coverage": float(mask.mean()) if len(mask) else 0.0,
            "n_units": int(mask.sum()),
            "model_human_agreement": mh_a, "human_human_agreement": hh_a,
            "model_human_kappa": mh_k, "human_human_kappa": hh_k,
            "parity": parity(mh_a, hh_a)}


def parity(model: float | None, humans: float | None) -> bool | None:
    """model >= humans (within rounding); None when either is undefined."""
    if model is None or humans is None:
        return None
    return model >= humans - 1e-12


def risk_coverage(pred: np.ndarray, conf: np.ndarray, labels: np.ndarray,
                  thresholds: Sequence[float] = THRESHOLDS) -> list[dict[str, Any]]:
    """A :func:`covered_row` for every threshold."""
    return [covered_row(pred, conf, labels, t) for t in thresholds]


def parity_coverage(rows: Sequence[dict[str, Any]]) -> float | None:
    """The largest coverage of a row where parity holds (0.0 if none; None if undefined)."""
    flags = [r for r in rows if r["parity"] is not None]
    if not flags:
        return None
    held = [r["coverage"] for r in flags if r["parity"] and r["n_units"] > 0]
    return max(held) if held else 0.0


def mean_rows(runs: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Average risk–coverage tables of several repeats, threshold by threshold; parity is
    judged on the averaged agreements."""
    out = []
    for rows in zip(*runs, strict=True):
        row: dict[str, Any] = {"threshold": rows[0]["threshold"]}
        for key in ("coverage", "n_units", "model_human_agreement", "human_human_agreement",
                    "model_human_kappa", "human_human_kappa"):
            vals = [r[key] for r in rows if r[key] is not None]
            row[key] = float(np.mean(vals)) if vals else None
        row["n_units"] = round(row["n_units"] or 0)
        row["parity"] = parity(row["model_human_agreement"], row["human_human_agreement"])
        out.append(row)
    return out
