"""Collect a project's report data; its agreement comes from
:mod:`isp_nlp.agreement.project`, as ``isp-nlp agreement``'s does."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from isp_nlp.agreement.corrections import project_correction_rate
from isp_nlp.agreement.project import (
    annotation_frame,
    model_pairs,
    model_scope,
    project_agreement,
    project_attribute_agreement,
)
from isp_nlp.agreement.tables import MODEL_CODER, dimension_title
from isp_nlp.analysis.attributes import attribute_table
from isp_nlp.analysis.disagreements import project_disagreements
from isp_nlp.analysis.pathways import pathway_dimension, project_pathways, segment_labels
from isp_nlp.errors import IspNlpError, ProjectError
from isp_nlp.records import AGREEMENT_SOURCES, CODE_DIMENSION, CODER_SOURCES, Dimension
from isp_nlp.report.html import ReportData, write_report
from isp_nlp.report.label_sources import humans_only, source_sequences
from isp_nlp.report.methods import method_facts
from isp_nlp.store.certificates import latest_wave_certificates
from isp_nlp.store.database import Store
from isp_nlp.store.folder import require_codebook

EVALUATION_FILE = "evaluation.json"


def stage_sequences(store: Store, labels=None) -> dict[str, list[str]]:
    """Each document's labels of the pathway dimension (the stage by default) in interview
    order: the consensus, else the coders' majority (ties: alphabetically first coder),
    else model-assisted coders, else the model's suggestion, else '?' (see
    :func:`isp_nlp.analysis.pathways.segment_labels`)."""

    labels = segment_labels(store) if labels is None else labels
    return {doc: [s.stage for s in segs] for doc, segs in labels.items()}


def code_matrices(labels: Mapping[str, Sequence[Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Documents × codes and codes × codes segment counts from the coders' codes (model
    suggestions excluded)."""
    rows = [(doc, code) for doc, segs in labels.items() for s in segs
            if s.codes and s.codes_source != MODEL_CODER for code in s.codes]
    if not rows:
        return pd.DataFrame(), pd.DataFrame()
    long = pd.DataFrame(rows, columns=["document", "code"])
    by_doc = pd.crosstab(long["document"], long["code"])
    by_doc = by_doc.reindex(index=sorted(labels), fill_value=0)
    codes = list(by_doc.columns)
    sets = [s.codes for segs in labels.values() for s in segs
            if s.codes and s.codes_source != MODEL_CODER]
    counts = np.zeros((len(codes), len(codes)), dtype=int)
    position = {code: i for i, code in enumerate(codes)}
    for found in sets:
        for a in found:
            for b in found:
                counts[position[a], position[b]] += 1
    return by_doc, pd.DataFrame(counts, index=codes, columns=codes)


MODEL_SERIES = "model (suggestions)"


def _series(coder: str, source: str) -> str:
    """A frequency series' name: the coder, with the source unless a free human coding."""
    return coder if source in ("human", "consensus") else f"{coder} ({source})"


