"""`isp-nlp agreement --attribute NAME`: the statistics as a target × attribute-value table
within 80 columns, the undefined cells said with their reasons underneath."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from isp_nlp.cli.attributes import grid
from isp_nlp.cli.common import WIDTH

if TYPE_CHECKING:
    from isp_nlp.agreement.by_attribute import AttributeAgreement

#: The row under a target's that counts the model as one more coder.
MODEL_ROW = "+ model"
#: A cell's width: "-0.12 [-0.30, 0.05]" fits, so three values fit in 80 columns.
CELL = 19


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent="  ", break_on_hyphens=False)


def target_name(target: str, names: Mapping[str, str], *, single_label: bool) -> str:
    """A target in words: a dimension's name, "all codes pooled", or a code's id."""
    if target == "overall":
        return "all codes pooled"
    if target in names:
        return names[target]
    return "code (one variable)" if target == "code" and single_label else target


def attribute_lines(result: AttributeAgreement, *, names: Mapping[str, str],
                    metrics: Sequence[str], detail: bool, ci: float, by: str) -> list[str]:
    """The table (one row per target, population and statistic; a column per value),
    what it shows, and the undefined cells with their reasons."""
    from isp_nlp.agreement.by_attribute import (
        UNDEFINED,
        attribute_rows,
        estimate_text,
        undefined_cells,
    )
    from isp_nlp.agreement.describe import metric_label

    settings = next(iter(result.reports.values())).data["settings"]
    rows = attribute_rows(result, metrics, codes=detail)
    combined = any(r.with_model for r in rows)
    said = "; ".join(metric_label(m, n_coders=2, pairs=(1, 1), level=settings["level"])
                     for m in metrics)
    lines = _wrap(f"Agreement by {result.attribute}: {said}, with {ci:.0%} bootstrap CIs "
                  f"(resampling {by}s within each value's documents). Rows are the human "
                  "coders" + ("; each '+ model' row counts the model as one more coder."
                              if combined else "."))
    if {"kappa", "pi", "percent"} & set(metrics) and any(
            int(e.get("n_coders") or 0) > 2 for r in rows for e in r.estimates if e):
        lines += _wrap("With 3+ coders, kappa and pi are means over coder pairs and percent "
                       "agreement is pairwise, pooled over units.")
    table = [["documents", *(str(result.documents.get(v, 0)) for v in result.values)],
             ["coded segments", *(str(result.segments.get(v, 0)) for v in result.values)]]
    def title(target: str) -> str:
        return target_name(target, names, single_label=bool(settings["single_label"]))

    for row in rows:
        if row.metric == metrics[0] and not row.with_model and len(metrics) > 1:
            table.append([title(row.target), *("" for _ in result.values)])
        label = " ".join([row.metric] * (len(metrics) > 1) + [MODEL_ROW] * row.with_model)
        table.append([f"  {label}" if label else title(row.target),
                      *map(estimate_text, row.estimates)])
    undefined = undefined_cells(result, rows, title)
    lines += ["", *grid(["", *result.values], table, numeric=True, cell_width=CELL)]
    for why, where in undefined.items():
        shown = ", ".join(where[:6]) + (f" and {len(where) - 6} more" if len(where) > 6 else "")
        lines += _wrap(f"{UNDEFINED} undefined, {why}: {shown}.")
    if not detail:
        lines += ["", *_wrap("--detail adds a row per code.")]
    return lines


def attribute_frame(result: AttributeAgreement) -> pd.DataFrame:
    """Every estimate of every value's reports, the humans' and the humans + model's, with
    the attribute and its value in front (CSV)."""
    frames = []
    for value in result.values:
        for report in (result.humans[value], result.reports[value]):
            if report is None:
                continue
            frame = report.to_frame()
            frame.insert(0, "attribute_value", value)
            frame.insert(0, "attribute", result.attribute)
            frames.append(frame)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out.drop_duplicates(ignore_index=True)


def attribute_data(result: AttributeAgreement) -> dict[str, Any]:
    """JSON: each value's documents, coded segments and reports by population."""
    return {"attribute": result.attribute, "values": {
        value: {"documents": result.documents.get(value, 0),
                "segments": result.segments.get(value, 0),
                "humans": (result.humans[value] or result.reports[value]).to_dict(),
                "humans+model": (result.reports[value].to_dict()
                                 if result.humans[value] is not None else None)}
        for value in result.values}}
