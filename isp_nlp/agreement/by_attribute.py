"""Agreement split by a document attribute (site, role, wave ...): does reliability hold
in each group of documents, or only on average?

:func:`split_by_attribute` keeps, for each value of the attribute, the rows of every coding
table whose segment belongs to a document with that value; :func:`attribute_agreement`
computes the same coefficients with the same options on each part, for the human coders
and, when the model labelled units, for the humans plus the model. A part with fewer
than two coders on a target gets that target's undefined estimate with its reason, as
the whole project would, never a number from elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from isp_nlp.agreement.describe import NO_MODEL_LABELS
from isp_nlp.agreement.reliability import ReliabilityOptions, ReliabilityReport, reliability_report
from isp_nlp.agreement.tables import COMBINED, MODEL_CODER
from isp_nlp.records import NO_VALUE, Dimension

Tables = Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class AttributeAgreement:
    """One reliability report per value of ``attribute`` (``values`` in order, documents
    without a value last as :data:`NO_VALUE`): ``reports`` over every coder (the model
    too, when it labelled units), ``humans`` over the human coders alone (None when the
    model is not among the coders: then ``reports`` is the humans')."""

    attribute: str
    values: tuple[str, ...]
    documents: dict[str, int]
    segments: dict[str, int]
    reports: dict[str, ReliabilityReport]
    humans: dict[str, ReliabilityReport | None]


def split_by_attribute(tables: Tables, documents: Mapping[str, str],
                       value_of_document: Mapping[str, str]
                       ) -> dict[str, dict[str, pd.DataFrame]]:
    """``tables`` cut into one set per attribute value: each value's tables hold the
    segments (index) of the documents with that value (``documents``: segment → document;
    a document missing from ``value_of_document`` counts under :data:`NO_VALUE`)."""
    value_of = {s: value_of_document.get(d, NO_VALUE) for s, d in documents.items()}
    values = sorted({v for v in value_of.values() if v != NO_VALUE})
    if NO_VALUE in value_of.values():
        values.append(NO_VALUE)
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for value in values:
        out[value] = {target: table[[value_of.get(str(s)) == value for s in table.index]]
                      for target, table in tables.items()}
    return out


def attribute_agreement(tables: Tables, documents: Mapping[str, str],
                        value_of_document: Mapping[str, str], *, attribute: str,
                        options: ReliabilityOptions,
                        dimensions: Sequence[Dimension] | None = None,
                        coders: Sequence[str] | None = None,
                        single_label: bool = False,
                        model_coder: str = MODEL_CODER) -> AttributeAgreement:
    """Reliability on each value's documents (see the module docstring)."""
    parts = split_by_attribute(tables, documents, value_of_document)
    per_document: dict[str, int] = {}
    for document in set(documents.values()):
        value = value_of_document.get(document, NO_VALUE)
        per_document[value] = per_document.get(value, 0) + 1
    reports: dict[str, ReliabilityReport] = {}
    humans: dict[str, ReliabilityReport | None] = {}
    segments: dict[str, int] = {}
    for value, part in parts.items():
        segments[value] = len(set().union(*(set(t.index) for t in part.values())))
        reports[value] = reliability_report(part, options=options, documents=documents,
                                            coders=coders, model_coder=model_coder,
                                            single_label=single_label,
                                            dimensions=dimensions)
        if model_coder in reports[value].data["settings"]["coders"]:
            people = {t: v[[c for c in v.columns if str(c) != model_coder]]
                      for t, v in part.items()}
            humans[value] = reliability_report(people, options=options,
                                               documents=documents, coders=coders,
                                               model_coder=model_coder,
                                               single_label=single_label,
                                               dimensions=dimensions)
        else:
            humans[value] = None
    return AttributeAgreement(attribute=attribute, values=tuple(parts), documents=per_document,
                              segments=segments, reports=reports, humans=humans)


@dataclass(frozen=True)
class AttributeRow:
    """One statistic of one target and population across the values: per value its
    estimate dict, or None with the reason it is undefined."""

    target: str
    metric: str
    with_model: bool
    estimates: tuple[dict[str, Any] | None, ...]
    reasons: tuple[str, ...]


def _estimates(report: ReliabilityReport, target: str) -> dict[str, Any]:
    data = report.data
    if target == "overall":
        return data.get("overall") or {}
    for part in ("dimensions", "codes"):
        if target in data.get(part, {}):
            return data[part][target]
    return data.get(target) or {}  # the one variable (single-label mode)


def _targets(result: AttributeAgreement, codes: bool) -> list[str]:
    """The dimensions (and the one variable), with ``codes`` each code, then all codes
    pooled, in the order the values' reports have them."""
    targets: list[str] = []
    for report in result.reports.values():
        data = report.data
        found = [*data.get("dimensions", {}), *(["code"] if "code" in data else [])]
        found += [*data.get("codes", {})] if codes else []
        found += ["overall"] if "overall" in data else []
        targets += [t for t in found if t not in targets]
    return targets


def _reason(est: Mapping[str, Any] | None) -> str:
    if not est:
        return "no coder labelled its units"
    note = str(est.get("note") or "undefined")
    return note.split(" undefined: ", 1)[1] if " undefined: " in note else note


def attribute_rows(result: AttributeAgreement, metrics: Sequence[str], *,
                   codes: bool = False) -> list[AttributeRow]:
    """Rows by target, then metric, the humans' then (when the model took part) the
    humans + model's. A humans + model estimate the model added nothing to (it labelled
    none of the target's units there) is undefined with that reason, not the humans'
    number again."""
    combined = any(h is not None for h in result.humans.values())
    rows = []
    for target in _targets(result, codes):
        for metric in metrics:
            for with_model in (False, True) if combined else (False,):
                estimates: list[dict[str, Any] | None] = []
                reasons: list[str] = []
                for value in result.values:
                    humans = result.humans[value]
                    report = result.reports[value] if with_model or humans is None \
                        else humans
                    est = _estimates(report, target).get(metric)
                    if with_model and est and est.get("population") != COMBINED:
                        est, why = None, NO_MODEL_LABELS
                    else:
                        why = _reason(est)
                    defined = est is not None and est.get("value") is not None
                    estimates.append(est if defined else None)
                    reasons.append("" if defined else why)
                rows.append(AttributeRow(target, metric, with_model, tuple(estimates),
                                         tuple(reasons)))
    return rows


#: A cell whose statistic is undefined (its reason is said beside the table).
UNDEFINED = "–"


def estimate_text(est: Mapping[str, Any] | None) -> str:
    """"0.64 [0.41, 0.83]" (the value with its CI), "0.64" without one, or
    :data:`UNDEFINED`."""
    if est is None:
        return UNDEFINED
    low, high = est.get("ci_low"), est.get("ci_high")
    ci = f" [{low:.2f}, {high:.2f}]" if low is not None and high is not None else ""
    return f"{est['value']:.2f}{ci}"


def undefined_cells(result: AttributeAgreement, rows: Sequence[AttributeRow],
                    title: Callable[[str], str]) -> dict[str, list[str]]:
    """Reason → the undefined cells it explains ("stage with the model in south"),
    targets named by ``title``."""
    out: dict[str, list[str]] = {}
    for row in rows:
        name = title(row.target)
        who = f"{name} with the model" if row.with_model else name
        for value, why in zip(result.values, row.reasons, strict=True):
            if why:
                out.setdefault(why, []).append(f"{who} in {value}")
    return out
