"""Inter-coder agreement over coding tables (pure functions, no I/O).

A *coding table* is a DataFrame whose index is the unit (segment id), whose
columns are coders (the model is just another column, conventionally
``model``) and whose values are labels, with NaN/None where a coder did not
code the unit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from isp_nlp.errors import IspNlpError
from isp_nlp.model import CODE_DIMENSION, STAGE_DIMENSION

ANNOTATION_COLUMNS = ("segment_id", "coder", "dimension", "label")
LEVELS = ("nominal", "ordinal", "interval", "ratio")
HUMAN_HUMAN = "human–human"
MODEL_HUMAN = "model–human"
PAIR_COLUMNS = [
    "target", "coder_a", "coder_b", "kind", "n_units", "percent_agreement", "kappa", "note",
]
ALPHA_COLUMNS = [
    "target", "coders", "n_units", "n_coders", "percent_agreement", "alpha", "note",
]


@dataclass(frozen=True)
class PairResult:
    """Cohen's kappa and percent agreement for one pair of coders."""

    coder_a: str
    coder_b: str
    n_units: int
    percent_agreement: float
    kappa: float
    note: str = ""


@dataclass(frozen=True)
class AlphaResult:
    """Krippendorff's alpha over all coders of a table."""

    value: float
    n_units: int
    n_coders: int
    note: str = ""


@dataclass(frozen=True, eq=False)
class AgreementReport:
    """Pairwise kappas and group alphas for every target (``stage`` or a code id)."""

    pairs: pd.DataFrame
    alphas: pd.DataFrame

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """JSON-safe rendering (NaN becomes None, numpy scalars become Python ones)."""
        return {"pairs": _records(self.pairs), "alphas": _records(self.alphas)}

    def to_frame(self) -> pd.DataFrame:
        """One tidy frame (one row per statistic) for CSV output."""
        pairs = self.pairs.assign(
            statistic="cohen_kappa", group=self.pairs["kind"], n_coders=2,
            value=self.pairs["kappa"],
        )
        alphas = self.alphas.assign(
            statistic="krippendorff_alpha", group=self.alphas["coders"], coder_a=None,
            coder_b=None, value=self.alphas["alpha"],
        )
        columns = [
            "target", "statistic", "group", "coder_a", "coder_b", "n_units", "n_coders",
            "percent_agreement", "value", "note",
        ]
        frames = [f[columns] for f in (pairs, alphas) if not f.empty]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- helpers


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _json_value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _json_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))








def _coder_order(coders: Iterable[Any], model_coder: str) -> list[str]:
    names = sorted({str(c) for c in coders})
    if model_coder in names:
        names.remove(model_coder)
        names.append(model_coder)
    return names


# --------------------------------------------------------------------------- tables


def coding_tables(
    annotations: pd.DataFrame, codes: Sequence[str], *, model_coder: str = "model"
) -> dict[str, pd.DataFrame]:
    """Build the ``stage`` table and one 0/1 presence table per code id.

    In a code table a coder who has any code-dimension row for a segment gets 1
    when the code is among their labels and 0 otherwise ("seen, no code" rows have
    label None); a coder without such a row gets NaN. Duplicate stage rows for the
    same coder and segment keep the last one.
    """
    missing = [c for c in ANNOTATION_COLUMNS if c not in annotations.columns]
    if missing:
        raise IspNlpError(
            f"The annotations table is missing column(s) {', '.join(missing)}; expected "
            f"columns {', '.join(ANNOTATION_COLUMNS)}, so export annotations with all of them."
        )
    frame = annotations.loc[:, list(ANNOTATION_COLUMNS)].copy()
    frame["segment_id"] = frame["segment_id"].astype(str)
    frame["coder"] = frame["coder"].astype(str)
    frame["dimension"] = frame["dimension"].astype(str)

    stage = frame[(frame["dimension"] == STAGE_DIMENSION) & frame["label"].map(_notmissing)]
    if stage.empty:
        stage_table = pd.DataFrame(dtype=object)
    else:
        stage_table = stage.groupby(["segment_id", "coder"], sort=True)["label"].last().unstack()
        stage_table = stage_table[_coder_order(stage_table.columns, model_coder)]
        stage_table = stage_table.astype(object).where(stage_table.notna(), None)
    stage_table.index.name = "segment_id"
    stage_table.columns.name = "coder"
    tables: dict[str, pd.DataFrame] = {STAGE_DIMENSION: stage_table}

    code_rows = frame[frame["dimension"] == CODE_DIMENSION]
    seen = code_rows.groupby(["segment_id", "coder"], sort=True)["label"].agg(
        lambda labels: frozenset(str(x) for x in labels if _notmissing(x))
    )
    if seen.empty:
        for code in codes:
            empty = pd.DataFrame(dtype=float)
            empty.index.name, empty.columns.name = "segment_id", "coder"
            tables[str(code)] = empty
        return tables
    sets = seen.unstack()
    sets = sets[_coder_order(sets.columns, model_coder)]
    for code in codes:
        code = str(code)
        table = sets.apply(
            lambda col, c=code: col.map(lambda s: np.nan if not isinstance(s, frozenset)
                                        else float(c in s))
        ).astype(float)
        table.index.name, table.columns.name = "segment_id", "coder"
        tables[code] = table
    return tables


