"""What each agreement number is, in words: the statistic's exact name (e.g. "mean
pairwise Cohen's kappa over 45 coder pairs"), what it was computed on, and which numbers
are reliability (humans vs humans) and which only say how often the model's out-of-fold
suggestions match a coder (never a reliability figure). Each row names its population:
the human coders alone, or the humans plus the model counted as one more coder; targets
whose statistics say nothing but one reason (fewer than 2 coders, a code nobody applied)
are gathered, to be said in one line. Pure data for the CLI table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from isp_nlp.agreement.reliability import ReliabilityReport
from isp_nlp.agreement.tables import COMBINED, HUMANS, MODEL_CODER, MODEL_HUMAN, VALUE_TARGET

#: Agreement weights of the weighted coefficients at each non-nominal level.
WEIGHTS = {"ordinal": "linear weights", "interval": "quadratic weights",
           "ratio": "quadratic weights"}


#: Why a target has no humans+model rows when the model labelled none of its units.
NO_MODEL_LABELS = "the model labelled none of its units"
#: How the coefficients' notes begin when every coding of a target is one label.
SAME_LABEL = "every coding is label "
#: The statistics the default table shows for each target and population (--detail, or
#: --metric, shows the others).
HEADLINE = ("percent", "kappa", "alpha")


@dataclass(frozen=True)
class Line:
    """One statistic of one population: its label in words, its metric and its estimate
    dict (value, CI, n, note)."""

    label: str
    estimate: dict[str, Any]
    population: str = HUMANS
    metric: str = ""


@dataclass(frozen=True)
class Block:
    """The statistics of one target (a dimension, the one variable, a code, all codes
    pooled), the humans' and the humans+model's by turns; ``code`` marks a code's."""

    title: str
    lines: list[Line]
    target: str = ""
    code: bool = False


@dataclass(frozen=True)
class Skipped:
    """Targets whose statistics for ``populations`` say nothing but one ``reason``
    (:func:`undefined_reason`): every statistic undefined for it, or (``perfect``) every
    one undefined or 1 because every coding is one label. ``targets`` are code ids when
    ``codes``, else the targets' names."""

    reason: str
    targets: list[str]
    codes: bool
    populations: tuple[str, ...] = (HUMANS,)
    perfect: bool = False


@dataclass(frozen=True)
class PairRow:
    """One coder pair on one target: its pair metrics (percent, kappa, pi) by name."""

    target: str
    coder_a: str
    coder_b: str
    estimates: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Readout:
    """The agreement output in words: mode sentence, the reliability heading (or why there
    is none), its blocks (the dimensions, the one variable, the codes, all codes pooled;
    rows of each population in ``populations``), the targets left out of them, the human
    coder pairs and the model-vs-coder section (absent without model labels).
    ``summary`` holds the targets that are not single codes."""

    mode: str
    human_heading: str
    blocks: list[Block] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    populations: tuple[str, ...] = ()
    human_pairs: list[PairRow] = field(default_factory=list)
    model_heading: str = ""
    model_pairs: list[PairRow] = field(default_factory=list)
    ci: float = 0.95
    summary: frozenset[str] = frozenset()


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


def _reason(note: Any) -> str:
    """A note without its "<metric> undefined: " lead, the same for every metric."""
    text = str(note or "undefined")
    return text.split(" undefined: ", 1)[1] if " undefined: " in text else text


def undefined_reason(estimates: Mapping[str, Mapping[str, Any]]) -> tuple[str, bool] | None:
    """(reason, perfect) when a target's (or a coder pair's) estimates say nothing but one
    reason: every one undefined for it (perfect False), or every coding the same label,
    so that each statistic is undefined or 1 (perfect True, as for a code no coder
    applied); else None."""
    reasons, perfect = set(), False
    for est in estimates.values():
        if est.get("value") is None:
            reasons.add(_reason(est.get("note")))
        elif abs(float(est["value"]) - 1.0) < 1e-9:
            perfect = True
        else:
            return None
    if len(reasons) != 1:
        return None
    reason = reasons.pop()
    if perfect and not reason.startswith(SAME_LABEL):
        return None
    return reason, perfect


