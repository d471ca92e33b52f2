"""Template contexts for the report's agreement, evaluation, matrix, pathway and
disagreement sections (formatting only; the numbers are computed elsewhere)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from isp_nlp.agreement.groups import ProjectAgreement
from isp_nlp.agreement.tables import HUMAN_HUMAN, MODEL_HUMAN
from isp_nlp.analysis.disagreements import format_codes
from isp_nlp.analysis.pathways import with_article
from isp_nlp.report import plots
from isp_nlp.report.label_sources import counts_text
from isp_nlp.report.palette import SOURCES
from isp_nlp.report.pathway_diagram import pathway_chart
from isp_nlp.suggest.wave_text import wave_sentences

DASH = "—"
DISAGREEMENT_CAP = 50
#: Columns the report lays out itself; any other column of the agreement frames is shown
#: as an extra statistic.
PAIR_KNOWN = {"target", "coder_a", "coder_b", "kind", "n_units", "percent_agreement", "kappa",
              "note", "ci_low", "ci_high"}
ALPHA_KNOWN = {"target", "coders", "n_units", "n_coders", "percent_agreement", "alpha", "note",
               "ci_low", "ci_high"}


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def number(value: Any, digits: int = 3) -> str:
    if is_missing(value):
        return DASH
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def percent(value: Any) -> str:
    return DASH if is_missing(value) else f"{100 * float(value):.1f}%"


def landis_koch(value: Any) -> str:
    """Landis & Koch (1977) band of an agreement coefficient; empty when undefined.

    Upper edges are inclusive: .20 is slight, .2001 fair, .80 substantial.
    """
    if is_missing(value):
        return ""
    v = float(value)
    if v < 0:
        return "poor"
    for edge, band in ((0.20, "slight"), (0.40, "fair"), (0.60, "moderate"),
                       (0.80, "substantial")):
        if v <= edge:
            return band
    return "almost perfect"


def interval(row: Mapping[str, Any], prefix: str = "") -> str:
    """``[low, high]`` from ``ci_low``/``ci_high`` (or ``<prefix>_ci_low``...); empty if absent."""
    low, high = row.get(f"{prefix}ci_low"), row.get(f"{prefix}ci_high")
    if low is None or high is None or is_missing(low) or is_missing(high):
        return ""
    return f"[{float(low):.2f}, {float(high):.2f}]"


def _has_ci(frame: pd.DataFrame) -> bool:
    """True when the frame holds at least one interval (``ci_low`` and ``ci_high``)."""
    if not {"ci_low", "ci_high"} <= set(frame.columns):
        return False
    return bool((frame["ci_low"].notna() & frame["ci_high"].notna()).any())


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _extras(frame: pd.DataFrame, known: set[str]) -> list[str]:
    return [c for c in frame.columns if c not in known and not str(c).endswith(
        ("_ci_low", "_ci_high"))]


def _extra_cells(row: Mapping[str, Any], extras: Sequence[str]) -> list[dict[str, str]]:
    cells = []
    for column in extras:
        value = row.get(column)
        text = number(value) if isinstance(value, float | int) or is_missing(value) else str(value)
        cells.append({"value": text, "ci": interval(row, f"{column}_")})
    return cells


EXTRA_TITLES = {"fleiss_kappa": "Fleiss κ", "gwet_ac1": "Gwet AC1"}


def target_title(target: str, names: Mapping[str, str],
                 agreement: ProjectAgreement | None = None) -> str:
    """A target's heading: a dimension's name (e.g. Stage), ``Code <id> — <name>`` or the
    pooled codes."""
    if target == "overall":
        return "All codes (pooled segment × code units)"
    dimension = None if agreement is None else agreement.dimension(target)
    if dimension is not None:
        return dimension.name or dimension.id
    return f"Code {target}" + (f" — {names[target]}" if target in names else "")


def pair_row(row: Mapping[str, Any], extras: Sequence[str]) -> dict[str, Any]:
    return {"coders": f"{row['coder_a']} vs {row['coder_b']}",
            "n_units": str(int(row["n_units"])), "percent": percent(row["percent_agreement"]),
            "kappa": number(row["kappa"]), "ci": interval(row),
            "band": landis_koch(row["kappa"]), "extras": _extra_cells(row, extras),
            "note": str(row.get("note") or "")}


def agreement_context(agreement: ProjectAgreement,
                      names: Mapping[str, str]) -> dict[str, Any]:
    """Per-target pair and group tables; CI columns and extra statistics when present."""
    all_pairs, all_alphas = agreement.pairs, agreement.alphas
    pair_extras = _extras(all_pairs, PAIR_KNOWN)
    alpha_extras = _extras(all_alphas, ALPHA_KNOWN)
    sections = []
    for target in agreement.targets():
        pairs = _records(all_pairs[all_pairs["target"] == target])
        alphas = _records(all_alphas[all_alphas["target"] == target])
        sections.append({
            "title": target_title(target, names, agreement),
            "is_code": target != "overall" and agreement.dimension(target) is None,
            "human": [pair_row(p, pair_extras) for p in pairs if p["kind"] == HUMAN_HUMAN],
            "model": [pair_row(p, pair_extras) for p in pairs if p["kind"] == MODEL_HUMAN],
            "alphas": [{"coders": str(a["coders"]), "n_units": str(int(a["n_units"])),
                        "n_coders": str(int(a["n_coders"])),
                        "percent": percent(a.get("percent_agreement")),
                        "alpha": number(a["alpha"]), "ci": interval(a),
                        "band": landis_koch(a["alpha"]),
                        "extras": _extra_cells(a, alpha_extras),
                        "note": str(a.get("note") or "")} for a in alphas],
        })
    return {"targets": sections, "pair_ci": _has_ci(all_pairs),
            "alpha_ci": _has_ci(all_alphas),
            "pair_extras": [EXTRA_TITLES.get(x, x) for x in pair_extras],
            "alpha_extras": [EXTRA_TITLES.get(x, x) for x in alpha_extras]}


def evaluation_context(evaluation: Mapping[str, Any] | None,
                       problem: str | None) -> dict[str, Any]:
    """The learning curve (model kappa vs K, human line) from ``evaluation.json``."""
    if problem:
        return {"chart": None, "message": problem, "rows": [], "human": DASH}
    if evaluation is None:
        return {"chart": None, "rows": [], "human": DASH, "message": (
            "No evaluation results were found (evaluation.json in the project folder), so "
            "there is no learning curve; run the evaluation to add one.")}
    curve = [p for p in evaluation.get("learning_curve") or []
             if isinstance(p, Mapping) and not is_missing(p.get("mean_kappa"))]
    value = (evaluation.get("human_human") or {}).get("mean_pairwise_kappa")
    human = None if value is None or is_missing(value) else float(value)
    if not curve:
        return {"chart": None, "rows": [], "human": DASH, "message": (
            "evaluation.json has no learning-curve point with a defined kappa, so there is "
            "no learning curve to show.")}
    rows = [("all" if p.get("seed_per_label") is None else str(p["seed_per_label"]),
             number(p["mean_kappa"]), number(p.get("sd"))) for p in curve]
    return {"chart": data_uri(plots.learning_curve_chart(curve, human)), "rows": rows,
            "human": number(human), "message": None, **risk_coverage_context(evaluation)}


def _share(value: Any) -> str:
    return DASH if value is None or is_missing(value) else f"{float(value):.1%}"


def _yes_no(value: Any) -> str:
    return DASH if value is None else "yes" if value else "no"


def risk_coverage_context(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """Risk–coverage table and chart, parity coverage, ECE and the certified threshold."""
    table = [r for r in evaluation.get("risk_coverage") or [] if isinstance(r, Mapping)]
    if not table:
        return {"risk_chart": None, "risk_rows": [], "parity_coverage": DASH, "ece": DASH,
                "certified": None}
    cert = evaluation.get("certified") if isinstance(evaluation.get("certified"),
                                                     Mapping) else None
    rows = [{"threshold": number(r.get("threshold")), "coverage": _share(r.get("coverage")),
             "model_human": _share(r.get("model_human_agreement")),
             "human_human": _share(r.get("human_human_agreement")),
             "model_kappa": number(r.get("model_human_kappa")),
             "human_kappa": number(r.get("human_human_kappa")),
             "parity": _yes_no(r.get("parity"))} for r in table]
    certified = None
    if cert is not None:
        certified = {"ok": cert.get("threshold") is not None,
                     "threshold": number(cert.get("threshold")),
                     "coverage": _share(cert.get("coverage")),
                     "model_human": _share(cert.get("model_human_agreement")),
                     "human_human": _share(cert.get("human_human_agreement")),
                     "target": _share(cert.get("target")),
                     "parity": {"yes": "held", "no": "did not hold"}.get(
                         _yes_no(cert.get("parity")), "undefined"),
                     "reason": str(cert.get("reason") or "")}
    usable = cert if cert is not None and cert.get("threshold") is not None else None
    return {"risk_chart": data_uri(plots.risk_coverage_chart(table, usable)),
            "risk_rows": rows, "parity_coverage": _share(evaluation.get("parity_coverage")),
            "ece": number((evaluation.get("model_human") or {}).get("ece")),
            "certified": certified}


def matrix_context(matrix: pd.DataFrame | None, *, xlabel: str, ylabel: str) -> dict[str, Any]:
    if matrix is None or matrix.empty or not matrix.to_numpy().any():
        return {"chart": None}
    return {"chart": data_uri(plots.count_heatmap(matrix, xlabel=xlabel, ylabel=ylabel)),
            "shape": matrix.shape}


def sources_note(pathways: Sequence[Any], humans_only: bool = False) -> str:
    """Which label sources a pathway diagram rests on, counted over its participants'
    segments on the scale."""
    tally: dict[str, int] = {}
    for p in pathways:
        for source, n in p.sources:
            tally[source] = tally.get(source, 0) + n
    order = [s for s in SOURCES if s in tally] + sorted(set(tally) - set(SOURCES))
    text = counts_text({s: tally[s] for s in order})
    scope = ("humans only (consensus, human and blind labels; assisted and model labels "
             "left out)" if humans_only else "all label sources")
    if not tally:
        return f"{scope}: where each label came from was not recorded"
    return f"{scope}: segments on the scale from {text}"


def pathway_context(summary, problem: str | None = None, humans_only: bool = False,
                    names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Diagram, per-participant pathways, pathway counts and transitions; ``problem`` says
    why there are none (such as a codebook without a pathway dimension); ``humans_only``
    says the summary rests on the humans' own labels only (the diagram's note says so);
    codes are named by ``names`` (the codebook's) where given."""
    names = names or {}

    if summary is None or not summary.pathways:
        return {"chart": None, "rows": [], "counts": [], "transitions": [], "notes": [],
                "min_run": None, "message": problem or (
                    "No participant has codable segments, so there are no pathways to trace.")}
    staged = any(p.stages for p in summary.pathways)
    title = summary.title
    message = None if staged else (
        f"No participant has {with_article(title)} ({', '.join(summary.dimension.scale)}) "
        f"lasting {summary.min_run} or more segments, so there is no pathway diagram.")
    if staged and len(summary.pathways) == 1:
        message = "Only one participant: the diagram shows a single pathway."
    shown = summary.stable_only or summary
    unstable = len(summary.unstable)
    if staged and unstable:
        kept = len(shown.pathways)
        note = (f"The diagram shows the {kept} participant{'s' if kept != 1 else ''} whose "
                f"pathway reads the same with a minimum run of 1, 2 or 3 segments; the "
                f"{unstable} others (marked ~ in the table) are left out of it.")
        message = f"{message} {note}" if message else note
    note = sources_note(shown.pathways, humans_only)
    return {
        "chart": data_uri(pathway_chart(shown, note, names)) if staged and any(
            p.stages for p in shown.pathways) else None,
        "sources": note,
        "n_participants": len(shown.pathways),
        "message": message,
        "min_run": summary.min_run,
        "rows": [{"document": p.document, "pathway": p.text, "stable": p.stable,
                  "readings": "; ".join(f"--min-run {n}: {' → '.join(r) or DASH}"
                                        for n, r in p.readings),
                  "sources": p.sources_text,
                  "staged": f"{p.n_staged} of {p.n_segments}"} for p in summary.pathways],
        "counts": summary.counts,
        "transitions": [{"move": f"{t.from_stage} → {t.to_stage}", "kind": t.kind,
                         "count": t.count,
                         "codes": ", ".join(f"{names.get(c.code, c.code)} (×{c.lift:.2f}, "
                                            f"{c.n_window} seg.)"
                                            for c in t.top_codes) or DASH}
                        for t in summary.transitions],
        "notes": list(summary.notes),
    }