def _notmissing(value: Any) -> bool:
    return not _missing(value)


# --------------------------------------------------------------------------- statistics


def percent_agreement(table: pd.DataFrame) -> float:
    """Observed agreement over units coded by at least two coders (NaN if none).

    Each unit with m codings contributes its agreeing ordered pairs divided by
    m - 1, normalised by the number of pairable values (Krippendorff's observed
    agreement); with two coders this is the share of identical labels.
    """
    from isp_nlp.reliability import coefficient

    if table.empty:
        return math.nan
    return coefficient(table, "percent")[0]


def cohen_kappa(a: pd.Series, b: pd.Series) -> PairResult:
    """Cohen's kappa on the units both coders coded; NaN plus a note when undefined."""
    from isp_nlp.reliability import encode, unit_stats

    name_a = str(a.name) if a.name is not None else "a"
    name_b = str(b.name) if b.name is not None else "b"
    common = a.index.intersection(b.index)
    pair = pd.DataFrame({"a": a.loc[common].to_numpy(dtype=object),
                         "b": b.loc[common].to_numpy(dtype=object)})
    ratings = encode(pair)
    both = (ratings.data >= 0).all(axis=1)
    n = int(both.sum())
    if n == 0:
        return PairResult(name_a, name_b, 0, math.nan, math.nan, "no segments coded by both")
    share = float((ratings.data[both, 0] == ratings.data[both, 1]).mean())
    used = np.unique(ratings.data[both])
    if len(used) == 1:
        note = f"kappa undefined: both coders used only label {ratings.categories[used[0]]}"
        return PairResult(name_a, name_b, n, share, math.nan, note)
    kappa = unit_stats(ratings, "kappa").estimate()
    note = "" if not math.isnan(kappa) else "kappa undefined: expected agreement is 1"
    return PairResult(name_a, name_b, n, share, kappa, note)


def pairwise_kappas(table: pd.DataFrame, *, model_coder: str = "model") -> list[PairResult]:
    """Cohen's kappa for every pair of coders (names sorted, the model last)."""
    order = _coder_order(table.columns, model_coder)
    columns = {str(c): c for c in table.columns}
    return [
        cohen_kappa(table[columns[x]].rename(x), table[columns[y]].rename(y))
        for x, y in combinations(order, 2)
    ]


def krippendorff_alpha(table: pd.DataFrame, level: str = "nominal") -> AlphaResult:
    """Krippendorff's alpha over all coders (the ``krippendorff`` package); NaN plus a
    note when undefined."""
    import krippendorff

    from isp_nlp.reliability import check_level, encode, numeric_values

    check_level(level)
    ratings = encode(table) if not table.empty else None
    if ratings is None:
        return AlphaResult(math.nan, 0, 0, "alpha undefined: fewer than 2 coders")
    data = ratings.data
    n_coders = int((data >= 0).any(axis=0).sum())
    keep = (data >= 0).sum(axis=1) >= 2
    n_units = int(keep.sum())
    if n_coders < 2:
        return AlphaResult(math.nan, n_units, n_coders, "alpha undefined: fewer than 2 coders")
    if n_units == 0:
        return AlphaResult(
            math.nan, 0, n_coders, "alpha undefined: no segment coded by at least 2 coders"
        )
    used = np.unique(data[keep][data[keep] >= 0])
    if len(used) == 1:
        note = f"alpha undefined: every coding is label {ratings.categories[used[0]]}"
        return AlphaResult(math.nan, n_units, n_coders, note)
    values = (np.arange(ratings.n_categories, dtype=float) if level == "nominal"
              else numeric_values(ratings, level))
    sub = data[keep][:, (data >= 0).any(axis=0)]
    matrix = np.where(sub >= 0, values[np.clip(sub, 0, None)], np.nan).T
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))
    note = "" if not math.isnan(value) else "alpha undefined: expected disagreement is 0"
    return AlphaResult(value, n_units, n_coders, note)


