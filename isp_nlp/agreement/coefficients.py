"""Reliability coefficients as additive per-unit statistics (numpy, no loops over units).

Data layout: a *ratings* matrix, units (rows) × coders (columns), each cell a
category index or -1 when the coder did not code the unit (see :func:`encode`).

Every coefficient is computed in two steps so that the bootstrap
(:mod:`isp_nlp.agreement.bootstrap`) can reuse it: :func:`unit_stats` returns one row of
additive contributions per unit plus a ``finish`` function that turns column
sums (one row per resample) into coefficient values. The point estimate is
``finish(stats.sum(axis=0))``.

Metrics (``METRICS``):

* ``percent`` - observed agreement: agreeing ordered pairs within units over
  pairable values (Krippendorff's observed agreement; with two coders the share
  of identical labels).
* ``kappa`` / ``pi`` - Cohen's kappa / Scott's pi for two coders; with more
  coders the mean over coder pairs (Light's kappa; mean pairwise pi).
* ``fleiss`` - Fleiss' kappa, in Gwet's (2014) form for missing ratings.
* ``alpha`` - Krippendorff's alpha (coincidence matrix), any level or distance.
* ``ac1`` - Gwet's AC1 (multi-rater, missing allowed; Gwet 2008/2014).
* ``bp`` - Brennan-Prediger (chance agreement 1/Q for Q categories).

At ``ordinal``/``interval``/``ratio`` level, kappa, pi, fleiss, ac1 (then AC2)
and bp use agreement weights: linear on category ranks for ordinal, quadratic
on values for interval and ratio. Alpha uses Krippendorff's own metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from isp_nlp.agreement.ratings import Ratings, check_level, encode, numeric_values
from isp_nlp.errors import IspNlpError

#: Every coefficient :func:`unit_stats` computes.
METRICS = ("percent", "kappa", "pi", "fleiss", "alpha", "ac1", "bp")
#: The coefficients also reported for each coder pair.
PAIR_METRICS = ("percent", "kappa", "pi")
Finish = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class UnitStats:
    """Additive per-unit contributions (units × p) and the function finishing their sums."""

    metric: str
    values: np.ndarray
    finish: Finish
    n_units: int  # units coded by at least two coders
    n_coders: int  # coders with at least one coding
    note: str = ""

    def estimate(self) -> float:
        """The coefficient on the full data (NaN when undefined)."""
        with np.errstate(all="ignore"):
            return float(self.finish(self.values.sum(axis=0)[None, :])[0])


# --------------------------------------------------------------------------- distances, weights


def distance_matrix(ratings: Ratings, level: str) -> np.ndarray | None:
    """Krippendorff's squared distance between categories (None for ordinal: it
    depends on the category frequencies and is computed per resample)."""
    check_level(level)
    k = ratings.n_categories
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        return None
    v = numeric_values(ratings, level)
    diff = v[:, None] - v[None, :]
    if level == "interval":
        return diff**2
    total = v[:, None] + v[None, :]
    with np.errstate(all="ignore"):
        return np.where(total == 0, 0.0, (diff / np.where(total == 0, 1, total)) ** 2)


def weight_matrix(ratings: Ratings, level: str) -> np.ndarray:
    """Agreement weights: identity (nominal), linear on ranks (ordinal), quadratic on
    values (interval, ratio); 1 on the diagonal, 0 for the most distant categories."""
    check_level(level)
    k = ratings.n_categories
    if level == "nominal" or k < 2:
        return np.eye(k)
    if level == "ordinal":
        r = np.arange(k, dtype=float)
        return 1.0 - np.abs(r[:, None] - r[None, :]) / (k - 1)
    v = numeric_values(ratings, level)
    span = v.max() - v.min()
    if span == 0:
        return np.ones((k, k))
    return 1.0 - ((v[:, None] - v[None, :]) / span) ** 2


# --------------------------------------------------------------------------- per-unit statistics


def _base(ratings: Ratings) -> tuple[np.ndarray, np.ndarray, int, int]:
    counts = ratings.counts()
    m = counts.sum(axis=1)
    n_coders = int((ratings.data >= 0).any(axis=0).sum())
    return counts, m, int((m >= 2).sum()), n_coders


def _alpha_stats(ratings: Ratings, delta: np.ndarray | None) -> tuple[np.ndarray, Finish]:
    counts, m, _, _ = _base(ratings)
    pairable = m >= 2
    inv = np.where(pairable, 1.0 / np.where(pairable, m - 1, 1), 0.0)
    k = ratings.n_categories
    n_u = counts[:, :k] * pairable[:, None]  # counts keep one column when k = 0
    if delta is None:  # ordinal: keep the coincidence cells; distances follow the marginals
        o_u = (n_u[:, :, None] * n_u[:, None, :]).reshape(len(m), k * k)
        o_u[:, np.arange(k) * (k + 1)] -= n_u
        return o_u * inv[:, None], _finish_ordinal(k)
    if k * k <= 4 * ratings.data.shape[1] ** 2:
        d_u = np.einsum("uc,ck,uk->u", n_u, delta, n_u, optimize=True)  # BLAS is slow here
    else:  # many categories (e.g. label sets): sum over coder pairs instead
        d_u = np.zeros(len(m))
        x = ratings.data
        for i, j in combinations(range(x.shape[1]), 2):
            both = (x[:, i] >= 0) & (x[:, j] >= 0)
            d_u[both] += 2 * delta[x[both, i], x[both, j]]
    stats = np.column_stack([d_u * inv, n_u])

    def finish(sums: np.ndarray) -> np.ndarray:
        n_c = sums[:, 1:]
        n = n_c.sum(axis=1)
        expected = ((n_c @ delta) * n_c).sum(axis=1)
        return 1.0 - (n - 1) * sums[:, 0] / expected

    return stats, finish


def _finish_ordinal(k: int) -> Finish:
    def finish(sums: np.ndarray) -> np.ndarray:
        o = sums.reshape(-1, k, k)
        n_c = o.sum(axis=2)
        mid = np.cumsum(n_c, axis=1) - n_c / 2
        delta = (mid[:, :, None] - mid[:, None, :]) ** 2
        n = n_c.sum(axis=1)
        observed = (o * delta).sum(axis=(1, 2))
        expected = np.einsum("rc,rck,rk->r", n_c, delta, n_c)
        return 1.0 - (n - 1) * observed / expected

    return finish


def _percent_stats(ratings: Ratings) -> tuple[np.ndarray, Finish]:
    counts, m, _, _ = _base(ratings)
    pairable = m >= 2
    agree = (counts * (counts - 1)).sum(axis=1) / np.where(pairable, m - 1, 1)
    stats = np.column_stack([agree * pairable, m * pairable])
    return stats, lambda s: s[:, 0] / s[:, 1]


def _gwet_stats(ratings: Ratings, metric: str, weights: np.ndarray) -> tuple[np.ndarray, Finish]:
    """Gwet's multi-rater framework: p_a over units with 2+ ratings, pi_k over units with 1+."""
    counts, m, _, _ = _base(ratings)
    q = ratings.n_categories
    pairable = m >= 2
    weighted = counts if np.array_equal(weights, np.eye(q)) else np.einsum(
        "uk,kl->ul", counts, weights)
    denom = np.where(pairable, m * (m - 1), 1)
    p_a = (counts * (weighted - 1)).sum(axis=1) / denom * pairable
    rated = m >= 1
    share = counts / np.where(rated, m, 1)[:, None]
    stats = np.column_stack([p_a, pairable, rated, share])
    total_w = weights.sum()

    def finish(sums: np.ndarray) -> np.ndarray:
        pa = sums[:, 0] / sums[:, 1]
        pi = sums[:, 3:] / sums[:, 2:3]
        if metric == "fleiss":
            pe = ((pi @ weights) * pi).sum(axis=1)
        elif metric == "ac1":
            pe = total_w * (pi * (1 - pi)).sum(axis=1) / (q * (q - 1)) if q > 1 else pa * np.nan
        else:  # bp
            pe = np.full_like(pa, total_w / q**2)
        return (pa - pe) / (1 - pe)

    return stats, finish


