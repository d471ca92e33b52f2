"""Nearest human-coded exemplars (evidence) and review-order uncertainty scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from isp_nlp.embed import l2_normalise


def nearest_exemplars(
    X: np.ndarray,
    segment_ids: Sequence[str],
    exemplars: np.ndarray,
    exemplar_ids: Sequence[str],
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (indices, similarities), each (n, k'), of the k most cosine-similar exemplars.

    Rows are sorted by decreasing similarity (ties by exemplar order). An
    exemplar whose id equals the scored segment's id is never returned, so
    ``k' = min(k, n_exemplars - 1)`` when any segment is itself an exemplar
    (else ``min(k, n_exemplars)``); missing slots hold index -1 and
    similarity NaN.
    """
    n, m = X.shape[0], exemplars.shape[0]
    if len(segment_ids) != n or len(exemplar_ids) != m:
        raise ValueError("nearest_exemplars needs one id per row of X and of exemplars")
    k = max(0, min(int(k), m))
    if n == 0 or k == 0:
        return np.zeros((n, 0), dtype=np.intp), np.zeros((n, 0), dtype=np.float64)
    sims = l2_normalise(X).astype(np.float64) @ l2_normalise(exemplars).astype(np.float64).T
    position = {sid: j for j, sid in enumerate(exemplar_ids)}
    for i, sid in enumerate(segment_ids):
        j = position.get(sid)
        if j is not None:
            sims[i, j] = -np.inf
    # Stable sort on -similarity keeps exemplar order among ties (deterministic).
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(sims, order, axis=1)
    excluded = np.isneginf(top)
    order = np.where(excluded, -1, order)
    top = np.where(excluded, np.nan, top)
    if excluded[:, -1].all():
        order, top = order[:, :-1], top[:, :-1]
    return order, top


def uncertainty_scores(
    code_proba: np.ndarray | None, stage_proba: np.ndarray | None
) -> np.ndarray:
    """Per-segment uncertainty in [0, 1] for review ordering (higher = review first).

    Codes: ``1 - min_j |2 p_j - 1|``, i.e. how close the most borderline code
    is to 0.5. Stage: entropy of the stage distribution divided by
    ``log(n_stages)``. When both are given the score is their mean.
    """
    parts: list[np.ndarray] = []
    if code_proba is not None and code_proba.shape[1] > 0:
        margin = np.abs(2.0 * np.asarray(code_proba, dtype=np.float64) - 1.0)
        parts.append(1.0 - margin.min(axis=1))
    if stage_proba is not None and stage_proba.shape[1] > 1:
        p = np.clip(np.asarray(stage_proba, dtype=np.float64), 1e-12, 1.0)
        entropy = -(p * np.log(p)).sum(axis=1) / np.log(p.shape[1])
        parts.append(np.clip(entropy, 0.0, 1.0))
    if not parts:
        n = 0
        for proba in (code_proba, stage_proba):
            if proba is not None:
                n = proba.shape[0]
        return np.zeros(n, dtype=np.float64)
    return np.mean(parts, axis=0)