# --------------------------------------------------------------------------- summary


def agreement_summary(
    tables: Mapping[str, pd.DataFrame], *, model_coder: str = "model"
) -> AgreementReport:
    """Pairwise kappas and alphas (humans, humans+model) for every target table."""
    pair_rows: list[dict[str, Any]] = []
    alpha_rows: list[dict[str, Any]] = []
    for target, table in tables.items():
        for pair in pairwise_kappas(table, model_coder=model_coder):
            kind = MODEL_HUMAN if model_coder in (pair.coder_a, pair.coder_b) else HUMAN_HUMAN
            pair_rows.append({
                "target": str(target), "coder_a": pair.coder_a, "coder_b": pair.coder_b,
                "kind": kind, "n_units": pair.n_units,
                "percent_agreement": pair.percent_agreement, "kappa": pair.kappa,
                "note": pair.note,
            })
        humans = table[[c for c in table.columns if str(c) != model_coder]]
        groups = [("humans", humans)]
        if model_coder in {str(c) for c in table.columns}:
            groups.append(("humans+model", table))
        for label, group in groups:
            alpha = krippendorff_alpha(group)
            alpha_rows.append({
                "target": str(target), "coders": label, "n_units": alpha.n_units,
                "n_coders": alpha.n_coders, "percent_agreement": percent_agreement(group),
                "alpha": alpha.value, "note": alpha.note,
            })
    pairs = pd.DataFrame(pair_rows, columns=PAIR_COLUMNS)
    alphas = pd.DataFrame(alpha_rows, columns=ALPHA_COLUMNS)
    return AgreementReport(pairs=pairs, alphas=alphas)


# --------------------------------------------------------------------------- reliability report

PAIR_METRICS = ("percent", "kappa", "pi")
SET_DISTANCES = ("masi", "jaccard")
ESTIMATE_COLUMNS = [
    "target", "metric", "coder_a", "coder_b", "value", "ci_low", "ci_high", "n_units",
    "n_coders", "note",
]


@dataclass(frozen=True)
class ReliabilityOptions:
    """What to compute: metrics, level, CI level, bootstrap unit, resamples and seed."""

    metrics: tuple[str, ...] = ("percent", "kappa", "pi", "fleiss", "alpha", "ac1", "bp")
    level: str = "nominal"
    ci: float = 0.95
    by: str = "segment"
    n_resamples: int = 1000
    seed: int | None = None


@dataclass(frozen=True, eq=False)
class ReliabilityReport:
    """Coefficients with CIs: ``data`` holds stage, codes, overall, pairs and settings."""

    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def to_frame(self) -> pd.DataFrame:
        """One row per (target, metric[, pair]) for CSV and table output."""
        rows: list[dict[str, Any]] = []
        targets = [("stage", self.data.get("stage"))]
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
                                 **pair[metric]})
        return pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)


def _check_options(options: ReliabilityOptions) -> None:
    from isp_nlp.bootstrap import BY, check_level
    from isp_nlp.reliability import METRICS
    from isp_nlp.reliability import check_level as check_measure

    unknown = [m for m in options.metrics if m not in METRICS]
    if unknown:
        raise IspNlpError(
            f"The metric '{unknown[0]}' is not known; expected one of {', '.join(METRICS)}, "
            "so pass one of those."
        )
    check_measure(options.level)
    check_level(options.ci)
    if options.by not in BY:
        raise IspNlpError(
            f"The bootstrap unit '{options.by}' is not known; expected segment or document, "
            "so pass one of those."
        )


