"""Percentile bootstrap confidence intervals for the coefficients in
:mod:`isp_nlp.agreement.coefficients`.

Resampling works on the additive per-unit statistics: each resample's sums are
a weight vector (how often each unit, or each document, was drawn) times the
per-unit statistics, so 1,000 resamples cost a few matrix products instead of
1,000 recomputations. ``by="document"`` first sums the statistics of each
document and resamples whole documents (cluster bootstrap).

For large tables the statistics are summed per cluster as soon as they are computed
(:func:`summed`), and jobs over the same number of clusters run together
(:func:`bootstrap_stacked`): with a seed they would draw identical weights, so each chunk
of weights is drawn once for all of them. Each job keeps its own matrix product, so every
interval is bit-for-bit what the job gives alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from isp_nlp.agreement.coefficients import Finish, UnitStats
from isp_nlp.errors import IspNlpError

BY = ("segment", "document")
_CHUNK_CELLS = 2_000_000  # weights matrix entries per chunk (16 MB of float64)


@dataclass(frozen=True)
class Estimate:
    """A coefficient with its percentile bootstrap interval (NaN when undefined)."""

    metric: str
    value: float
    ci_low: float
    ci_high: float
    n_units: int
    n_coders: int
    note: str = ""

    def to_dict(self) -> dict[str, float | int | str | None]:
        """JSON-safe: NaN becomes None."""
        def num(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        return {"value": num(self.value), "ci_low": num(self.ci_low),
                "ci_high": num(self.ci_high), "n_units": self.n_units,
                "n_coders": self.n_coders, "note": self.note}


def check_confidence(level: float) -> None:
    """Raise unless ``level`` is a confidence level in (0, 1)."""
    if not 0 < level < 1:
        raise IspNlpError(
            f"The confidence level {level} is outside (0, 1); expected e.g. 0.95, so pass a "
            "number between 0 and 1."
        )


@dataclass(frozen=True, eq=False)
class Clusters:
    """Which cluster (document, or segment of pooled units) each unit belongs to.

    ``index`` numbers the clusters in the sorted order of their names (as text), as
    the cluster bootstrap resamples them; ``run`` > 0 says instead that cluster ``i``
    is units ``i*run`` to ``(i+1)*run - 1`` (no index needed).
    """

    n_units: int
    n_clusters: int
    index: np.ndarray | None = None
    run: int = 0

    @classmethod
    def of(cls, groups: Sequence | np.ndarray) -> Clusters:
        """The clusters of a label per unit."""
        _, index = np.unique(np.asarray(groups).astype(str), return_inverse=True)
        index = index.ravel()
        return cls(len(index), int(index.max()) + 1 if len(index) else 0, index)

    @classmethod
    def runs(cls, n_clusters: int, run: int) -> Clusters:
        """``n_clusters`` clusters of ``run`` consecutive units each."""
        return cls(n_clusters * run, n_clusters, None, run)

    def repeat(self, run: int) -> Clusters:
        """The clusters of units each repeated ``run`` times in a row."""
        if self.index is None:
            return Clusters.runs(self.n_clusters, self.run * run)
        return Clusters(self.n_units * run, self.n_clusters, np.repeat(self.index, run))

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per-cluster sums of the rows of ``values``, each added in row order."""
        if self.n_units != len(values):
            raise IspNlpError(
                f"The unit-to-document map has {self.n_units} entries for {len(values)} "
                "units; expected one document per unit, so build it from the same table."
            )
        out = np.zeros((self.n_clusters, values.shape[1]))
        if self.index is None:
            for j in range(self.run):
                out += values[j::self.run]
        else:
            np.add.at(out, self.index, values)
        return out


Groups = Sequence | np.ndarray | Clusters | None


def _clusters(groups: Groups) -> Clusters | None:
    return groups if groups is None or isinstance(groups, Clusters) else Clusters.of(groups)


def cluster_sums(values: np.ndarray, groups: Groups) -> np.ndarray:
    """Per-cluster sums of the per-unit statistics (units themselves when ``groups`` is None)."""
    clusters = _clusters(groups)
    return values if clusters is None else clusters.sums(values)


