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


def set_alpha(
    sets: pd.DataFrame, distance: str | Callable[[Any, Any], float] = "masi"
) -> UnitStats:
    """Krippendorff's alpha for multi-label codings: cells are frozensets (NaN = not
    coded), compared with MASI, Jaccard or a custom distance function."""
    function: Callable[[Any, Any], float]
    if isinstance(distance, str):
        if distance not in SET_DISTANCES:
            raise IspNlpError(
                f"The set distance '{distance}' is not known; expected "
                f"{' or '.join(SET_DISTANCES)}, so pass one of those or a function."
            )
        function = SET_DISTANCES[distance]
    else:
        function = distance
    cells = sets.to_numpy(dtype=object)
    present = np.array([[isinstance(v, frozenset | set) for v in row] for row in cells],
                       dtype=bool).reshape(cells.shape)
    labels = sorted({frozenset(v) for v in cells[present]}, key=lambda s: sorted(s))
    index = {s: i for i, s in enumerate(labels)}
    data = np.full(cells.shape, -1, dtype=np.int64)
    data[present] = [index[frozenset(v)] for v in cells[present]]
    ratings = Ratings(data, tuple(labels), tuple(str(c) for c in sets.columns))
    delta = custom_distance_matrix(labels, function)
    return unit_stats(ratings, "alpha", distance=delta)
