"""Reliability of the human coders and of the humans plus the model, side by side.

Both groups go through :func:`isp_nlp.agreement.reliability.reliability_report`
with the same options, so every number equals ``isp-nlp agreement`` (humans
plus model) and ``isp-nlp agreement --no-model`` (humans) run with the same
seed and resamples. :class:`ProjectAgreement` also lays the estimates out as per-target
pair and group frames (with CI columns) for the report's agreement tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from isp_nlp.agreement.reliability import ReliabilityOptions, ReliabilityReport, reliability_report
from isp_nlp.agreement.tables import (
    COMBINED,
    HUMAN_HUMAN,
    HUMANS,
    MODEL_CODER,
    MODEL_HUMAN,
    default_dimensions,
)
from isp_nlp.records import Dimension

#: The coefficients the report shows (Scott's pi and Brennan-Prediger stay CLI-only).
REPORT_METRICS = ("percent", "kappa", "fleiss", "alpha", "ac1")
# The two groups of coders, HUMANS alone and COMBINED (humans plus the model), are
# defined in agreement.tables, beside the coder-pair kinds.
#: Extra group columns (besides alpha) in :attr:`ProjectAgreement.alphas`, each with a CI.
GROUP_EXTRAS = {"fleiss": "fleiss_kappa", "ac1": "gwet_ac1"}
PAIR_FRAME_COLUMNS = ["target", "coder_a", "coder_b", "kind", "n_units", "percent_agreement",
                      "kappa", "ci_low", "ci_high", "note"]


def _value(est: Mapping[str, Any] | None, key: str = "value") -> float:
    value = None if est is None else est.get(key)
    return math.nan if value is None else float(value)


@dataclass(frozen=True, eq=False)
class ProjectAgreement:
    """``humans``: the human coders alone; ``combined``: humans plus the model (None when
    the model has no labels). ``settings`` echo the options used for both; ``dimensions``
    are the codebook's single-choice dimensions the tables held."""

    humans: ReliabilityReport
    combined: ReliabilityReport | None
    model_coder: str = MODEL_CODER
    dimensions: tuple[Dimension, ...] = ()

    def dimension(self, target: str) -> Dimension | None:
        """The dimension ``target`` names, or None (a code, or ``overall``)."""
        if target not in self.humans.data.get("dimensions", {}):
            return None
        return next((d for d in self.dimensions if d.id == target), None)

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.humans.data["settings"])

    def targets(self) -> list[str]:
        """The dimension ids, then the code ids, then ``overall`` (when any code)."""
        data = self.humans.data
        out = list(data.get("dimensions", {}))
        out += list(data.get("codes", {}))
        return out + (["overall"] if "overall" in data else [])

    def estimates(self, group: str, target: str) -> dict[str, dict[str, Any]]:
        """Metric → estimate dict for ``group`` (humans or humans+model) and ``target``."""
        report = self.humans if group == HUMANS else self.combined
        if report is None:
            return {}
        data = report.data
        if target in data.get("dimensions", {}):
            return data["dimensions"][target] or {}
        if target == "overall":
            return data.get(target) or {}
        return data.get("codes", {}).get(target) or {}

    def pair_list(self) -> list[dict[str, Any]]:
        """Coder pairs with percent/kappa estimates (from humans+model when present)."""
        return list((self.combined or self.humans).data.get("pairs", []))

    @property
    def pairs(self) -> pd.DataFrame:
        """One row per (target, coder pair): agreement, Cohen's kappa and its CI."""
        rows = []
        for p in self.pair_list():
            kappa, share = p.get("kappa") or {}, p.get("percent") or {}
            rows.append({
                "target": p["target"], "coder_a": p["coder_a"], "coder_b": p["coder_b"],
                "kind": p["kind"], "n_units": int(kappa.get("n_units", 0)),
                "percent_agreement": _value(share), "kappa": _value(kappa),
                "ci_low": _value(kappa, "ci_low"), "ci_high": _value(kappa, "ci_high"),
                "note": kappa.get("note") or "",
            })
        return pd.DataFrame(rows, columns=PAIR_FRAME_COLUMNS)

    @property
    def alphas(self) -> pd.DataFrame:
        """One row per (target, group): Krippendorff's alpha with CI, percent agreement,
        Fleiss' kappa and Gwet's AC1 with CIs (``<name>_ci_low``/``_ci_high``)."""
        extras = [c for name in GROUP_EXTRAS.values()
                  for c in (name, f"{name}_ci_low", f"{name}_ci_high")]
        columns = ["target", "coders", "n_units", "n_coders", "percent_agreement", "alpha",
                   "ci_low", "ci_high", *extras, "note"]
        rows = []
        groups = [HUMANS] + ([COMBINED] if self.combined is not None else [])
        for target in self.targets():
            for group in groups:
                est = self.estimates(group, target)
                alpha = est.get("alpha") or {}
                row = {"target": target, "coders": group,
                       "n_units": int(alpha.get("n_units", 0)),
                       "n_coders": int(alpha.get("n_coders", 0)),
                       "percent_agreement": _value(est.get("percent")),
                       "alpha": _value(alpha), "ci_low": _value(alpha, "ci_low"),
                       "ci_high": _value(alpha, "ci_high"), "note": alpha.get("note") or ""}
                for metric, name in GROUP_EXTRAS.items():
                    for key, suffix in (("value", ""), ("ci_low", "_ci_low"),
                                        ("ci_high", "_ci_high")):
                        row[name + suffix] = _value(est.get(metric), key)
                rows.append(row)
        return pd.DataFrame(rows, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``{"humans": report, "humans+model": report or None}``."""
        return {HUMANS: self.humans.to_dict(),
                COMBINED: None if self.combined is None else self.combined.to_dict()}


def humans_and_model(
    tables: Mapping[str, pd.DataFrame],
    *,
    options: ReliabilityOptions | None = None,
    documents: Mapping[str, str] | None = None,
    model_coder: str = MODEL_CODER,
    dimensions: Sequence[Dimension] | None = None,
) -> ProjectAgreement:
    """Reliability of the humans and of humans+model from :func:`coding_tables` output
    (``dimensions`` as there: by default the default codebook's stage).

    ``combined`` is None when no table has a ``model_coder`` column with any label.
    """
    options = options or ReliabilityOptions(metrics=REPORT_METRICS, seed=0)
    dims = tuple(default_dimensions() if dimensions is None else dimensions)
    humans = {t: tab[[c for c in tab.columns if str(c) != model_coder]]
              for t, tab in tables.items()}
    has_model = any(str(c) == model_coder and tab[c].notna().any()
                    for tab in tables.values() for c in tab.columns)
    human_report = reliability_report(humans, options=options, documents=documents,
                                      model_coder=model_coder, dimensions=dims)
    combined = (reliability_report(tables, options=options, documents=documents,
                                   model_coder=model_coder, dimensions=dims)
                if has_model else None)
    return ProjectAgreement(human_report, combined, model_coder, dims)


def mean_kappa(agreement: ProjectAgreement, target: str, kind: str) -> tuple[float, int]:
    """Mean Cohen's kappa over the defined ``kind`` pairs of ``target`` and the pair count."""
    values = [_value(p.get("kappa")) for p in agreement.pair_list()
              if p["target"] == target and p["kind"] == kind]
    defined = [v for v in values if not math.isnan(v)]
    return (sum(defined) / len(defined) if defined else math.nan), len(values)


def kappa_means(agreement: ProjectAgreement) -> pd.DataFrame:
    """Per target: the mean kappa of the human pairs and of the model–human pairs."""
    rows = [{"target": target, "human_human": mean_kappa(agreement, target, HUMAN_HUMAN)[0],
             "model_human": mean_kappa(agreement, target, MODEL_HUMAN)[0]}
            for target in agreement.targets()]
    return pd.DataFrame(rows, columns=["target", "human_human", "model_human"])