@dataclass(frozen=True, eq=False)
class Summed:
    """What the bootstrap keeps of :class:`UnitStats`: the estimate on the units and the
    statistics summed per cluster (None when the estimate is undefined)."""

    metric: str
    value: float
    sums: np.ndarray | None
    finish: Finish
    n_units: int
    n_coders: int
    note: str = ""


def summed(stats: UnitStats, groups: Groups = None) -> Summed:
    """``stats`` reduced to per-cluster sums, so that the per-unit rows can be freed."""
    value = stats.estimate()
    sums = None if math.isnan(value) else cluster_sums(stats.values, groups)
    return Summed(stats.metric, value, sums, stats.finish, stats.n_units, stats.n_coders,
                  stats.note)


def resampled_sums(
    values: np.ndarray, *, n_resamples: int = 1000, seed: int | None = None
) -> np.ndarray:
    """Column sums of ``n_resamples`` bootstrap resamples of the rows of ``values``."""
    n, p = values.shape
    if n == 0:
        return np.zeros((n_resamples, p))
    if seed is not None and n * n_resamples <= _CHUNK_CELLS:
        return _seeded_weights(n, n_resamples, seed) @ values
    rng = np.random.default_rng(seed)
    out = np.empty((n_resamples, p))
    chunk = max(1, min(n_resamples, _CHUNK_CELLS // n))
    for start in range(0, n_resamples, chunk):
        r = min(chunk, n_resamples - start)
        out[start:start + r] = _draw_weights(rng, n, r) @ values
    return out


def _draw_weights(rng: np.random.Generator, n: int, r: int) -> np.ndarray:
    """``r`` × ``n`` counts of how often each of ``n`` units is drawn in each resample."""
    draws = rng.integers(0, n, size=(r, n))
    weights = np.empty((r, n))
    for i in range(r):  # a count per row: no r*n index array, a third faster
        weights[i] = np.bincount(draws[i], minlength=n)
    return weights


@lru_cache(maxsize=4)
def _seeded_weights(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """The resampling weights of one seed, cached: every coefficient of a report with the
    same unit count reuses the same draws (identical to drawing them again)."""
    weights = _draw_weights(np.random.default_rng(seed), n, n_resamples)
    weights.setflags(write=False)
    return weights


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` percentile interval of the finite samples (NaN if none)."""
    check_confidence(level)
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap(
    stats: UnitStats,
    *,
    level: float = 0.95,
    n_resamples: int = 1000,
    groups: Groups = None,
    seed: int | None = None,
) -> Estimate:
    """Point estimate plus percentile CI, resampling units (or ``groups`` = documents).

    Resamples where the coefficient is undefined (e.g. every drawn unit has one
    label) are left out; the note says how many when any were.
    """
    return bootstrap_many([stats], level=level, n_resamples=n_resamples, groups=groups,
                          seed=seed)[0]


def _check_resampling(level: float, n_resamples: int) -> None:
    check_confidence(level)
    if n_resamples < 1:
        raise IspNlpError(
            f"The number of resamples is {n_resamples}; expected 1 or more, so pass e.g. 1000."
        )


def bootstrap_many(
    stats: Sequence[UnitStats],
    *,
    level: float = 0.95,
    n_resamples: int = 1000,
    groups: Groups = None,
    seed: int | None = None,
) -> list[Estimate]:
    """:func:`bootstrap` of several coefficients over the same units, sharing one set of
    resampling draws: the statistics are stacked side by side, so a large table draws
    its weights once instead of once per coefficient (same result with a ``seed``)."""
    _check_resampling(level, n_resamples)
    clusters = _clusters(groups)
    return bootstrap_summed([summed(s, clusters) for s in stats], level=level,
                            n_resamples=n_resamples, seed=seed)


def bootstrap_summed(
    stats: Sequence[Summed],
    *,
    level: float = 0.95,
    n_resamples: int = 1000,
    seed: int | None = None,
) -> list[Estimate]:
    """:func:`bootstrap_many` of statistics already summed per cluster (:func:`summed`)."""
    _check_resampling(level, n_resamples)
    return bootstrap_stacked([stack(stats)], level=level, n_resamples=n_resamples,
                             seed=seed)[0]


@dataclass(frozen=True, eq=False)
class Stacked:
    """One bootstrap job: coefficients over the same clusters, their sums side by side in
    ``values`` (None when none is defined); ``widths`` are their columns (0 = undefined)."""

    stats: tuple[Summed, ...]
    values: np.ndarray | None
    widths: tuple[int, ...]

    @property
    def cells(self) -> int:
        return 0 if self.values is None else int(self.values.size)


def stack(stats: Sequence[Summed]) -> Stacked:
    """The job of :func:`bootstrap_summed`; the stats keep no sums of their own."""
    blocks = [s.sums for s in stats if s.sums is not None]
    rows = {b.shape[0] for b in blocks}
    if len(rows) > 1:
        raise IspNlpError("bootstrap_many needs coefficients over the same units; "
                          f"got {sorted(rows)} rows")
    widths = tuple(0 if s.sums is None else s.sums.shape[1] for s in stats)
    values = np.hstack(blocks) if blocks else None
    kept = tuple(dataclasses.replace(s, sums=None) for s in stats)
    return Stacked(kept, values, widths)


def bootstrap_stacked(
    jobs: Sequence[Stacked],
    *,
    level: float = 0.95,
    n_resamples: int = 1000,
    seed: int | None = None,
) -> list[list[Estimate]]:
    """:func:`bootstrap_summed` of each job, exactly as if run one by one. With a seed,
    jobs over the same number of clusters draw identical weights, so they share one set of
    draws (each job's own product keeps its arithmetic)."""
    _check_resampling(level, n_resamples)
    present = [job.values for job in jobs if job.values is not None]
    resampled = iter(_resampled_many(present, n_resamples=n_resamples, seed=seed))
    return [_finish_job(job, next(resampled) if job.values is not None else None, level,
                        n_resamples) for job in jobs]


def _resampled_many(values: Sequence[np.ndarray], *, n_resamples: int,
                    seed: int | None) -> list[np.ndarray]:
    """:func:`resampled_sums` of each matrix; with a seed, each chunk of weights is drawn
    once for all matrices with the same number of rows."""
    if seed is None:
        return [resampled_sums(v, n_resamples=n_resamples, seed=seed) for v in values]
    out: list[np.ndarray] = [np.empty(0)] * len(values)
    by_rows: dict[int, list[int]] = {}
    for i, v in enumerate(values):
        by_rows.setdefault(v.shape[0], []).append(i)
    for n, members in by_rows.items():
        if n == 0 or n * n_resamples <= _CHUNK_CELLS or len(members) == 1:
            for i in members:
                out[i] = resampled_sums(values[i], n_resamples=n_resamples, seed=seed)
            continue
        rng = np.random.default_rng(seed)
        for i in members:
            out[i] = np.empty((n_resamples, values[i].shape[1]))
        chunk = max(1, min(n_resamples, _CHUNK_CELLS // n))
        for start in range(0, n_resamples, chunk):
            r = min(chunk, n_resamples - start)
            weights = _draw_weights(rng, n, r)
            for i in members:
                out[i][start:start + r] = weights @ values[i]
    return out


def _finish_job(job: Stacked, sums: np.ndarray | None, level: float,
                n_resamples: int) -> list[Estimate]:
    edges = np.cumsum((0,) + job.widths)
    out = []
    for s, a, b in zip(job.stats, edges[:-1], edges[1:], strict=True):
        if sums is None or a == b:
            out.append(Estimate(s.metric, s.value, math.nan, math.nan, s.n_units,
                                s.n_coders, s.note))
            continue
        with np.errstate(all="ignore"):
            samples = s.finish(sums[:, a:b])
        low, high = percentile_interval(samples, level)
        failed = int((~np.isfinite(samples)).sum())
        note = s.note
        if failed:
            note = (note + "; " if note else "") + (
                f"{failed} of {n_resamples} resamples undefined and left out of the interval"
            )
        out.append(Estimate(s.metric, s.value, low, high, s.n_units, s.n_coders, note))
    return out