def _labels_text(coder: str, v: Any, dimensions: Sequence[str]) -> str:
    values = "".join(f" | {v.value(d) or DASH}" for d in dimensions)
    return f"{coder}: {format_codes(v.codes) or DASH}{values}"


def disagreement_context(items: Sequence[Any] | None, problem: str | None) -> dict[str, Any]:
    """The first unresolved disagreements (capped) with the total count."""

    if problem or items is None:
        return {"rows": [], "n": 0, "n_all": 0, "cap": DISAGREEMENT_CAP, "dimensions": [],
                "message": problem or "Disagreements were not collected for this report."}
    unresolved = [d for d in items if not d.resolved]
    rows = []
    for d in unresolved[:DISAGREEMENT_CAP]:
        s = d.segment
        text = s.text if len(s.text) <= 300 else s.text[:299] + "…"
        rows.append({"where": f"{s.document} #{s.index}", "speaker": s.speaker or "",
                     "text": text, "differs": ", ".join(d.differs_on),
                     "labels": [_labels_text(c, v, d.dimensions) for c, v in d.labels.items()]})
    message = None if unresolved else (
        "There are no unresolved disagreements: every segment the coders labelled differently "
        "has a consensus, or the coders agree everywhere they overlap.")
    return {"rows": rows, "n": len(unresolved), "n_all": len(items), "cap": DISAGREEMENT_CAP,
            "message": message,
            "dimensions": list(unresolved[0].dimensions) if unresolved else []}


