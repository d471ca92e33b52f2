"""Reliability coefficients with bootstrap CIs for each single-choice dimension, each
code, overall and coder pairs, built on :mod:`isp_nlp.agreement.coefficients` and
:mod:`isp_nlp.agreement.bootstrap`."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from isp_nlp.agreement.bootstrap import (
    BY,
    Clusters,
    Estimate,
    Stacked,
    Summed,
    bootstrap_stacked,
    check_confidence,
    stack,
    summed,
)
from isp_nlp.agreement.coefficients import METRICS, PAIR_METRICS, check_metric, unit_stats
from isp_nlp.agreement.ratings import Ratings, check_level, encode
from isp_nlp.agreement.sets import (
    SET_DISTANCES,
    code_set_ratings,
    set_ratings,
    set_ratings_alpha,
)
from isp_nlp.agreement.tables import (
    COMBINED,
    HUMAN_HUMAN,
    HUMANS,
    MODEL_CODER,
    MODEL_HUMAN,
    VALUE_TARGET,
    coder_order,
    default_dimensions,
    dimension_title,
)
from isp_nlp.errors import IspNlpError
from isp_nlp.records import Dimension

ESTIMATE_COLUMNS = [
    "target", "metric", "coder_a", "coder_b", "value", "ci_low", "ci_high", "n_units",
    "n_coders", "note", "population",
]


@dataclass(frozen=True)
class ReliabilityOptions:
    """What to compute: metrics, level, CI level, bootstrap unit, resamples and seed."""

    metrics: tuple[str, ...] = METRICS
    level: str = "nominal"
    ci: float = 0.95
    by: str = "segment"
    n_resamples: int = 1000
    seed: int | None = None


@dataclass(frozen=True, eq=False)
class ReliabilityReport:
    """Coefficients with CIs: ``data`` holds settings, dimensions (by id), codes (or the
    one variable ``code``), overall and pairs."""

    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def to_frame(self) -> pd.DataFrame:
        """One row per (target, metric[, pair]) for CSV and table output."""
        rows: list[dict[str, Any]] = []
        targets = list(self.data.get("dimensions", {}).items())
        if VALUE_TARGET in self.data:
            targets.append((VALUE_TARGET, self.data[VALUE_TARGET]))
        targets += [(f"code:{c}", v) for c, v in self.data.get("codes", {}).items()]
        targets.append(("overall", self.data.get("overall")))
        for target, metrics in targets:
            for metric, est in (metrics or {}).items():
                rows.append({"target": target, "metric": metric, "coder_a": None,
                             "coder_b": None, **est})
        for pair in self.data.get("pairs", []):
            for metric in PAIR_METRICS:
                if metric in pair:
                    rows.append({"target": pair["target"], "metric": metric,
                                 "coder_a": pair["coder_a"], "coder_b": pair["coder_b"],
                                 **pair[metric], "population": pair.get("population")})
        return pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)


def _check_options(options: ReliabilityOptions) -> None:
    for metric in options.metrics:
        check_metric(metric)
    check_level(options.level)
    check_confidence(options.ci)
    if options.by not in BY:
        raise IspNlpError(
            f"The bootstrap unit '{options.by}' is not known; expected {' or '.join(BY)}, "
            "so pass one of those."
        )


#: Cells of per-cluster sums held back so that bootstrap jobs share their draws (256 MB).
JOB_CELLS = 2**25


class _Jobs:
    """Bootstrap jobs held back until about :data:`JOB_CELLS` cells of sums wait, then run
    together (:func:`bootstrap_stacked`: jobs over as many clusters share their resampling
    draws, each with its own arithmetic); results are written into the dicts given."""

    def __init__(self, options: ReliabilityOptions, budget: int = JOB_CELLS) -> None:
        self.options, self.budget, self.cells = options, budget, 0
        self.pending: list[tuple[Stacked, dict[str, Any], list[str]]] = []
        self.after: list[Callable[[], None]] = []

    def add(self, stats: Sequence[Summed], out: dict[str, Any],
            keys: Sequence[str] | None = None) -> None:
        job = stack(stats)
        if self.pending and self.cells + job.cells > self.budget:
            self.flush()
        self.pending.append((job, out, list(keys or [s.metric for s in stats])))
        self.cells += job.cells

    def then(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the jobs added so far are done."""
        self.after.append(action)

    def flush(self) -> None:
        pending, self.pending, self.cells = self.pending, [], 0
        if pending:
            results = bootstrap_stacked([job for job, _, _ in pending], level=self.options.ci,
                                        n_resamples=self.options.n_resamples,
                                        seed=self.options.seed)
            for (_, out, keys), estimates in zip(pending, results, strict=True):
                for key, est in zip(keys, estimates, strict=True):
                    out[key] = est.to_dict()
        after, self.after = self.after, []
        for action in after:
            action()


