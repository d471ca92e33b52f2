"""Inter-coder agreement over coding tables (pure functions, no I/O).

A *coding table* is a DataFrame whose index is the unit (segment id), whose
columns are coders (the model is just another column, conventionally
``model``) and whose values are labels, with NaN/None where a coder did not
code the unit.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
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


def _norm(value: Any) -> Hashable:
    """Canonical label: 1, 1.0 and np.int64(1) are one label; strings stay strings."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _label_key(value: Hashable) -> tuple[str, str]:
    return (type(value).__name__, str(value))


def _unit_values(table: pd.DataFrame) -> list[list[Hashable]]:
    """Normalised non-missing labels of each unit (one list per row)."""
    return [
        [_norm(v) for v in row if not _missing(v)] for row in table.itertuples(index=False)
    ]


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
    agree = 0.0
    pairable = 0
    for values in _unit_values(table):
        m = len(values)
        if m < 2:
            continue
        agree += sum(c * (c - 1) for c in Counter(values).values()) / (m - 1)
        pairable += m
    return agree / pairable if pairable else math.nan


def cohen_kappa(a: pd.Series, b: pd.Series) -> PairResult:
    """Cohen's kappa on the units both coders coded; NaN plus a note when undefined."""
    from sklearn.metrics import cohen_kappa_score

    name_a = str(a.name) if a.name is not None else "a"
    name_b = str(b.name) if b.name is not None else "b"
    common = a.index.intersection(b.index)
    pairs = [
        (_norm(x), _norm(y))
        for x, y in zip(a.loc[common], b.loc[common], strict=True)
        if not _missing(x) and not _missing(y)
    ]
    n = len(pairs)
    if n == 0:
        return PairResult(name_a, name_b, 0, math.nan, math.nan, "no segments coded by both")
    share = sum(x == y for x, y in pairs) / n
    used = {v for pair in pairs for v in pair}
    if len(used) == 1:
        only = next(iter(used))
        note = f"kappa undefined: both coders used only label {only}"
        return PairResult(name_a, name_b, n, share, math.nan, note)
    index = {v: i for i, v in enumerate(sorted(used, key=_label_key))}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        kappa = float(
            cohen_kappa_score([index[x] for x, _ in pairs], [index[y] for _, y in pairs])
        )
    note = "" if not math.isnan(kappa) else "kappa undefined: expected agreement is 1"
    return PairResult(name_a, name_b, n, share, kappa, note)


def pairwise_kappas(table: pd.DataFrame, *, model_coder: str = "model") -> list[PairResult]:
    """Cohen's kappa for every pair of coders (names sorted, the model last)."""
    order = _coder_order(table.columns, model_coder)
    columns = {str(c): c for c in table.columns}
    results = []
    for first, second in combinations(order, 2):
        a = table[columns[first]].rename(first)
        b = table[columns[second]].rename(second)
        results.append(cohen_kappa(a, b))
    return results


def krippendorff_alpha(table: pd.DataFrame, level: str = "nominal") -> AlphaResult:
    """Krippendorff's alpha over all coders; NaN plus a note when undefined."""
    import krippendorff

    if level not in LEVELS:
        raise IspNlpError(
            f"The agreement level '{level}' is not known; expected one of "
            f"{', '.join(LEVELS)}, so pass one of those."
        )
    rows = _unit_values(table)
    coded = [c for c in table.columns if table[c].map(_notmissing).any()]
    n_coders = len(coded)
    keep = [i for i, values in enumerate(rows) if len(values) >= 2]
    n_units = len(keep)
    if n_coders < 2:
        return AlphaResult(math.nan, n_units, n_coders, "alpha undefined: fewer than 2 coders")
    if n_units == 0:
        return AlphaResult(
            math.nan, 0, n_coders, "alpha undefined: no segment coded by at least 2 coders"
        )
    values = {v for i in keep for v in rows[i]}
    if len(values) == 1:
        only = next(iter(values))
        note = f"alpha undefined: every coding is label {only}"
        return AlphaResult(math.nan, n_units, n_coders, note)
    if level == "nominal":
        mapping = {v: float(i) for i, v in enumerate(sorted(values, key=_label_key))}
    else:
        bad = [v for v in values if isinstance(v, str) and not _is_number(v)]
        if bad:
            raise IspNlpError(
                f"The label '{bad[0]}' is not a number but {level} agreement needs numeric "
                f"labels, so use level 'nominal' or numeric labels."
            )
        mapping = {v: float(v) for v in values}
    sub = table.iloc[keep][coded]
    data = np.array(
        [[np.nan if _missing(v) else mapping[_norm(v)] for v in sub[c]] for c in coded],
        dtype=float,
    )
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    note = "" if not math.isnan(value) else "alpha undefined: expected disagreement is 0"
    return AlphaResult(value, n_units, n_coders, note)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
