"""What each agreement number is, in words: the statistic's exact name (e.g. "mean
pairwise Cohen's kappa over 45 coder pairs"), what it was computed on, and which numbers
are reliability (humans vs humans) and which only say how often the model's out-of-fold
suggestions match a coder (never a reliability figure). Pure data for the CLI table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from isp_nlp.agreement.reliability import ReliabilityReport
from isp_nlp.agreement.tables import MODEL_CODER, MODEL_HUMAN, VALUE_TARGET

#: Agreement weights of the weighted coefficients at each non-nominal level.
WEIGHTS = {"ordinal": "linear weights", "interval": "quadratic weights",
           "ratio": "quadratic weights"}


@dataclass(frozen=True)
class Line:
    """One statistic: its label in words and its estimate dict (value, CI, n, note)."""

    label: str
    estimate: dict[str, Any]


@dataclass(frozen=True)
class Block:
    """The statistics of one target (a dimension, the one variable, a code, all codes
    pooled)."""

    title: str
    lines: list[Line]


@dataclass(frozen=True)
class PairRow:
    """One coder pair on one target: its pair metrics (percent, kappa, pi) by name."""

    target: str
    coder_a: str
    coder_b: str
    estimates: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Readout:
    """The agreement output in words: mode sentence, the human–human reliability section
    (or why it is absent) and the model-vs-coder section (absent without model labels)."""

    mode: str
    human_heading: str
    human_blocks: list[Block] = field(default_factory=list)
    human_pairs: list[PairRow] = field(default_factory=list)
    model_heading: str = ""
    model_pairs: list[PairRow] = field(default_factory=list)
    ci: float = 0.95


def mode_sentence(single_label: bool, *, forced: bool, level: str) -> str:
    """How the codes were read: one variable (detected or forced) or per-code presence."""
    if not single_label:
        return ("Per-code mode: each code is its presence (0/1) in each segment, since "
                "coders give some units several codes.")
    why = ("--single-label" if forced
           else "detected: each coder gives each unit exactly one code")
    return (f"Single-variable mode ({why}): agreement on that one variable ({level} "
            "level).")


def _pairs_defined(report: ReliabilityReport, target: str, metric: str) -> tuple[int, int]:
    """(pairs whose ``metric`` is defined, pairs) of ``target`` in ``report``."""
    pairs = [p for p in report.data.get("pairs", []) if p["target"] == target and metric in p]
    return sum(p[metric]["value"] is not None for p in pairs), len(pairs)


def metric_label(metric: str, *, n_coders: int, pairs: tuple[int, int], level: str) -> str:
    """The statistic's exact name for a row over ``n_coders`` coders; ``pairs`` is (coder
    pairs averaged, coder pairs) for the pairwise means (kappa, pi)."""
    weights = f", {WEIGHTS[level]}" if level in WEIGHTS else ""
    if metric in ("kappa", "pi"):
        name = "Cohen's kappa" if metric == "kappa" else "Scott's pi"
        if n_coders <= 2:
            return name + weights
        used, total = pairs
        over = f"{used} coder pairs" if used == total else f"{used} of {total} coder pairs"
        return f"mean pairwise {name} over {over}{weights}"
    if metric == "percent":
        return ("percent agreement" if n_coders <= 2
                else "pairwise percent agreement, pooled over units")
    if metric == "alpha":
        return "Krippendorff's alpha" + (f" ({level})" if level != "nominal" else "")
    if metric.startswith("alpha_"):
        distance = "MASI" if metric == "alpha_masi" else metric[6:].capitalize()
        return f"Krippendorff's alpha, {distance} distance on code sets"
    names = {"fleiss": "Fleiss' kappa", "ac1": "Gwet's AC1", "bp": "Brennan-Prediger kappa"}
    return names.get(metric, metric) + weights


def target_title(target: str, report: ReliabilityReport,
                 names: Mapping[str, str] | None = None) -> str:
    """What a target's rows were computed on; ``names`` gives a dimension's name in words
    (:func:`~isp_nlp.agreement.tables.dimension_title`), else its id is shown."""
    settings = report.data["settings"]
    if target == VALUE_TARGET and settings.get("single_label"):
        cats = [f"{c:g}" if isinstance(c, float) else str(c)
                for c in settings.get("categories", [])]
        shown = ", ".join(cats) if len(cats) <= 8 else ", ".join(cats[:8]) + ", ..."
        return f"code: one {settings['level']} variable, {len(cats)} categories ({shown})"
    if target in report.data.get("dimensions", {}):
        return f"{(names or {}).get(target, target)}: one label per coder and segment"
    if target == "overall":
        return "all codes pooled: presence (0/1) of each code in each segment"
    return f"code {target}: presence (0/1) per segment"


def _blocks(report: ReliabilityReport, names: Mapping[str, str] | None) -> list[Block]:
    data, level = report.data, report.data["settings"]["level"]
    targets: list[tuple[str, dict[str, Any]]] = list(data.get("dimensions", {}).items())
    if VALUE_TARGET in data:
        targets.append((VALUE_TARGET, data[VALUE_TARGET]))
    targets += list(data.get("codes", {}).items())
    if "overall" in data:
        targets.append(("overall", data["overall"]))
    blocks = []
    for target, metrics in targets:
        lines = []
        for metric, est in metrics.items():
            pairs = _pairs_defined(report, target, metric)
            lines.append(Line(metric_label(metric, n_coders=int(est["n_coders"]), pairs=pairs,
                                           level=level), est))
        blocks.append(Block(target_title(target, report, names), lines))
    return blocks


def _pair_rows(report: ReliabilityReport, kind: str | None) -> list[PairRow]:
    rows = []
    for p in report.data.get("pairs", []):
        if kind is None or p["kind"] == kind:
            rows.append(PairRow(p["target"], p["coder_a"], p["coder_b"],
                                {m: v for m, v in p.items() if isinstance(v, dict)}))
    return rows


def _names(coders: Sequence[str]) -> str:
    return ", ".join(coders) if len(coders) <= 6 else ", ".join(coders[:6]) + ", ..."


def readout(report: ReliabilityReport, *, humans: ReliabilityReport | None = None,
            mode: str = "", model_coder: str = MODEL_CODER,
            names: Mapping[str, str] | None = None) -> Readout:
    """The report laid out by what its numbers are (``names``: each dimension's name in
    words, by id).

    ``report`` is :func:`reliability_report` over every coder; when it includes
    ``model_coder``, ``humans`` is the same report over the human coders alone (its
    rows are the human–human reliability); the model's rows are its pairs with each
    human coder, labelled as how often its suggestions match that coder.
    """
    coders = [str(c) for c in report.data["settings"]["coders"]]
    people = [c for c in coders if c != model_coder]
    has_model = model_coder in coders
    if has_model and humans is None:
        raise ValueError("readout needs the humans-only report when the model is a coder")
    human_report = humans if has_model and humans is not None else report
    if len(people) >= 2:
        heading = f"Human-human reliability: {len(people)} coders ({_names(people)})"
        blocks, pairs = _blocks(human_report, names), _pair_rows(human_report, None)
    else:
        who = f"one human coder ({people[0]})" if people else "no human coder"
        heading = (f"Human-human reliability: none, {who}; it needs two coders on the "
                   "same segments.")
        blocks, pairs = [], []
    model_heading = ""
    if has_model:
        if len(people) == 1:
            model_heading = (f"Model vs coder {people[0]}: how often the out-of-fold "
                             "suggestions match this coder; not a reliability figure (one "
                             "human coder).")
        else:
            model_heading = ("Model vs each coder: how often the out-of-fold suggestions "
                             "match that coder; not a reliability figure.")
    return Readout(mode=mode, human_heading=heading, human_blocks=blocks, human_pairs=pairs,
                   model_heading=model_heading, model_pairs=_pair_rows(report, MODEL_HUMAN)
                   if has_model else [], ci=float(report.data["settings"]["ci"]))
