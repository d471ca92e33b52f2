"""Collect a project's annotations into agreement tables and report data.

The model takes part as coder ``model`` through its out-of-fold predictions
on the human-coded segments (see :func:`isp_nlp.pipeline.train_project`), so
it is never scored on segments it was trained on. Model-assisted
annotations from review are left out of agreement: they are not independent
of the model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .model import STAGES
from .pipeline import CV_SUFFIX, HUMAN_SOURCES
from .project import require_codebook
from .store import Store

MODEL_CODER = "model"


def annotation_frame(store: Store, *, include_model: bool = True) -> pd.DataFrame:
    """Human annotations (+ the model's out-of-fold labels) as a long frame."""
    rows = [
        (a.segment_id, a.coder, a.dimension, a.label)
        for a in store.annotations()
        if a.source in HUMAN_SOURCES
    ]
    info = store.latest_model()
    if include_model and info is not None:
        coded: dict[str, list[str]] = {}
        for s in store.suggestions(info["id"] + CV_SUFFIX):
            if s.dimension == "code":
                codes = coded.setdefault(s.segment_id, [])
                if s.suggested:
                    codes.append(s.label)
            elif s.dimension == "stage" and s.suggested:
                rows.append((s.segment_id, MODEL_CODER, "stage", s.label))
        for seg, codes in coded.items():
            for label in codes or [None]:
                rows.append((seg, MODEL_CODER, "code", label))
    return pd.DataFrame(rows, columns=["segment_id", "coder", "dimension", "label"])


def project_agreement(store: Store, *, include_model: bool = True):
    """Agreement per code and for the stage, humans and model side by side."""
    from .agreement import agreement_summary, coding_tables

    codebook = require_codebook(store)
    frame = annotation_frame(store, include_model=include_model)
    codes = [c.id for c in codebook.codes if not any(x.parent == c.id for x in codebook.codes)]
    tables = coding_tables(frame, codes)
    return agreement_summary(tables, model_coder=MODEL_CODER)


def stage_sequences(store: Store) -> dict[str, list[str]]:
    """Each document's stage labels in interview order: a coder's label where one
    exists (hand-coded or accepted in review; majority of coders, ties by coder
    name), else the model's suggestion, else '?' (model abstained)."""
    human: dict[str, dict[str, str]] = {}
    for a in store.annotations():
        if a.dimension == "stage" and a.label:
            human.setdefault(a.segment_id, {})[a.coder] = a.label
    model: dict[str, str] = {}
    info = store.latest_model()
    if info is not None:
        for s in store.suggestions(info["id"]):
            if s.dimension == "stage" and s.suggested:
                model[s.segment_id] = s.label
    out: dict[str, list[str]] = {}
    for seg in store.segments(codable_only=True):
        labels = human.get(seg.id)
        if labels:
            counts = pd.Series([labels[c] for c in sorted(labels)]).value_counts(sort=False)
            label = str(counts.idxmax())
        else:
            label = model.get(seg.id, "?")
        out.setdefault(seg.document, []).append(label)
    return out


def report_data(store: Store, *, evaluation: dict | None = None):
    """Everything the HTML report shows, gathered from the project."""
    from .report import ReportData

    codebook = require_codebook(store)
    names = {c.id: c.name for c in codebook.codes}
    segments = store.segments()
    human = [a for a in store.annotations() if a.source in HUMAN_SOURCES]
    freq = pd.DataFrame(
        [(a.label, names.get(a.label, a.label), a.coder) for a in human
         if a.dimension == "code" and a.label],
        columns=["code", "code_name", "coder"],
    )
    freq = (freq.groupby(["code", "code_name", "coder"]).size().reset_index(name="count")
            if len(freq) else pd.DataFrame(columns=["code", "code_name", "coder", "count"]))
    info = store.latest_model()
    frame = annotation_frame(store)
    stage = frame[frame["dimension"] == "stage"]
    model_stage = stage[stage["coder"] == MODEL_CODER].set_index("segment_id")["label"]
    pairs = [
        (row.segment_id, row.label, model_stage[row.segment_id])
        for row in stage[stage["coder"] != MODEL_CODER].itertuples()
        if row.segment_id in model_stage.index
    ]
    stage_pairs = pd.DataFrame(pairs, columns=["segment_id", "human", "model"])
    notes = [
        "The model's agreement is measured on out-of-fold predictions (cross-validation "
        "grouped by transcript): it never scores a transcript it was trained on.",
        "Model-assisted codes from review are excluded from agreement (not independent).",
        f"Stage labels: {', '.join(STAGES)}; the model abstains below its stage threshold.",
    ]
    model_info = None
    if info is not None:
        m = info["manifest"]
        model_info = {"model_id": info["id"], "embedder": m.get("embedder_id"),
                      "trained_on": m.get("n_training_segments"),
                      "code_threshold": m.get("code_threshold"),
                      "stage_threshold": m.get("stage_threshold"),
                      "created_at": info["created_at"]}
    return ReportData(
        project_name=store.path.parent.resolve().name,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        n_transcripts=len(store.transcripts()),
        n_segments=len(segments),
        n_codable=sum(s.codable for s in segments),
        coders=sorted({a.coder for a in human}),
        model_info=model_info,
        agreement=project_agreement(store),
        code_frequencies=freq,
        stage_pairs=stage_pairs,
        stage_sequences=stage_sequences(store),
        notes=notes,
    )


def write_project_report(store: Store, out: str | Path) -> Path:
    from .report import write_report

    return write_report(report_data(store), out)