def _estimates(table: pd.DataFrame, metrics: Sequence[str], options: ReliabilityOptions,
               *, categories: Sequence[Hashable] | None, groups: Any,
               level: str | None = None) -> dict[str, dict[str, Any]]:
    from isp_nlp.bootstrap import Estimate, bootstrap
    from isp_nlp.reliability import encode, unit_stats

    level = level or options.level
    out: dict[str, dict[str, Any]] = {}
    try:
        ratings = encode(table, categories=categories)
        stats = [unit_stats(ratings, m, level=level) for m in metrics]
    except IspNlpError as exc:  # e.g. text labels at interval level: NaN with the reason
        n = int((table.notna().sum(axis=1) >= 2).sum()) if len(table.columns) else 0
        nan = Estimate("", math.nan, math.nan, math.nan, n, len(table.columns), str(exc))
        return {m: nan.to_dict() for m in metrics}
    for s in stats:
        est = bootstrap(s, level=options.ci, n_resamples=options.n_resamples,
                        groups=groups, seed=options.seed)
        out[s.metric] = est.to_dict()
    return out


def _groups(index: pd.Index, by: str, documents: Mapping[str, str] | None) -> Any:
    """Cluster labels per row: None (each unit its own), segment ids, or documents."""
    segments = [str(i[0]) if isinstance(i, tuple) else str(i) for i in index]
    if by == "segment":
        return segments if isinstance(index, pd.MultiIndex) else None
    documents = documents or {}
    missing = [s for s in segments if s not in documents]
    if missing:
        raise IspNlpError(
            f"Segment {missing[0]} has no document, but --by document needs one for every "
            "segment, so give the unit-to-document map or use --by segment."
        )
    return [documents[s] for s in segments]


def _stage_table(table: pd.DataFrame, level: str) -> tuple[pd.DataFrame, Any, str]:
    """Stage labels and their declared categories for ``level``: at ordinal level the
    scale is push < push_pull < exchange and 'none' is left out (noted)."""
    from isp_nlp.model import STAGES

    labels = set(table.stack().dropna().astype(str)) if not table.empty else set()
    if not labels <= set(STAGES):
        return table, None, ""
    if level == "ordinal":
        scale = [s for s in STAGES if s != "none"]
        return table.where(table != "none"), scale, "ordinal stage scale push < push_pull < " \
            "exchange; 'none' left out"
    return table, list(STAGES), ""


def reliability_report(
    tables: Mapping[str, pd.DataFrame],
    *,
    options: ReliabilityOptions | None = None,
    documents: Mapping[str, str] | None = None,
    coders: Sequence[str] | None = None,
    model_coder: str = "model",
) -> ReliabilityReport:
    """Coefficients with bootstrap CIs for the stage, each code, overall, and coder pairs.

    ``tables`` comes from :func:`coding_tables`. Overall pools every (segment, code)
    presence unit of all code tables, resampled by segment (or document), plus
    Krippendorff's alpha with MASI and Jaccard distances over each coder's set of
    codes per segment. ``documents`` maps segment ids to documents (``by="document"``).
    """
    from isp_nlp.bootstrap import bootstrap
    from isp_nlp.reliability import set_alpha

    options = options or ReliabilityOptions()
    _check_options(options)
    tables = {t: _select(table, coders) for t, table in tables.items()}
    metrics = list(dict.fromkeys(options.metrics))
    data: dict[str, Any] = {"settings": {
        "metrics": metrics, "level": options.level, "ci": options.ci, "by": options.by,
        "resamples": options.n_resamples, "seed": options.seed,
        "coders": sorted({str(c) for t in tables.values() for c in t.columns}),
    }}
    pairs: list[dict[str, Any]] = []
    codes = {t: tab for t, tab in tables.items() if t != STAGE_DIMENSION}
    if STAGE_DIMENSION in tables:
        table, categories, note = _stage_table(tables[STAGE_DIMENSION], options.level)
        groups = _groups(table.index, options.by, documents)
        data["stage"] = _estimates(table, metrics, options, categories=categories,
                                   groups=groups)
        if note:
            for est in data["stage"].values():
                est["note"] = "; ".join(x for x in (est["note"], note) if x)
        pairs += _pairs(STAGE_DIMENSION, table, metrics, options, categories, groups,
                        model_coder)
    data["codes"] = {}
    for code, table in codes.items():
        groups = _groups(table.index, options.by, documents)
        data["codes"][code] = _estimates(table, metrics, options, categories=(0, 1),
                                         groups=groups)
        pairs += _pairs(code, table, metrics, options, (0, 1), groups, model_coder)
    if codes:
        pooled = pd.concat(list(codes.values()), keys=list(codes), names=["code", "segment_id"])
        pooled = pooled.swaplevel().sort_index()
        groups = _groups(pooled.index, options.by, documents)
        data["overall"] = _estimates(pooled, metrics, options, categories=(0, 1),
                                     groups=groups)
        if "alpha" in metrics:
            sets = _code_sets(codes)
            groups = _groups(sets.index, options.by, documents)
            for distance in SET_DISTANCES:
                est = bootstrap(set_alpha(sets, distance), level=options.ci, groups=groups,
                                n_resamples=options.n_resamples, seed=options.seed)
                data["overall"][f"alpha_{distance}"] = est.to_dict()
    data["pairs"] = pairs
    return ReliabilityReport(data)