def wave_context(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The "Wave certificates" section: a row per target of the latest wave certificate
    (threshold, agreement on covered segments and its lower bound, target, the seeds'
    agreement) and its sentences; ``rows`` empty says how to get one."""
    def pct(x: Any) -> str:
        return "—" if not isinstance(x, int | float) else f"{100 * float(x):.1f}%"

    out = []
    for r in rows:
        d = r.get("detail") or {}
        seeds = d.get("seeds") or {}
        out.append({
            "title": "Codes" if r.get("target") == "code" else str(d.get("name") or r["target"]),
            "audit": f"{r.get('audit_id')} ({str(r.get('created_at', ''))[:10]})",
            "coded": f"{d.get('coded')} of {d.get('audit_size')}",
            "threshold": "not certified" if d.get("threshold") is None
            else f"{float(d['threshold']):.2f}",
            "agreement": pct(d.get("agreement")), "lower_bound": pct(d.get("lower_bound")),
            "target": f"{pct(d.get('target_agreement'))} ({float(d.get('confidence', 0.9)):.0%})",
            "seeds": pct(seeds.get("agreement")),
            "sentences": wave_sentences({"target": r.get("target"),
                                         "audit_id": r.get("audit_id"), **d}),
        })
    return {"rows": out}


def corrections_context(rate: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The correction rate: the overall sentence, and rows per coder and per model."""
    if not rate:
        return None

    def row(name: str, c: Mapping[str, Any]) -> tuple[str, int, str, str, str]:
        def pct(k: str) -> str:
            v = c.get(f"{k}_share")
            return "—" if v is None else f"{100 * float(v):.0f}%"
        return (name, int(c.get("decided", 0)), pct("accepted"), pct("edited"),
                pct("rejected"))

    return {"sentence": rate.get("sentence", ""),
            "rows": [row(f"coder {k}", v) for k, v in (rate.get("by_coder") or {}).items()]
            + [row(f"model {k or '—'}", v) for k, v in (rate.get("by_model") or {}).items()]}
