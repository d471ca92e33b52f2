"""Krippendorff's alpha for multi-label codings: set distances (Jaccard, MASI) and
:func:`set_alpha` over cells that are sets of labels."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from isp_nlp.agreement.coefficients import UnitStats, unit_stats
from isp_nlp.agreement.ratings import Ratings
from isp_nlp.errors import IspNlpError


def custom_distance_matrix(
    categories: Sequence[Hashable], distance: Callable[[Any, Any], float]
) -> np.ndarray:
    """Distances between every pair of category labels from a function ``distance(a, b)``."""
    k = len(categories)
    out = np.zeros((k, k))
    for i, j in combinations(range(k), 2):
        out[i, j] = out[j, i] = float(distance(categories[i], categories[j]))
    return out


def jaccard_distance(a: frozenset, b: frozenset) -> float:
    """1 - |a ∩ b| / |a ∪ b| (two empty sets are identical: 0)."""
    union = len(a | b)
    return 0.0 if union == 0 else 1.0 - len(a & b) / union


def masi_distance(a: frozenset, b: frozenset) -> float:
    """Passonneau's MASI: 1 - Jaccard × monotonicity (1 equal, 2/3 subset, 1/3 overlap, 0)."""
    if a == b:
        return 0.0
    if a <= b or b <= a:
        m = 2 / 3
    elif a & b:
        m = 1 / 3
    else:
        m = 0.0
    return 1.0 - (1.0 - jaccard_distance(a, b)) * m


#: Named distances between label sets.
SET_DISTANCES: dict[str, Callable[[frozenset, frozenset], float]] = {
    "masi": masi_distance, "jaccard": jaccard_distance}


def _distance_function(distance: str | Callable[[Any, Any], float]) -> Callable[[Any, Any], float]:
    if not isinstance(distance, str):
        return distance
    if distance not in SET_DISTANCES:
        raise IspNlpError(
            f"The set distance '{distance}' is not known; expected "
            f"{' or '.join(SET_DISTANCES)}, so pass one of those or a function."
        )
    return SET_DISTANCES[distance]


def set_alpha(
    sets: pd.DataFrame, distance: str | Callable[[Any, Any], float] = "masi"
) -> UnitStats:
    """Krippendorff's alpha for multi-label codings: cells are frozensets (NaN = not
    coded), compared with MASI, Jaccard or a custom distance function."""
    function = _distance_function(distance)
    return set_ratings_alpha(set_ratings(sets), function)


def set_ratings(sets: pd.DataFrame) -> Ratings:
    """Ratings of a frame of set cells (NaN = not coded); the categories are the sets
    found, ordered by their sorted members."""
    cells = sets.to_numpy(dtype=object)
    present = np.array([[isinstance(v, frozenset | set) for v in row] for row in cells],
                       dtype=bool).reshape(cells.shape)
    labels = sorted({frozenset(v) for v in cells[present]}, key=lambda s: sorted(s))
    index = {s: i for i, s in enumerate(labels)}
    data = np.full(cells.shape, -1, dtype=np.int64)
    data[present] = [index[frozenset(v)] for v in cells[present]]
    return Ratings(data, tuple(labels), tuple(str(c) for c in sets.columns))


def set_ratings_alpha(
    ratings: Ratings, distance: str | Callable[[Any, Any], float] = "masi"
) -> UnitStats:
    """:func:`set_alpha` of ratings whose categories are frozensets (e.g. from
    :func:`code_set_ratings`)."""
    delta = custom_distance_matrix(ratings.categories, _distance_function(distance))
    return unit_stats(ratings, "alpha", distance=delta)


def code_set_ratings(presence: np.ndarray, seen: np.ndarray, codes: Sequence[str],
                     coders: Sequence[str]) -> Ratings:
    """Ratings whose categories are the sets of codes each coder applied to each unit:
    ``presence`` is units × coders × codes (True = applied), ``seen`` units × coders
    (False = not coded). The same ratings :func:`set_alpha` builds from frozenset cells,
    made from bits: memory and time grow with the units, not with Python sets per cell."""
    n_codes = presence.shape[2]
    keys, inverse = np.unique(np.packbits(presence[seen], axis=1), axis=0, return_inverse=True)
    found = [frozenset(c for c, bit in zip(codes, np.unpackbits(key)[:n_codes], strict=True)
                       if bit) for key in keys]
    order = sorted(range(len(found)), key=lambda i: sorted(found[i]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    data = np.full(seen.shape, -1, dtype=np.int64)
    data[seen] = rank[inverse.ravel()]
    return Ratings(data, tuple(found[i] for i in order), tuple(coders))