def _pair_stats(ratings: Ratings, metric: str, weights: np.ndarray) -> tuple[np.ndarray, Finish]:
    """Contingency tables of every coder pair (units × pairs·K²); mean of pairwise values."""
    k = ratings.n_categories
    x = ratings.data
    pairs = list(combinations(range(x.shape[1]), 2))
    n = x.shape[0]
    tables = np.zeros((n, len(pairs) * k * k))
    rows = np.arange(n)
    for p, (i, j) in enumerate(pairs):
        both = (x[:, i] >= 0) & (x[:, j] >= 0)
        tables[rows[both], p * k * k + x[both, i] * k + x[both, j]] = 1.0
    scott = metric == "pi"

    def finish(sums: np.ndarray) -> np.ndarray:
        t = sums.reshape(sums.shape[0], len(pairs), k, k)
        total = t.sum(axis=(2, 3))
        p = t / np.where(total == 0, np.nan, total)[:, :, None, None]
        po = (p * weights).sum(axis=(2, 3))
        a, b = p.sum(axis=3), p.sum(axis=2)
        if scott:
            a = b = (a + b) / 2
        pe = np.einsum("rpk,kl,rpl->rp", a, weights, b)
        with np.errstate(all="ignore"):
            values = (po - pe) / (1 - pe)
        values = np.where(np.isclose(pe, 1.0), np.nan, values)
        defined = ~np.isnan(values)
        return np.where(defined.any(axis=1), np.nansum(values, axis=1)
                        / np.maximum(defined.sum(axis=1), 1), np.nan)

    return tables, finish


