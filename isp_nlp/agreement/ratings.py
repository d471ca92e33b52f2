"""Ratings matrices for :mod:`isp_nlp.agreement.coefficients`: units × coders category indices
(-1 = not coded), built from label tables by :func:`encode`."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from isp_nlp.errors import IspNlpError

#: Levels of measurement.
LEVELS = ("nominal", "ordinal", "interval", "ratio")


@dataclass(frozen=True, eq=False)
class Ratings:
    """Units × coders category indices (-1 = missing) and the category labels."""

    data: np.ndarray
    categories: tuple[Hashable, ...]
    coders: tuple[str, ...]

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    def counts(self) -> np.ndarray:
        """Units × categories: how many coders gave each category to each unit."""
        return self._counts

    @cached_property
    def _counts(self) -> np.ndarray:
        n_units, k = self.data.shape[0], max(self.n_categories, 1)
        flat = (np.arange(n_units)[:, None] * k + self.data)[self.data >= 0]
        return np.bincount(flat, minlength=n_units * k).reshape(n_units, k).astype(float)

    def select(self, coders: Sequence[str]) -> Ratings:
        index = [self.coders.index(c) for c in coders]
        return Ratings(self.data[:, index], self.categories, tuple(coders))

# --------------------------------------------------------------------------- encoding


def _label_key(value: Hashable) -> tuple[int, float, str]:
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, f"{type(value).__name__}:{value}")


def _clean(value: Any) -> Hashable:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def encode(
    table: pd.DataFrame | np.ndarray,
    *,
    categories: Sequence[Hashable] | None = None,
    coders: Sequence[str] | None = None,
) -> Ratings:
    """Encode a units × coders table (NaN/None = not coded) as :class:`Ratings`.

    ``categories`` declares the label set and its order (needed for ordinal text
    labels; it also fixes Q for AC1 and Brennan-Prediger). Without it the
    observed labels are used, numbers sorted numerically before text.
    """
    if isinstance(table, pd.DataFrame):
        names = tuple(str(c) for c in table.columns)
        array = table.to_numpy()
    else:
        array = np.asarray(table)
        if array.ndim != 2:
            raise IspNlpError(
                f"The ratings have {array.ndim} dimension(s); expected a units x coders "
                "table, so pass a 2-D array or DataFrame."
            )
        names = tuple(f"coder{i + 1}" for i in range(array.shape[1]))
    if coders is not None:
        names = tuple(coders)
    if array.dtype.kind in "fiub":
        floats = array.astype(float)
        present = ~np.isnan(floats)
        found, inverse = _factorize_numbers(floats[present])
        labels: list[Hashable] = [_clean(v) for v in found]
    else:
        present = ~pd.isna(array)
        codes, uniques = pd.factorize(np.asarray(array[present], dtype=object), sort=False)
        labels = [_clean(v) for v in uniques]
        order = sorted(range(len(labels)), key=lambda i: _label_key(labels[i]))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        inverse = rank[codes] if len(codes) else codes
        labels = [labels[i] for i in order]
    data = np.full(array.shape, -1, dtype=np.int64)
    if categories is not None:
        declared = [_clean(c) for c in categories]
        position = {c: i for i, c in enumerate(declared)}
        unknown = [v for v in labels if v not in position]
        if unknown:
            raise IspNlpError(
                f"The label '{unknown[0]}' is not among the declared categories "
                f"({', '.join(map(str, declared))}); add it to the categories or fix the label."
            )
        remap = np.array([position[v] for v in labels], dtype=np.int64)
        data[present] = remap[inverse] if len(labels) else inverse
        labels = declared
    else:
        data[present] = inverse
    return Ratings(data, tuple(labels), names)


def _factorize_numbers(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and each value's index; O(n) for small whole numbers."""
    if values.size and np.all(values == np.round(values)):
        low, high = values.min(), values.max()
        if high - low < 100_000:
            shifted = (values - low).astype(np.int64)
            seen = np.flatnonzero(np.bincount(shifted))
            lookup = np.zeros(int(high - low) + 1, dtype=np.int64)
            lookup[seen] = np.arange(len(seen))
            return seen + low, lookup[shifted]
    found, inverse = np.unique(values, return_inverse=True)
    return found, inverse


def numeric_values(ratings: Ratings, level: str) -> np.ndarray:
    """The categories as numbers, or a clear error when a label is not a number."""
    out = []
    for label in ratings.categories:
        try:
            number = float(label)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = math.nan
        if math.isnan(number) or isinstance(label, bool):
            raise IspNlpError(
                f"The label '{label}' is not a number but {level} agreement needs numeric "
                "labels, so use level 'nominal' or numeric labels."
            )
        if level == "ratio" and number < 0:
            raise IspNlpError(
                f"The label '{label}' is negative but ratio agreement needs values of 0 or "
                "more, so use level 'interval' or non-negative labels."
            )
        out.append(number)
    return np.array(out, dtype=float)


def check_level(level: str) -> None:
    """Raise unless ``level`` is one of :data:`LEVELS`."""
    if level not in LEVELS:
        raise IspNlpError(
            f"The agreement level '{level}' is not known; expected one of "
            f"{', '.join(LEVELS)}, so pass one of those."
        )