def _estimates(table: pd.DataFrame, metrics: Sequence[str], jobs: _Jobs,
               *, categories: Sequence[Hashable] | None, groups: Clusters | None,
               out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each metric's estimate and CI, written into ``out`` (returned) once ``jobs`` runs;
    the per-unit statistics of one metric at a time are summed per cluster before the
    next is computed, so memory holds one of them."""

    out = {} if out is None else out
    reduced = []
    try:
        ratings = encode(table, categories=categories)
        for m in metrics:
            reduced.append(summed(unit_stats(ratings, m, level=jobs.options.level), groups))
    except IspNlpError as exc:  # e.g. text labels at interval level: NaN with the reason
        n = int((table.notna().sum(axis=1) >= 2).sum()) if len(table.columns) else 0
        nan = Estimate("", math.nan, math.nan, math.nan, n, len(table.columns), str(exc))
        out.update({m: nan.to_dict() for m in metrics})
        return out
    jobs.add(reduced, out)
    return out


def _groups(index: pd.Index, by: str, documents: Mapping[str, str] | None) -> Clusters | None:
    """The clusters the bootstrap resamples: None (each unit its own), the segments of a
    (segment, code) index, or documents."""
    if by == "segment" and not isinstance(index, pd.MultiIndex):
        return None
    segments = [str(i[0]) if isinstance(i, tuple) else str(i) for i in index]
    if by == "segment":
        return Clusters.of(segments)
    documents = documents or {}
    missing = [s for s in segments if s not in documents]
    if missing:
        raise IspNlpError(
            f"Segment {missing[0]} has no document, but --by document needs one for every "
            "segment, so give the unit-to-document map or use --by segment."
        )
    return Clusters.of([documents[s] for s in segments])


def _uniform(codes: Mapping[str, pd.DataFrame]) -> pd.DataFrame | None:
    """The first code table when every code table has its units and coders, float
    values, and unique, sorted text unit ids (as :func:`coding_tables` builds them):
    then the tables pool without a (segment, code) index. Else None."""
    first = next(iter(codes.values()))
    index = first.index
    if isinstance(index, pd.MultiIndex) or not index.is_unique or first.empty:
        return None
    for table in codes.values():
        if not (table.index is index or table.index.equals(index)) \
                or list(table.columns) != list(first.columns) \
                or any(dtype != np.float64 for dtype in table.dtypes):
            return None
    if not all(isinstance(s, str) and not s.endswith("\x00") for s in index):
        return None  # ids compare as text exactly as the bootstrap sorts them
    return first if index.is_monotonic_increasing else None


def _pooled(codes: Mapping[str, pd.DataFrame], by: str, documents: Mapping[str, str] | None
            ) -> tuple[pd.DataFrame, Clusters | None]:
    """Every (segment, code) presence unit, ordered by segment then code, and its clusters
    (the segment, or its document)."""
    first = _uniform(codes)
    if first is None:
        pooled = pd.concat(list(codes.values()), keys=list(codes), names=["code", "segment_id"])
        pooled = pooled.swaplevel().sort_index()
        return pooled, _groups(pooled.index, by, documents)
    names = sorted(codes)
    data = np.stack([codes[c].to_numpy() for c in names], axis=1)
    pooled = pd.DataFrame(data.reshape(-1, data.shape[2]), columns=first.columns)
    if by == "segment":
        return pooled, Clusters.runs(len(first), len(names))
    clusters = _groups(first.index, by, documents)
    return pooled, None if clusters is None else clusters.repeat(len(names))


def _dimension_table(table: pd.DataFrame, dimension: Dimension, level: str
                     ) -> tuple[pd.DataFrame, Any, str]:
    """A dimension's labels and their declared categories for ``level``: at ordinal level
    the categories are the dimension's scale (lowest first) and its unordered values are
    left out (noted). Labels outside its values, or ordinal on a dimension without a
    scale, keep no declared categories (text then has no ordinal level: undefined, noted)."""

    labels = set(table.stack().dropna().astype(str)) if not table.empty else set()
    if not labels <= set(dimension.value_ids):
        return table, None, ""
    if level == "ordinal":
        if not dimension.scale:
            return table, None, ""
        note = f"ordinal {dimension_title(dimension)} scale {' < '.join(dimension.scale)}"
        left_out = [v for v in dimension.value_ids if v not in dimension.scale]
        if left_out:
            note += f"; {', '.join(repr(v) for v in left_out)} left out"
        return table.where(~table.isin(left_out)), list(dimension.scale), note
    return table, list(dimension.value_ids), ""


def reliability_report(
    tables: Mapping[str, pd.DataFrame],
    *,
    options: ReliabilityOptions | None = None,
    documents: Mapping[str, str] | None = None,
    coders: Sequence[str] | None = None,
    model_coder: str = MODEL_CODER,
    progress: Callable[[int, int], None] | None = None,
    single_label: bool = False,
    dimensions: Sequence[Dimension] | None = None,
) -> ReliabilityReport:
    """Coefficients with bootstrap CIs for each dimension, each code, overall, and coder
    pairs.

    ``tables`` comes from :func:`coding_tables`: the tables keyed by the id of one of
    ``dimensions`` (by default the default codebook's stage) are that dimension's labels
    (``data["dimensions"][id]``), every other table a code's presence. Overall pools
    every (segment, code) presence unit of all code tables, resampled by segment (or
    document), for all coders and for each coder pair (target ``overall``), plus
    Krippendorff's alpha with MASI and Jaccard distances over each coder's set of codes
    per segment. ``documents`` maps segment ids to documents (``by="document"``).
    ``progress`` is called with (targets done, targets in all) after each target
    (dimension, code, overall).
    With ``single_label`` the table under :data:`VALUE_TARGET` is one variable whose
    values are the codes (:func:`single_value_table`), rated at ``options.level``
    (target ``code``; its values, sorted, are ``settings["categories"]``); there are no
    per-code or overall rows.
    Every estimate of a target says whom it covers in ``population``: ``humans+model``
    when ``model_coder`` labelled any of the target's units (overall: of any code), else
    ``humans``; each pair says so beside its ``kind``.
    """

    options = options or ReliabilityOptions()
    _check_options(options)
    tables = {t: _select(table, coders) for t, table in tables.items()}
    metrics = list(dict.fromkeys(options.metrics))
    data: dict[str, Any] = {"settings": {
        "metrics": metrics, "level": options.level, "ci": options.ci, "by": options.by,
        "resamples": options.n_resamples, "seed": options.seed,
        "coders": sorted({str(c) for t in tables.values() for c in t.columns}),
        "single_label": single_label,
    }}
    pairs: list[dict[str, Any]] = []
    value = tables.get(VALUE_TARGET) if single_label else None
    if value is not None:
        data["settings"]["categories"] = _categories(value)
    dims = [d for d in (default_dimensions() if dimensions is None else dimensions)
            if d.id in tables]
    data["dimensions"] = {}
    codes = {t: tab for t, tab in tables.items() if t not in {d.id for d in dims}} \
        if value is None else {}
    total = len(dims) + len(codes) + bool(codes) + (value is not None)
    done = 0
    jobs = _Jobs(options)

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    for dim in dims:
        table, categories, note = _dimension_table(tables[dim.id], dim, options.level)
        groups = _groups(table.index, options.by, documents)
        target = data["dimensions"][dim.id] = _estimates(table, metrics, jobs,
                                                         categories=categories, groups=groups)
        if note:
            def add_note(target: dict[str, Any] = target, note: str = note) -> None:
                for est in target.values():
                    est["note"] = "; ".join(x for x in (est["note"], note) if x)

            jobs.then(add_note)
        pairs += _pairs(dim.id, table, metrics, jobs, categories, groups, model_coder)
        jobs.then(step)
    if value is not None:
        groups = _groups(value.index, options.by, documents)
        data[VALUE_TARGET] = _estimates(value, metrics, jobs, categories=None, groups=groups)
        pairs += _pairs(VALUE_TARGET, value, metrics, jobs, None, groups, model_coder)
        jobs.then(step)
    else:
        data["codes"] = {}
    for code, table in codes.items():
        groups = _groups(table.index, options.by, documents)
        data["codes"][code] = _estimates(table, metrics, jobs, categories=(0, 1),
                                         groups=groups)
        pairs += _pairs(code, table, metrics, jobs, (0, 1), groups, model_coder)
        jobs.then(step)
    if codes:
        jobs.flush()  # pooling needs the memory
        pooled, groups = _pooled(codes, options.by, documents)
        overall = data["overall"] = _estimates(pooled, metrics, jobs, categories=(0, 1),
                                               groups=groups)
        pairs += _pairs("overall", pooled, metrics, jobs, (0, 1), groups, model_coder)
        del pooled, groups
        if "alpha" in metrics:
            ratings, index = _code_sets(codes)
            groups = _groups(index, options.by, documents)
            for distance in SET_DISTANCES:
                stats = summed(set_ratings_alpha(ratings, distance), groups)
                jobs.add([stats], overall, [f"alpha_{distance}"])
        jobs.then(step)
    jobs.flush()
    _name_populations(data, tables, model_coder)
    data["pairs"] = pairs
    return ReliabilityReport(data)


def _population(table: pd.DataFrame | None, model_coder: str) -> str:
    """Who a target's estimates cover: the humans plus the model when the model labelled
    any of its units, else the humans alone."""
    if table is None or model_coder not in {str(c) for c in table.columns}:
        return HUMANS
    column = next(c for c in table.columns if str(c) == model_coder)
    return COMBINED if table[column].notna().any() else HUMANS


def _name_populations(data: dict[str, Any], tables: Mapping[str, pd.DataFrame],
                      model_coder: str) -> None:
    """Add ``population`` to every estimate of the dimensions, codes, the one variable and
    overall (humans+model when any code table has model labels)."""
    targets: list[tuple[dict[str, Any], str]] = [
        (est, _population(tables.get(t), model_coder))
        for t, est in data.get("dimensions", {}).items()]
    targets += [(est, _population(tables.get(t), model_coder))
                for t, est in data.get("codes", {}).items()]
    if VALUE_TARGET in data:
        targets.append((data[VALUE_TARGET], _population(tables.get(VALUE_TARGET),
                                                        model_coder)))
    if "overall" in data:
        pooled = {_population(tables.get(c), model_coder) for c in data.get("codes", {})}
        targets.append((data["overall"], COMBINED if COMBINED in pooled else HUMANS))
    for metrics, population in targets:
        for est in metrics.values():
            est["population"] = population


def _categories(table: pd.DataFrame) -> list[str | float]:
    """The distinct values of a one-variable table, sorted (numbers as numbers)."""
    values = pd.unique(table.to_numpy().ravel())
    kept = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sorted(float(v) if not isinstance(v, str) else v for v in kept)


def _select(table: pd.DataFrame, coders: Sequence[str] | None) -> pd.DataFrame:
    if not coders:
        return table
    known = {str(c): c for c in table.columns}
    return table[[known[c] for c in coders if c in known]]


def _pairs(target: str, table: pd.DataFrame, metrics: Sequence[str], jobs: _Jobs,
           categories: Any, groups: Any, model_coder: str) -> list[dict[str, Any]]:
    wanted = [m for m in PAIR_METRICS if m in metrics]
    if not wanted:
        return []
    out = []
    columns = {str(c): c for c in table.columns}
    for a, b in combinations(coder_order(table.columns, model_coder), 2):
        kind = MODEL_HUMAN if model_coder in (a, b) else HUMAN_HUMAN
        pair = table[[columns[a], columns[b]]]
        entry: dict[str, Any] = {"target": target, "coder_a": a, "coder_b": b, "kind": kind,
                                 "population": COMBINED if kind == MODEL_HUMAN else HUMANS}
        out.append(_estimates(pair, wanted, jobs, categories=categories, groups=groups,
                              out=entry))
    return out


def _code_sets(codes: Mapping[str, pd.DataFrame]) -> tuple[Ratings, pd.Index]:
    """Segment × coder sets of applied codes as ratings (not coded where the coder has no
    code rows), and the segments."""
    first = _uniform(codes)
    if first is None:
        sets = _code_set_frame(codes)
        return set_ratings(sets), sets.index
    presence = np.stack([table.to_numpy() == 1 for table in codes.values()], axis=2)
    seen = ~np.isnan(first.to_numpy())
    ratings = code_set_ratings(presence, seen, [str(c) for c in codes],
                               [str(c) for c in first.columns])
    return ratings, first.index


def _code_set_frame(codes: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Segment × coder frozensets of applied codes (NaN where the coder saw no code rows)."""
    first = next(iter(codes.values()))
    cells = {}
    for coder in first.columns:
        seen = first[coder].notna()
        applied = pd.Series([frozenset()] * len(first), index=first.index, dtype=object)
        for code, table in codes.items():
            hit = table[coder] == 1
            applied[hit] = [s | {code} for s in applied[hit]]
        cells[coder] = applied.where(seen, np.nan)
    return pd.DataFrame(cells, index=first.index)