def check_metric(metric: str) -> None:
    """Raise unless ``metric`` is one of :data:`METRICS`."""
    if metric not in METRICS:
        raise IspNlpError(
            f"The metric '{metric}' is not known; expected one of {', '.join(METRICS)}, "
            "so pass one of those."
        )


def unit_stats(
    ratings: Ratings,
    metric: str,
    *,
    level: str = "nominal",
    distance: np.ndarray | None = None,
) -> UnitStats:
    """Per-unit additive statistics for ``metric`` (see ``METRICS``).

    ``distance`` (alpha only) overrides the level with a custom K × K distance
    matrix between categories, e.g. from :func:`custom_distance_matrix`.
    """
    check_metric(metric)
    check_level(level)
    _, _, n_units, n_coders = _base(ratings)
    if metric == "alpha":
        delta = distance if distance is not None else distance_matrix(ratings, level)
        values, finish = _alpha_stats(ratings, delta)
    elif metric == "percent":
        values, finish = _percent_stats(ratings)
    elif metric in ("kappa", "pi"):
        values, finish = _pair_stats(ratings, metric, weight_matrix(ratings, level))
    else:
        values, finish = _gwet_stats(ratings, metric, weight_matrix(ratings, level))
    stats = UnitStats(metric, values, finish, n_units, n_coders)
    return UnitStats(metric, values, finish, n_units, n_coders, _why_undefined(stats, ratings))


def _why_undefined(stats: UnitStats, ratings: Ratings) -> str:
    """'' when the coefficient is defined, else the reason it is NaN."""
    if stats.n_coders < 2:
        return f"{stats.metric} undefined: fewer than 2 coders"
    if stats.n_units == 0:
        return f"{stats.metric} undefined: no unit coded by at least 2 coders"
    if not math.isnan(stats.estimate()):
        return ""
    used = np.unique(ratings.data[ratings.data >= 0])
    if stats.metric == "ac1" and ratings.n_categories < 2:
        return "ac1 undefined: needs at least 2 categories"
    if len(used) == 1:
        return f"{stats.metric} undefined: every coding is label {ratings.categories[used[0]]}"
    if stats.metric in ("kappa", "pi"):
        return f"{stats.metric} undefined: no coder pair has units coded by both with 2+ labels"
    return f"{stats.metric} undefined: expected disagreement is 0"


def coefficient(
    table: pd.DataFrame | np.ndarray | Ratings,
    metric: str,
    *,
    level: str = "nominal",
    categories: Sequence[Hashable] | None = None,
) -> tuple[float, str]:
    """The coefficient on a units × coders table and a note ('' or why it is NaN)."""
    ratings = table if isinstance(table, Ratings) else encode(table, categories=categories)
    stats = unit_stats(ratings, metric, level=level)
    return stats.estimate(), stats.note


