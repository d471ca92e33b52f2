"""Render the project report as one self-contained HTML file."""

from __future__ import annotations

import base64
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from isp_nlp.agreement.groups import ProjectAgreement
from isp_nlp.errors import IspNlpError
from isp_nlp.report import plots, sections
from isp_nlp.report.reliability_table import reliability_table_context

TEMPLATES = Path(__file__).resolve().parent / "templates"
DASH = "—"
SECTION_TITLES = (
    "Project summary",
    "Reliability",
    "Agreement",
    "Code frequencies",
    "Stage confusion matrix",
    "Learning curve",
    "Codes by participant",
    "Code co-occurrence",
    "Stage sequences",
    "Pathways",
    "Unresolved disagreements",
)
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
    #: The parsed ``evaluation.json`` (learning curve), or a sentence on why it is unusable.
    evaluation: dict[str, Any] | None = None
    evaluation_problem: str | None = None
    #: documents × codes and codes × codes segment counts.
    code_matrix: pd.DataFrame | None = None
    cooccurrence: pd.DataFrame | None = None
    #: :class:`isp_nlp.analysis.disagreements.Disagreement` items, or why there are none.
    disagreements: list[Any] | None = None
    disagreement_problem: str | None = None


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


def _confusion_context(pairs: pd.DataFrame) -> dict[str, Any]:
    usable = pairs.dropna(subset=["human", "model"]) if not pairs.empty else pairs
    if usable.empty:
        return {"chart": None, "n_pairs": 0, "n_agree": 0}
    agree = int((usable["human"].astype(str) == usable["model"].astype(str)).sum())
    chart = _data_uri(plots.confusion_matrix_chart(usable))
    return {"chart": chart, "n_pairs": len(usable), "n_agree": agree}


def _sequence_context(sequences: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    if not sequences:
        return {"chart": None, "rows": []}
    rows = [
        {"document": str(doc), "n": len(seq), "text": format_stage_runs(list(seq))}
        for doc, seq in sequences.items()
    ]
    has_cells = any(len(seq) for seq in sequences.values())
    chart = _data_uri(plots.stage_strip_chart(sequences)) if has_cells else None
    return {"chart": chart, "rows": rows}


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
        titles=SECTION_TITLES,
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
        pathways=sections.pathway_context(data.pathways),
        disagreements=sections.disagreement_context(data.disagreements,
                                                    data.disagreement_problem),
        frequencies=_frequency_context(frequencies),
        confusion=_confusion_context(stage_pairs),
        sequences=_sequence_context(data.stage_sequences),
        notes=[str(n) for n in data.notes],
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
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    temp: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, prefix=f".{target.name}.", suffix=".tmp",
            delete=False,
        ) as handle:
            temp = Path(handle.name)
            handle.write(html)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except OSError as exc:
        if temp is not None:
            temp.unlink(missing_ok=True)
        raise IspNlpError(
            f"Cannot write the report to {target}: {exc.strerror or exc}; expected a writable "
            f"file path, so check permissions or choose another output path."
        ) from exc
    return target
