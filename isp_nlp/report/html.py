"""Render the project report as one self-contained HTML file."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from isp_nlp.agreement.groups import ProjectAgreement
from isp_nlp.agreement.tables import dimension_title
from isp_nlp.analysis.pathways import default_pathway
from isp_nlp.errors import IspNlpError
from isp_nlp.records import Dimension
from isp_nlp.report import plots, sections
from isp_nlp.report.label_sources import (
    counts_text,
    humans_only_sequences,
    legend_rows,
    model_share,
    source_counts,
)
from isp_nlp.report.methods import methods_text
from isp_nlp.report.palette import HUMAN_SOURCES
from isp_nlp.report.reliability_table import reliability_table_context
from isp_nlp.report.strip_chart import stage_strip_chart
from isp_nlp.store.files import atomic_write_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
DASH = "—"


def section_list(dimension: Dimension | None) -> tuple[tuple[str, str], ...]:
    """The report's sections as (anchor id, title), in order; the confusion matrix and
    the sequences are those of the pathway ``dimension`` (named by it, e.g. "Stage
    sequences")."""
    name = (dimension.name or dimension.id) if dimension is not None else ""
    return (
        ("summary", "Project summary"),
        ("methods", "Methods"),
        ("sources", "Label sources"),
        ("reliability", "Reliability"),
        ("agreement", "Agreement"),
        ("frequencies", "Code frequencies"),
        ("confusion", f"{name} confusion matrix" if name else "Confusion matrix"),
        ("learning", "Learning curve"),
        ("code-matrix", "Codes by participant"),
        ("attributes", "Codes by attribute"),
        ("cooccurrence", "Code co-occurrence"),
        ("sequences", f"{name} sequences" if name else "Value sequences"),
        ("pathways", "Pathways"),
        ("disagreements", "Unresolved disagreements"),
        ("wave-certificates", "Wave certificates"),
    )


def section_titles(dimension: Dimension | None) -> tuple[str, ...]:
    """The report's section titles (every one is always present; "Notes" only with
    notes)."""
    return tuple(title for _, title in section_list(dimension))


#: The titles for the default codebook (its pathway dimension is the stage).
SECTION_TITLES = section_titles(default_pathway())
FREQUENCY_COLUMNS = ("code", "code_name", "coder", "count")
STAGE_PAIR_COLUMNS = ("segment_id", "human", "model")


@dataclass
class ReportData:
    """Everything the report shows; computed elsewhere, only formatted here."""

    project_name: str
    generated_at: str
    n_transcripts: int
    n_segments: int
    n_codable: int
    coders: list[str]
    model_info: dict[str, Any] | None = None
    #: Reliability with CIs of the humans and of the humans plus the model.
    agreement: ProjectAgreement | None = None
    code_frequencies: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(FREQUENCY_COLUMNS))
    )
    #: Distinct segments each frequency series (``code_frequencies.coder``) coded.
    frequency_segments: dict[str, int] = field(default_factory=dict)
    #: Code id → the codebook's name, for figures and headings.
    code_names: dict[str, str] = field(default_factory=dict)
    stage_pairs: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(STAGE_PAIR_COLUMNS))
    )
    stage_sequences: dict[str, list[str]] = field(default_factory=dict)
    #: Where each value of ``stage_sequences`` came from (human, consensus, blind,
    #: assisted, model, unknown), parallel to it; empty: sources unknown.
    stage_sources: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: :class:`isp_nlp.analysis.pathways.PathwaySummary`, or None when not collected.
    pathways: Any = None
    #: The same from the humans' own labels only (consensus, human, blind).
    pathways_humans: Any = None
    #: :class:`isp_nlp.report.methods.MethodsFacts`, or None when not collected.
    methods: Any = None
    #: The pathway dimension ``stage_pairs``, ``stage_sequences`` and ``pathways`` are
    #: about (the codebook's; the default stage unless given); None when the codebook has
    #: none, and then ``pathway_problem`` says so in one sentence.
    dimension: Dimension | None = field(default_factory=default_pathway)
    pathway_problem: str | None = None
    #: The parsed ``evaluation.json`` (learning curve), or a sentence on why it is unusable.
    evaluation: dict[str, Any] | None = None
    evaluation_problem: str | None = None
    #: documents × codes and codes × codes segment counts.
    code_matrix: pd.DataFrame | None = None
    cooccurrence: pd.DataFrame | None = None
    #: :class:`isp_nlp.analysis.disagreements.Disagreement` items, or why there are none.
    disagreements: list[Any] | None = None
    disagreement_problem: str | None = None
    #: The latest model's latest wave certificate: one dict per target (target, title,
    #: audit_id, created_at and the stored detail); [] when it has none.
    wave_certificates: list[dict[str, Any]] = field(default_factory=list)
    #: The correction rate (:meth:`isp_nlp.agreement.corrections.CorrectionRate.to_dict`)
    #: with its sentence under ``"sentence"``; None without decisions on suggestions.
    corrections: dict[str, Any] | None = None
    #: One :class:`isp_nlp.analysis.attributes.AttributeTable` per document attribute.
    attribute_tables: list[Any] = field(default_factory=list)
    #: One :class:`isp_nlp.agreement.by_attribute.AttributeAgreement` per attribute, in
    #: the order of ``attribute_tables``.
    attribute_agreement: list[Any] = field(default_factory=list)
    #: Dimension id → its name in words (:func:`dimension_title`).
    dimension_names: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- formatting


