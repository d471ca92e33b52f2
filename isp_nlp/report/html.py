"""Render the project report as one self-contained HTML file."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
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
from isp_nlp.report.reliability_table import reliability_table_context
from isp_nlp.store.files import atomic_write_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
DASH = "—"


def section_titles(dimension: Dimension | None) -> tuple[str, ...]:
    """The report's section titles; the confusion matrix and the sequences are those of
    the pathway ``dimension`` (named by it, e.g. "Stage sequences")."""
    name = (dimension.name or dimension.id) if dimension is not None else ""
    return (
        "Project summary",
        "Reliability",
        "Agreement",
        "Code frequencies",
        f"{name} confusion matrix" if name else "Confusion matrix",
        "Learning curve",
        "Codes by participant",
        "Code co-occurrence",
        f"{name} sequences" if name else "Value sequences",
        "Pathways",
        "Unresolved disagreements",
    )


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
    stage_pairs: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(STAGE_PAIR_COLUMNS))
    )
    stage_sequences: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: :class:`isp_nlp.analysis.pathways.PathwaySummary`, or None when not collected.
    pathways: Any = None
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


def _frequency_context(frequencies: pd.DataFrame) -> dict[str, Any]:
    if frequencies.empty:
        return {"headers": [], "rows": [], "chart": None}
    counts = frequencies.pivot_table(
        index="code", columns="coder", values="count", aggfunc="sum", fill_value=0
    )
    names = _code_names(frequencies)
    coders = [str(c) for c in counts.columns]
    rows = [
        [str(code), names.get(str(code), ""), *(str(int(v)) for v in counts.loc[code])]
        for code in sorted(counts.index, key=str)
    ]
    chart = _data_uri(plots.code_frequency_chart(frequencies))
    return {"headers": ["Code", "Name", *coders], "rows": rows, "chart": chart}


def _order(dimension: Dimension | None) -> tuple[Sequence[str] | None, dict[str, str]]:
    """A dimension's values in order and their codebook colours."""
    if dimension is None:
        return None, {}
    return dimension.value_ids, {v.id: v.color for v in dimension.values if v.color}


def _confusion_context(pairs: pd.DataFrame, dimension: Dimension | None) -> dict[str, Any]:
    usable = pairs.dropna(subset=["human", "model"]) if not pairs.empty else pairs
    if usable.empty:
        return {"chart": None, "n_pairs": 0, "n_agree": 0}
    agree = int((usable["human"].astype(str) == usable["model"].astype(str)).sum())
    chart = _data_uri(plots.confusion_matrix_chart(usable, _order(dimension)[0]))
    return {"chart": chart, "n_pairs": len(usable), "n_agree": agree}


def _sequence_context(sequences: Mapping[str, Sequence[str]],
                      dimension: Dimension | None) -> dict[str, Any]:
    if not sequences:
        return {"chart": None, "rows": []}
    rows = [
        {"document": str(doc), "n": len(seq), "text": format_stage_runs(list(seq))}
        for doc, seq in sequences.items()
    ]
    has_cells = any(len(seq) for seq in sequences.values())
    order, colours = _order(dimension)
    chart = (_data_uri(plots.stage_strip_chart(sequences, order, colours)) if has_cells
             else None)
    return {"chart": chart, "rows": rows}


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


def render_report(data: ReportData) -> str:
    """Render ``data`` as one HTML string with inline CSS and embedded PNG images."""
    frequencies = _check_columns(data.code_frequencies, FREQUENCY_COLUMNS, "code_frequencies")
    stage_pairs = _check_columns(data.stage_pairs, STAGE_PAIR_COLUMNS, "stage_pairs")
    names = _code_names(frequencies)
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
    template = template_environment().get_template("report.html.j2")
    return template.render(
        titles=section_titles(data.dimension),
        dim=_dimension_context(data.dimension, data.pathway_problem),
        project_name=data.project_name,
        generated_at=data.generated_at,
        summary=summary,
        model_rows=_model_rows(data.model_info),
        agreement=agreement,
        reliability=reliability,
        evaluation=sections.evaluation_context(data.evaluation, data.evaluation_problem),
        code_matrix=sections.matrix_context(data.code_matrix, xlabel="code",
                                            ylabel="participant (document)"),
        cooccurrence=sections.matrix_context(data.cooccurrence, xlabel="code", ylabel="code"),
        pathways=sections.pathway_context(data.pathways, data.pathway_problem),
        disagreements=sections.disagreement_context(data.disagreements,
                                                    data.disagreement_problem),
        frequencies=_frequency_context(frequencies),
        confusion=_confusion_context(stage_pairs, data.dimension),
        sequences=_sequence_context(data.stage_sequences, data.dimension),
        notes=[str(n) for n in data.notes],
        waves=sections.wave_context(data.wave_certificates),
        corrections=sections.corrections_context(data.corrections),
    )


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
