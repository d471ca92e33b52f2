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
    code_proba: np.ndarray | None,
    value_proba: np.ndarray | Sequence[np.ndarray] | None,
    code_threshold: float | np.ndarray = 0.5,
) -> np.ndarray:
    """Per-segment uncertainty in [0, 1]: how informative a coder's verdict would be
    (1 at the decision boundary, 0 when sure). The one definition, used by review
    ordering, next-to-code and :meth:`SuggesterModel.uncertainty`.

    The largest of (a) the code closest to its threshold, ``1 - |p - t| / span`` with
    ``span = t`` below the threshold and ``1 - t`` above it (``code_threshold``: one
    value or one per code), and (b) per single-choice dimension (``value_proba``: one
    matrix, or a list of one per dimension), one minus the margin between its two most
    probable values (a single column is a lone top probability: ``1 - p``).
    """
    parts: list[np.ndarray] = []
    n = 0
    if code_proba is not None:
        P = np.asarray(code_proba, dtype=np.float64)
        n = P.shape[0]
        if P.shape[1] > 0:
            t = np.broadcast_to(np.asarray(code_threshold, dtype=np.float64), P.shape)
            span = np.maximum(np.where(P < t, t, 1.0 - t), 1e-9)
            parts.append((1.0 - np.abs(P - t) / span).max(axis=1))
    if value_proba is None:
        values: list[np.ndarray] = []
    elif isinstance(value_proba, np.ndarray):
        values = [value_proba]
    else:
        values = list(value_proba)
    for block in values:
        S = np.asarray(block, dtype=np.float64)
        n = S.shape[0]
        if S.shape[1] > 0:
            top = -np.sort(-S, axis=1)
            second = top[:, 1] if S.shape[1] > 1 else np.zeros(n)
            parts.append(1.0 - (top[:, 0] - second))
    if not parts:
        return np.zeros(n, dtype=np.float64)
    return np.clip(np.max(parts, axis=0), 0.0, 1.0)
