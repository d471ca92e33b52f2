"""Inter-coder agreement over coding tables (pure functions, no I/O).

A *coding table* is a DataFrame whose index is the unit (segment id), whose
columns are coders (the model is just another column, conventionally
``model``) and whose values are labels, with NaN/None where a coder did not
code the unit.

Here: Cohen's kappa per pair, Krippendorff's alpha per group and the older
:func:`agreement_summary` (no CIs). Tables are built in
:mod:`isp_nlp.agreement.tables`; coefficients with bootstrap CIs in
:mod:`isp_nlp.agreement.reliability`, and humans vs humans+model in
:mod:`isp_nlp.agreement.groups`. Their public names are re-exported here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from isp_nlp.agreement.coefficients import coefficient, unit_stats
from isp_nlp.agreement.ratings import check_level, encode, numeric_values
from isp_nlp.agreement.tables import (
    HUMAN_HUMAN,
    MODEL_HUMAN,
    coder_order,
)

LEVELS = ("nominal", "ordinal", "interval", "ratio")
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


# --------------------------------------------------------------------------- statistics


def percent_agreement(table: pd.DataFrame) -> float:
    """Observed agreement over units coded by at least two coders (NaN if none).

    Each unit with m codings contributes its agreeing ordered pairs divided by
    m - 1, normalised by the number of pairable values (Krippendorff's observed
    agreement); with two coders this is the share of identical labels.
    """

    if table.empty:
        return math.nan
    return coefficient(table, "percent")[0]


def cohen_kappa(a: pd.Series, b: pd.Series) -> PairResult:
    """Cohen's kappa on the units both coders coded; NaN plus a note when undefined."""

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
    order = coder_order(table.columns, model_coder)
    columns = {str(c): c for c in table.columns}
    return [
        cohen_kappa(table[columns[x]].rename(x), table[columns[y]].rename(y))
        for x, y in combinations(order, 2)
    ]


def krippendorff_alpha(table: pd.DataFrame, level: str = "nominal") -> AlphaResult:
    """Krippendorff's alpha over all coders (the ``krippendorff`` package); NaN plus a
    note when undefined."""
    import krippendorff


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