def _select(table: pd.DataFrame, coders: Sequence[str] | None) -> pd.DataFrame:
    if not coders:
        return table
    known = {str(c): c for c in table.columns}
    return table[[known[c] for c in coders if c in known]]


def _pairs(target: str, table: pd.DataFrame, metrics: Sequence[str],
           options: ReliabilityOptions, categories: Any, groups: Any,
           model_coder: str) -> list[dict[str, Any]]:
    wanted = [m for m in PAIR_METRICS if m in metrics]
    if not wanted:
        return []
    out = []
    columns = {str(c): c for c in table.columns}
    for a, b in combinations(_coder_order(table.columns, model_coder), 2):
        kind = MODEL_HUMAN if model_coder in (a, b) else HUMAN_HUMAN
        pair = table[[columns[a], columns[b]]]
        ests = _estimates(pair, wanted, options, categories=categories, groups=groups)
        out.append({"target": target, "coder_a": a, "coder_b": b, "kind": kind, **ests})
    return out


def _code_sets(codes: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
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


# --------------------------------------------------------------------------- CSV codings


def csv_annotations(rows: Sequence[Any]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Annotation frame and unit → document map from coded-CSV rows, without a project.

    A unit is (document, segment id), else (document, start-end), else (document,
    text with whitespace collapsed).
    """
    from isp_nlp.codebook import normalise_stage

    records, documents = [], {}
    for row in rows:
        if not row.document or not row.coder:
            field = "document" if not row.document else "coder"
            raise IspNlpError(
                f"Line {row.line} of the coded CSV has an empty {field}; every row needs a "
                f"document and a coder, so fill it in."
            )
        if row.segment:
            unit = f"{row.document}#{row.segment}"
        elif row.start is not None and row.end is not None:
            unit = f"{row.document}@{row.start}-{row.end}"
        elif row.text.strip():
            unit = f"{row.document}:{' '.join(row.text.split())}"
        else:
            raise IspNlpError(
                f"Line {row.line} of the coded CSV has no segment id, offsets or text, so its "
                "unit is unknown; fill in one of them."
            )
        documents[unit] = row.document
        records.append((unit, row.coder, CODE_DIMENSION, row.code or None))
        if normalise_stage(row.stage):
            records.append((unit, row.coder, STAGE_DIMENSION, normalise_stage(row.stage)))
    return pd.DataFrame(records, columns=list(ANNOTATION_COLUMNS)), documents


def mapped_annotations(mapped: Sequence[tuple[Any, Any]], codebook: Any) -> pd.DataFrame:
    """Annotation frame from (CSV row, project segment) pairs; codes resolved by id or name."""
    from isp_nlp.codebook import normalise_stage, resolve_code

    records = []
    for row, seg in mapped:
        code = resolve_code(codebook, row.code) if row.code else None
        label = code.id if code is not None else (row.code or None)
        records.append((seg.id, row.coder, CODE_DIMENSION, label))
        if normalise_stage(row.stage):
            records.append((seg.id, row.coder, STAGE_DIMENSION, normalise_stage(row.stage)))
    return pd.DataFrame(records, columns=list(ANNOTATION_COLUMNS))
