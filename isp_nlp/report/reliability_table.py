"""Template context for the report's reliability table: one row per target (each
dimension such as the stage, each code, all codes pooled) with bootstrap CIs and
Landis–Koch bands, humans beside humans plus model (formatting only; the numbers come
from :mod:`isp_nlp.agreement.groups`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from isp_nlp.agreement.groups import COMBINED, HUMANS, ProjectAgreement, mean_kappa
from isp_nlp.agreement.tables import MODEL_HUMAN
from isp_nlp.report import plots
from isp_nlp.report.sections import (
    DASH,
    data_uri,
    is_missing,
    landis_koch,
    number,
    percent,
)

NOTE_CAP = 12


def row_title(target: str, names: Mapping[str, str],
              agreement: ProjectAgreement | None = None) -> str:
    """Short row label: a dimension's name (Stage), the code's name (else its id), or All
    codes (pooled)."""
    dimension = None if agreement is None else agreement.dimension(target)
    if dimension is not None:
        return dimension.name or dimension.id
    if target == "overall":
        return "All codes (pooled)"
    return names.get(target, target)


def interval_text(est: Mapping[str, Any] | None) -> str:
    if not est or is_missing(est.get("ci_low")) or is_missing(est.get("ci_high")):
        return ""
    return f"[{float(est['ci_low']):.2f}, {float(est['ci_high']):.2f}]"


def estimate_cell(est: Mapping[str, Any] | None) -> dict[str, str]:
    """Value, CI and band of one estimate dict (``value`` None = undefined)."""
    value = None if not est else est.get("value")
    return {"value": number(value), "ci": interval_text(est), "band": landis_koch(value),
            "note": "" if not est or not is_missing(value) else str(est.get("note") or "")}


def _headers(agreement: ProjectAgreement) -> dict[str, str]:
    coders = list(agreement.settings.get("coders", []))
    pair = (f"κ {coders[0]}–{coders[1]}" if len(coders) == 2
            else "Light's κ, humans" if len(coders) > 2 else "κ humans")
    model = agreement.model_coder
    one = f"κ {coders[0]}–{model}" if len(coders) == 1 else "mean κ model–human"
    return {"pair": pair, "model": one}


def _model_cell(agreement: ProjectAgreement, target: str) -> dict[str, str]:
    pairs = [p for p in agreement.pair_list() if p["target"] == target
             and p["kind"] == MODEL_HUMAN]
    if len(pairs) == 1:
        return estimate_cell(pairs[0].get("kappa"))
    mean, _ = mean_kappa(agreement, target, MODEL_HUMAN)
    value = None if math.isnan(mean) else mean
    return {"value": number(value), "ci": f"{len(pairs)} pairs" if pairs else "",
            "band": landis_koch(value), "note": ""}


def reliability_table_context(agreement: ProjectAgreement,
                              names: Mapping[str, str]) -> dict[str, Any]:
    """Rows, headers, settings sentence, footnotes and the kappa comparison chart."""
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    has_ci = False
    has_model = agreement.combined is not None
    for target in agreement.targets():
        humans = agreement.estimates(HUMANS, target)
        combined = agreement.estimates(COMBINED, target)
        cells = {"alpha_h": estimate_cell(humans.get("alpha")),
                 "alpha_hm": estimate_cell(combined.get("alpha")) if has_model else None,
                 "kappa_h": estimate_cell(humans.get("kappa")),
                 "kappa_mh": _model_cell(agreement, target) if has_model else None,
                 "ac1_h": estimate_cell(humans.get("ac1"))}
        has_ci = has_ci or any(c is not None and c["ci"].startswith("[")
                               for c in cells.values())
        title = row_title(target, names, agreement)
        for key, label in (("alpha_h", "α humans"), ("alpha_hm", "α humans+model"),
                           ("kappa_h", "κ humans"), ("ac1_h", "AC1 humans")):
            cell = cells[key]
            if cell and cell["note"]:
                notes.append(f"{title}, {label}: {cell['note']}")
        alpha = humans.get("alpha") or {}
        plain = target == "overall" or agreement.dimension(target) is not None
        rows.append({"target": title, "code": "" if plain else target,
                     "n": str(alpha.get("n_units", 0)),
                     "percent": percent((humans.get("percent") or {}).get("value")),
                     **cells})
    settings = agreement.settings
    level = round(100 * float(settings.get("ci", 0.95)))
    sets: list[str] = []
    for group, label in ((HUMANS, "humans"), (COMBINED, "humans + model")):
        est = agreement.estimates(group, "overall").get("alpha_masi")
        if est and not is_missing(est.get("value")):
            sets.append(f"{label} {number(est['value'])} {interval_text(est)}".strip())
    return {
        "rows": rows, "headers": _headers(agreement), "has_model": has_model,
        "method": (f"{level} % percentile bootstrap intervals over {settings.get('by')}s "
                   f"({settings.get('resamples'):,} resamples, seed {settings.get('seed')})"),
        "seed": settings.get("seed"), "resamples": settings.get("resamples"),
        "set_alpha": "; ".join(sets), "notes": list(dict.fromkeys(notes))[:NOTE_CAP],
        "n_notes": len(set(notes)), "has_ci": has_ci,
        "chart": kappa_chart_context(agreement, names),
        "coders": ", ".join(settings.get("coders", [])) or DASH,
        "dimensions": ", ".join(row_title(t, names, agreement) for t in agreement.targets()
                                if agreement.dimension(t) is not None),
    }


def kappa_frame(agreement: ProjectAgreement, names: Mapping[str, str]) -> pd.DataFrame:
    """Per target (named as in the table): the humans' kappa and the model–human kappa
    of the reliability table, each with its interval where it has one (a mean over
    several model–human pairs has none)."""
    rows = []
    for target in agreement.targets():
        human = agreement.estimates(HUMANS, target).get("kappa") or {}
        model = [p.get("kappa") or {} for p in agreement.pair_list()
                 if p["target"] == target and p["kind"] == MODEL_HUMAN]
        if len(model) == 1:
            m = model[0]
        else:
            mean = mean_kappa(agreement, target, MODEL_HUMAN)[0]
            m = {"value": None if math.isnan(mean) else mean}
        rows.append({"target": "All codes (pooled)" if target == "overall"
                     else row_title(target, names, agreement),
                     "human_human": _float(human.get("value")),
                     "human_low": _float(human.get("ci_low")),
                     "human_high": _float(human.get("ci_high")),
                     "model_human": _float(m.get("value")),
                     "model_low": _float(m.get("ci_low")),
                     "model_high": _float(m.get("ci_high"))})
    return pd.DataFrame(rows, columns=["target", "human_human", "human_low", "human_high",
                                       "model_human", "model_low", "model_high"])


def _float(value: Any) -> float:
    return math.nan if is_missing(value) else float(value)


def kappa_chart_context(agreement: ProjectAgreement, names: Mapping[str, str]
                        ) -> dict[str, Any] | None:
    """The human–human vs model–human kappa bar chart per target with its interval
    whiskers, and the counts its caption states (None if no kappa is defined)."""
    frame = kappa_frame(agreement, names)
    usable = frame[frame[["human_human", "model_human"]].notna().any(axis=1)]
    if not len(usable):
        return None
    whiskers = int(usable[["human_low", "human_high"]].notna().all(axis=1).sum()
                   + usable[["model_low", "model_high"]].notna().all(axis=1).sum())
    bars = int(usable[["human_human", "model_human"]].notna().to_numpy().sum())
    return {"image": data_uri(plots.kappa_comparison_chart(usable)), "n_targets": len(usable),
            "n_bars": bars, "n_whiskers": whiskers}