def _targets(data: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """(target, its metric → estimate, whether it is a code): the dimensions, the one
    variable, the codes, then all codes pooled."""
    out = [(t, m, False) for t, m in data.get("dimensions", {}).items()]
    if VALUE_TARGET in data:
        out.append((VALUE_TARGET, data[VALUE_TARGET], False))
    out += [(t, m, True) for t, m in data.get("codes", {}).items()]
    if "overall" in data:
        out.append(("overall", data["overall"], False))
    return out


def _shown_name(target: str, names: Mapping[str, str] | None) -> str:
    if target == "overall":
        return "all codes pooled"
    if target == VALUE_TARGET:
        return "code (one variable)"
    return (names or {}).get(target, target)


def _blocks(reports: Mapping[str, ReliabilityReport], names: Mapping[str, str] | None
            ) -> tuple[list[Block], list[Skipped]]:
    """Each target's block, the rows of each population (``reports``, humans first) by
    turns for each metric; a population whose statistics of a target say nothing but one
    reason is left out of its block and counted in a :class:`Skipped` instead."""
    first = next(iter(reports.values()))
    level = first.data["settings"]["level"]
    others = {pop: {t: m for t, m, _ in _targets(r.data)} for pop, r in reports.items()}
    blocks: list[Block] = []
    skipped: dict[tuple[str, bool, bool, tuple[str, ...]], list[str]] = {}
    for target, _, code in _targets(first.data):
        shown: dict[str, dict[str, Any]] = {}
        left: dict[tuple[str, bool], list[str]] = {}
        for pop in reports:
            metrics = others[pop].get(target) or {}
            why = undefined_reason(metrics) if metrics else None
            if pop == COMBINED and metrics and all(
                    e.get("population") == HUMANS for e in metrics.values()):
                why = NO_MODEL_LABELS, False  # the same numbers as the humans' alone
            if why is not None:
                left.setdefault(why, []).append(pop)
            elif metrics:
                shown[pop] = metrics
        for (reason, perfect), pops in left.items():
            skipped.setdefault((reason, perfect, code, tuple(pops)), []).append(
                target if code else _shown_name(target, names))
        order = list(dict.fromkeys(m for metrics in shown.values() for m in metrics))
        lines = [Line(metric_label(metric, n_coders=int(metrics[metric]["n_coders"]),
                                   pairs=_pairs_defined(reports[pop], target, metric),
                                   level=level), metrics[metric], pop, metric)
                 for metric in order for pop, metrics in shown.items() if metric in metrics]
        if lines:
            blocks.append(Block(target_title(target, first, names), lines, target, code))
    return blocks, [Skipped(reason, targets, code, pops, perfect)
                    for (reason, perfect, code, pops), targets in skipped.items()]


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
    ``model_coder``, ``humans`` is the same report over the human coders alone. With two
    or more human coders each target's block holds the humans' rows (their reliability)
    and, with the model, the humans+model rows (the model counted as one more coder);
    with one human coder there is no block, and the model's rows are its pairs with that
    coder, labelled as how often its suggestions match the coder.
    """
    coders = [str(c) for c in report.data["settings"]["coders"]]
    people = [c for c in coders if c != model_coder]
    has_model = model_coder in coders
    if has_model and humans is None:
        raise ValueError("readout needs the humans-only report when the model is a coder")
    human_report = humans if has_model and humans is not None else report
    blocks: list[Block] = []
    skipped: list[Skipped] = []
    populations: tuple[str, ...] = ()
    pairs: list[PairRow] = []
    if len(people) >= 2:
        heading = f"Human-human reliability: {len(people)} coders ({_names(people)})"
        reports = {HUMANS: human_report}
        if has_model:
            reports[COMBINED] = report
            heading += (', rows "humans"; rows "humans + model" count the model\'s '
                        "out-of-fold suggestions as one more coder.")
        populations = tuple(reports)
        blocks, skipped = _blocks(reports, names)
        pairs = _pair_rows(human_report, None)
    else:
        who = f"one human coder ({people[0]})" if people else "no human coder"
        heading = (f"Human-human reliability: none, {who}; it needs two coders on the "
                   "same segments.")
    model_heading = ""
    if has_model:
        if len(people) == 1:
            model_heading = (f"Model vs coder {people[0]}: how often the out-of-fold "
                             "suggestions match this coder; not a reliability figure (one "
                             "human coder).")
        else:
            model_heading = ("Model vs each coder: how often the out-of-fold suggestions "
                             "match that coder; not a reliability figure.")
    summary = frozenset(t for t, _, code in _targets(report.data) if not code)
    return Readout(mode=mode, human_heading=heading, blocks=blocks, skipped=skipped,
                   populations=populations, human_pairs=pairs, model_heading=model_heading,
                   model_pairs=_pair_rows(report, MODEL_HUMAN) if has_model else [],
                   ci=float(report.data["settings"]["ci"]), summary=summary)