def code_frequencies(store: Store, names: Mapping[str, str], info: Mapping[str, Any] | None
                     ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Segments per code and series (a coder and source of codes, and the latest model's
    suggestions), columns code, code_name, coder, count, source; and the distinct
    segments each series coded with any code."""
    rows = {(a.segment_id, a.label, _series(a.coder, a.source), a.source)
            for a in store.annotations()
            if a.source in CODER_SOURCES and a.dimension == CODE_DIMENSION and a.label}
    coded = {(a.segment_id, _series(a.coder, a.source)) for a in store.annotations()
             if a.source in CODER_SOURCES and a.dimension == CODE_DIMENSION}
    if info is not None:
        for s in store.suggestions(info["id"], with_evidence=False):
            if s.dimension == CODE_DIMENSION:
                coded.add((s.segment_id, MODEL_SERIES))
                if s.suggested:
                    rows.add((s.segment_id, s.label, MODEL_SERIES, "model"))
    columns = ["code", "code_name", "coder", "source"]
    frame = pd.DataFrame([(code, names.get(code, code), series, source)
                          for _, code, series, source in rows], columns=columns)
    frame = (frame.groupby(columns).size().reset_index(name="count") if len(frame)
             else pd.DataFrame(columns=[*columns, "count"]))
    segments = Counter(series for _, series in coded)
    return frame, dict(sorted(segments.items()))


def load_evaluation(folder: str | Path) -> tuple[dict | None, str | None]:
    """``evaluation.json`` of a project folder: (data, None), (None, None) when absent,
    or (None, a sentence saying what is wrong) when it cannot be used."""
    path = Path(folder) / EVALUATION_FILE
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, (f"{path.name} cannot be read ({exc}), so the learning curve is left out; "
                      "re-run the evaluation to rewrite it.")
    curve = data.get("learning_curve") if isinstance(data, dict) else None
    if not isinstance(curve, list) or not all(isinstance(p, dict) for p in curve):
        return None, (f"{path.name} has no learning_curve list of points, so the learning curve "
                      "is left out; expected learning_curve: [{seed_per_label, mean_kappa, sd}].")
    for i, point in enumerate(curve):
        for key in ("mean_kappa", "sd"):
            value = point.get(key)
            if value is not None and not isinstance(value, int | float):
                return None, (f"{path.name} learning_curve[{i}].{key} is {value!r}, expected a "
                              "number, so the learning curve is left out.")
    human = data.get("human_human")
    if human is not None and not isinstance(human, dict):
        return None, (f"{path.name} human_human is {type(human).__name__}, expected an object "
                      "with mean_pairwise_kappa, so the learning curve is left out.")
    return data, None


def _disagreements(store: Store):

    try:
        items, _ = project_disagreements(store)
    except IspNlpError as exc:
        return None, f"Disagreements cannot be listed: {exc}"
    return items, None


def _certificate_text(cert: dict) -> str:
    """One line on a model's certificate for the report's model table."""
    target = cert.get("target")
    if cert.get("threshold") is None:
        return f"none: {cert.get('reason', '')}"
    if not isinstance(target, int | float):  # a manifest that states no target
        return f"suggestions at or above {cert['threshold']:.2f} are within the certified range"
    return (f"suggestions at or above {cert['threshold']:.2f} are within the certified range "
            f"(agreement with the seed coders at least {target:.1%} with "
            f"{cert.get('confidence', 0.9):.0%} confidence; {cert.get('reason', '')})")


def _threshold(manifest: dict, dimension: Dimension) -> Any:
    """The model's abstain threshold on ``dimension`` from its metadata (``thresholds``;
    an older model's ``<dimension>_threshold``), None when it has none."""
    thresholds = manifest.get("thresholds")
    value = thresholds.get(dimension.id) if isinstance(thresholds, dict) else None
    return manifest.get(f"{dimension.id}_threshold") if value is None else value


def _dimension_note(dimension: Dimension, manifest: dict | None) -> str:
    """One sentence on a dimension's labels, as the codebook describes them, and the
    model's threshold on it."""
    values = "; ".join(f"{v.id} ({v.name}{': ' + v.definition if v.definition else ''})"
                       for v in dimension.values)
    threshold = None if manifest is None else _threshold(manifest, dimension)
    below = f" ({float(threshold):.2f})" if isinstance(threshold, int | float) else ""
    return (f"{dimension.name or dimension.id} labels: {values}; the model abstains below "
            f"its {dimension_title(dimension)} threshold{below}.")


def report_data(store: Store, *, evaluation: dict | None = None, min_run: int = 2):
    """Everything the HTML report shows, gathered from the project: agreement per code and
    per dimension; value sequences, confusion matrix and pathways of the codebook's
    pathway dimension only (none, with the reason, without one)."""

    codebook = require_codebook(store)
    names = {c.id: c.name for c in codebook.codes}
    segments = store.segments()
    human = [a for a in store.annotations() if a.source in AGREEMENT_SOURCES]
    info = store.latest_model()
    freq, series_segments = code_frequencies(store, names, info)
    manifest = info["manifest"] if info is not None else None
    pathway = codebook.pathway
    stage_pairs = pd.DataFrame(
        model_pairs(annotation_frame(store), pathway.id) if pathway is not None else [],
        columns=["segment_id", "human", "model"])
    sequence_words = (f"{dimension_title(pathway)} sequences, pathways and "
                      if pathway is not None else "")
    notes = [
        "The model's agreement is measured on out-of-fold predictions (cross-validation "
        "grouped by transcript): it never scores a transcript it was trained on; on "
        "blind-coded audit segments, which never train it, on its suggestions.",
        model_scope(store, annotation_frame(store)),
        *(_dimension_note(d, manifest) for d in codebook.dimensions),
        "Consensus labels (isp-nlp resolve) are not a coder in agreement; they take precedence "
        f"in {sequence_words}the code matrices.",
    ]
    labels = segment_labels(store, dimension=pathway)
    pathways, pathway_problem, pathways_humans = None, None, None
    try:
        pathway_dimension(store)
    except ProjectError as exc:
        pathway_problem = str(exc)[:1].upper() + str(exc)[1:] + "."
    else:
        pathways = project_pathways(store, min_run=min_run, labels=labels)
        pathways_humans = project_pathways(store, min_run=min_run, labels=humans_only(labels))
    by_doc, co = code_matrices(labels)
    problem = None
    if evaluation is None:
        evaluation, problem = load_evaluation(store.path.parent)
    items, disagreement_problem = _disagreements(store)
    model_info = None
    if info is not None:
        m = info["manifest"]
        model_info = {"model_id": info["id"], "embedder": m.get("embedder_id"),
                      "trained_on": m.get("n_training_segments"),
                      "code_threshold": m.get("code_threshold"),
                      **{f"{d.id}_threshold": _threshold(m, d) for d in codebook.dimensions},
                      **{f"certified_{dim}": _certificate_text(cert)
                         for dim, cert in (m.get("certified") or {}).items()
                         if isinstance(cert, dict)},
                      "created_at": info["created_at"]}
    agreement = project_agreement(store)
    waves = [] if info is None else latest_wave_certificates(store, info["id"])
    return ReportData(
        project_name=store.path.parent.resolve().name,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        n_transcripts=len(store.transcripts()),
        n_segments=len(segments),
        n_codable=sum(s.codable for s in segments),
        coders=sorted({a.coder for a in human}),
        model_info=model_info,
        agreement=agreement,
        code_frequencies=freq,
        frequency_segments=series_segments,
        code_names=names,
        stage_pairs=stage_pairs,
        stage_sequences=stage_sequences(store, labels) if pathway is not None else {},
        stage_sources=source_sequences(labels) if pathway is not None else {},
        pathways_humans=pathways_humans,
        methods=method_facts(store, codebook, manifest, waves, agreement),
        notes=notes,
        pathways=pathways,
        dimension=pathway,
        pathway_problem=pathway_problem,
        evaluation=evaluation,
        evaluation_problem=problem,
        code_matrix=by_doc,
        cooccurrence=co,
        disagreements=items,
        disagreement_problem=disagreement_problem,
        wave_certificates=waves,
        corrections=_corrections(store),
        attribute_tables=[attribute_table(store, name) for name in store.attribute_names()],
        attribute_agreement=[project_attribute_agreement(store, name)
                             for name in store.attribute_names()],
        dimension_names={d.id: dimension_title(d) for d in codebook.dimensions},
    )


def _corrections(store: Store) -> dict[str, Any] | None:
    """The correction rate with its overall sentence; None without decisions."""
    rate = project_correction_rate(store)
    if not rate.overall.decided:
        return None
    return {**rate.to_dict(), "sentence": rate.overall.sentence()[:1].upper()
            + rate.overall.sentence()[1:] + "."}


def write_project_report(store: Store, out: str | Path) -> Path:

    return write_report(report_data(store), out)