def collapse_runs(labels: Iterable[str]) -> list[tuple[str, int]]:
    """Consecutive equal labels as (label, run length) pairs."""
    runs: list[tuple[str, int]] = []
    for label in labels:
        if runs and runs[-1][0] == label:
            runs[-1] = (label, runs[-1][1] + 1)
        else:
            runs.append((label, 1))
    return runs


def format_stage_runs(labels: Sequence[str]) -> str:
    """E.g. ``push ×3 → push_pull ×2 → exchange``; runs of one show no count."""
    if not labels:
        return "no codable segments"
    return " → ".join(
        label if n == 1 else f"{label} ×{n}" for label, n in collapse_runs(map(str, labels))
    )


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{float(value):.{digits}f}"


def _percent(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{100 * float(value):.1f}%"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _check_columns(frame: pd.DataFrame, needed: Sequence[str], name: str) -> pd.DataFrame:
    if frame is None or len(frame) == 0:
        return pd.DataFrame(columns=list(needed))
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise IspNlpError(
            f"The report field {name} is missing column(s) {', '.join(missing)}; expected "
            f"columns {', '.join(needed)}, so build it with all of them."
        )
    return frame


# --------------------------------------------------------------------------- sections


def _code_names(frequencies: pd.DataFrame) -> dict[str, str]:
    names: dict[str, str] = {}
    for code, name in zip(frequencies["code"], frequencies["code_name"], strict=True):
        if not pd.isna(name) and str(name) and str(name) != str(code):
            names.setdefault(str(code), str(name))
    return names


def _frequency_context(frequencies: pd.DataFrame, segments: Mapping[str, int]
                       ) -> dict[str, Any]:
    if frequencies.empty:
        return {"headers": [], "rows": [], "chart": None, "series": []}
    counts = frequencies.pivot_table(
        index="code", columns="coder", values="count", aggfunc="sum", fill_value=0
    )
    names = _code_names(frequencies)
    coders = [str(c) for c in counts.columns]
    rows = [
        [str(code), names.get(str(code), ""), *(str(int(v)) for v in counts.loc[code])]
        for code in sorted(counts.index, key=str)
    ]
    sources = (dict(zip(frequencies["coder"].astype(str), frequencies["source"], strict=True))
               if "source" in frequencies.columns else {})
    series = [{"name": c, "segments": segments.get(c), "source": str(sources.get(c, "human")),
               "hatched": sources.get(c) == "model"} for c in coders]
    chart = _data_uri(plots.code_frequency_chart(frequencies))
    return {"headers": ["Code", "Name", *coders], "rows": rows, "chart": chart,
            "series": series}


def _order(dimension: Dimension | None) -> tuple[Sequence[str] | None, dict[str, str]]:
    """A dimension's values in order and their codebook colours."""
    if dimension is None:
        return None, {}
    return dimension.value_ids, {v.id: v.color for v in dimension.values if v.color}


def _confusion_context(pairs: pd.DataFrame, dimension: Dimension | None) -> dict[str, Any]:
    usable = pairs.dropna(subset=["human", "model"]) if not pairs.empty else pairs
    if usable.empty:
        return {"chart": None, "n_pairs": 0, "n_agree": 0, "n_segments": 0}
    agree = int((usable["human"].astype(str) == usable["model"].astype(str)).sum())
    chart = _data_uri(plots.confusion_matrix_chart(usable, _order(dimension)[0]))
    return {"chart": chart, "n_pairs": len(usable), "n_agree": agree,
            "n_segments": int(usable["segment_id"].nunique())}


def _sequence_context(sequences: Mapping[str, Sequence[str]],
                      dimension: Dimension | None,
                      sources: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """The strip of every label (model cells hatched) and, with ``sources``, the
    humans-only strip, each with the counts its caption states."""
    if not sequences:
        return {"chart": None, "rows": [], "humans_chart": None}
    rows = [
        {"document": str(doc), "n": len(seq), "text": format_stage_runs(list(seq))}
        for doc, seq in sequences.items()
    ]
    has_cells = any(len(seq) for seq in sequences.values())
    order, colours = _order(dimension)
    if not has_cells:
        return {"chart": None, "rows": rows, "humans_chart": None}
    chart = _data_uri(stage_strip_chart(
        sequences, order, colours, sources=sources or None,
        unknown_text="? no label (model abstained)" if sources else "? no label"))
    out: dict[str, Any] = {"chart": chart, "rows": rows, "humans_chart": None,
                           "n_cells": sum(len(seq) for seq in sequences.values()),
                           "n_documents": len(sequences)}
    if sources:
        counts = source_counts(sources)
        humans = humans_only_sequences(sequences, sources)
        n_human = sum(n for s, n in counts.items() if s in HUMAN_SOURCES)
        out.update(counts=counts_text(counts), n_model=model_share(counts)[0],
                   n_human=n_human, n_assisted=counts.get("assisted", 0))
        if n_human:
            out["humans_chart"] = _data_uri(stage_strip_chart(
                humans, order, colours, sources={d: ["human"] * len(q)
                                                 for d, q in humans.items()},
                unknown_text="? no label from a person"))
    return out


def _dimension_context(dimension: Dimension | None, problem: str | None) -> dict[str, Any]:
    """Words for the pathway dimension's sections: its name, its scale and the values
    outside it; ``problem`` (why there is none) when the codebook has no pathway one."""
    if dimension is None:
        return {"name": None, "problem": problem or (
            "The codebook marks no pathway dimension, so there are no value sequences, "
            "confusion matrix or pathways.")}
    skipped = [v for v in dimension.value_ids if v not in dimension.scale]
    return {"name": dimension.name or dimension.id, "title": dimension_title(dimension),
            "scale": ", ".join(dimension.scale),
            "first": dimension.scale[0] if dimension.scale else "",
            "last": dimension.scale[-1] if dimension.scale else "",
            "skipped": " or ".join([*(f'"{v}"' for v in skipped), "unknown"]),
            "problem": None}


def _model_rows(info: Mapping[str, Any] | None) -> list[tuple[str, str]] | None:
    if info is None:
        return None
    rows = []
    for key, value in info.items():
        if isinstance(value, float):
            text = _number(value)
        elif isinstance(value, Mapping):
            text = ", ".join(f"{k}: {v}" for k, v in value.items())
        else:
            text = DASH if value is None else str(value)
        rows.append((str(key).replace("_", " "), text))
    return rows


# --------------------------------------------------------------------------- public API


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _named(matrix: pd.DataFrame | None, names: Mapping[str, str], *, index: bool = True
           ) -> pd.DataFrame | None:
    """``matrix`` with its code columns (and, with ``index``, rows) named by the codebook."""
    if matrix is None:
        return None
    out = matrix.rename(columns=lambda c: names.get(str(c), c))
    return out.rename(index=lambda c: names.get(str(c), c)) if index else out


def _sources_context(sources: Mapping[str, Sequence[str]],
                     dimension: Dimension | None) -> dict[str, Any]:
    """The label-source legend and the one sentence on how many values are the model's."""
    counts = source_counts(sources)
    n_model, total = model_share(counts)
    return {"rows": legend_rows(counts), "total": total, "n_model": n_model,
            "model_share": f"{100 * n_model / total:.1f}%" if total else DASH,
            "title": dimension_title(dimension) if dimension is not None else None}


def _methods_context(facts: Any) -> dict[str, Any] | None:
    if facts is None:
        return None
    paragraphs, references = methods_text(facts)
    return {"paragraphs": paragraphs, "references": references}


def render_report(data: ReportData) -> str:
    """Render ``data`` as one HTML string with inline CSS and embedded PNG images."""
    frequencies = _check_columns(data.code_frequencies, FREQUENCY_COLUMNS, "code_frequencies")
    stage_pairs = _check_columns(data.stage_pairs, STAGE_PAIR_COLUMNS, "stage_pairs")
    names = {**_code_names(frequencies), **data.code_names}
    agreement = reliability = None
    if data.agreement is not None and not (
            data.agreement.pairs.empty and data.agreement.alphas.empty):
        agreement = sections.agreement_context(data.agreement, names)
        reliability = reliability_table_context(data.agreement, names)
    summary = [
        ("Transcripts", str(data.n_transcripts)),
        ("Segments", str(data.n_segments)),
        ("Codable segments", str(data.n_codable)),
        ("Coders", ", ".join(map(str, data.coders)) if data.coders else DASH),
    ]
    listed = section_list(data.dimension)
    contents = [*listed, *((("notes", "Notes"),) if data.notes else ())]
    template = template_environment().get_template("report.html.j2")
    return template.render(
        titles=section_titles(data.dimension),
        sec=dict(listed),
        contents=contents,
        dim=_dimension_context(data.dimension, data.pathway_problem),
        project_name=data.project_name,
        generated_at=data.generated_at,
        summary=summary,
        model_rows=_model_rows(data.model_info),
        methods=_methods_context(data.methods),
        sources=_sources_context(data.stage_sources, data.dimension),
        agreement=agreement,
        reliability=reliability,
        evaluation=sections.evaluation_context(data.evaluation, data.evaluation_problem),
        code_matrix=sections.matrix_context(_named(data.code_matrix, names, index=False),
                                            xlabel="code", ylabel="participant (document)"),
        cooccurrence=sections.matrix_context(_named(data.cooccurrence, names), xlabel="code",
                                             ylabel="code"),
        pathways=sections.pathway_context(data.pathways, data.pathway_problem, names=names),
        pathways_humans=sections.pathway_context(data.pathways_humans, data.pathway_problem,
                                                 humans_only=True, names=names)
        if data.pathways_humans is not None else None,
        disagreements=sections.disagreement_context(data.disagreements,
                                                    data.disagreement_problem),
        frequencies=_frequency_context(frequencies, data.frequency_segments),
        confusion=_confusion_context(stage_pairs, data.dimension),
        sequences=_sequence_context(data.stage_sequences, data.dimension,
                                    data.stage_sources),
        notes=[str(n) for n in data.notes],
        waves=sections.wave_context(data.wave_certificates),
        corrections=sections.corrections_context(data.corrections),
        attributes=[_attribute_context(t, a, data.dimension_names) for t, a in zip_longest(
            data.attribute_tables, data.attribute_agreement)],
    )


def _attribute_context(table: Any, agreement: Any = None,
                       names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One code × attribute table for the template: header, rows of counts, the
    documents and the coded segments per value, and the sources counted; with
    ``agreement``, its rows (:func:`_attribute_agreement_context`)."""
    return {
        "agreement": (None if agreement is None
                      else _attribute_agreement_context(agreement, names or {})),
        "attribute": table.attribute,
        "values": list(table.values),
        "documents": [table.documents.get(v, 0) for v in table.values],
        "rows": [(name, [table.counts.get(key, {}).get(v, 0) for v in table.values])
                 for key, name in table.rows],
        "coded": [table.coded.get(v, 0) for v in table.values],
        "unused": table.unused,
        "sources": ", ".join(table.sources),
    }


def _attribute_agreement_context(result: Any, names: Mapping[str, str]) -> dict[str, Any]:
    """Agreement by one attribute for the template: its values, then one row per target
    and population with a cell per value (text and, when undefined, the reason)."""
    from isp_nlp.agreement.by_attribute import attribute_rows, estimate_text, undefined_cells
    from isp_nlp.agreement.project import ATTRIBUTE_METRIC

    def title(target: str) -> str:
        return {"overall": "all codes pooled", **names}.get(target, target)

    rows = attribute_rows(result, (ATTRIBUTE_METRIC,))
    undefined = undefined_cells(result, rows, title)
    return {"values": list(result.values),
            "rows": [{"name": title(row.target), "with_model": row.with_model,
                      "cells": [(estimate_text(e), why) for e, why
                                in zip(row.estimates, row.reasons, strict=True)]}
                     for row in rows],
            "undefined": [f"{', '.join(where)}: {why}" for why, where in undefined.items()],
            "segments": [result.segments.get(v, 0) for v in result.values]}


def write_report(data: ReportData, path: str | Path) -> Path:
    """Render and write the report atomically (temp file in the same folder, then replace)."""
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise IspNlpError(
            f"Cannot write the report to {target}: the folder {folder} does not exist, "
            f"so create it first or choose another output path."
        )
    html = render_report(data)
    try:
        atomic_write_text(target, html)
    except OSError as exc:
        raise IspNlpError(
            f"Cannot write the report to {target}: {exc.strerror or exc}; expected a writable "
            f"file path, so check permissions or choose another output path."
        ) from exc
    return target
