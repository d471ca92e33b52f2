"""Export a project's codings (and, optionally, the model's suggestions) as CSV or XLSX.

One row per coded span: every stored coding as drawn, plus every labelled human
annotation over its segment's span where no coding of that coder, code and
dimension covers the segment (coverage as :func:`isp_nlp.coded.spans.place_codings`
places the codings). ``start``/``end`` are code points into the stored text.
With suggestions, the latest model adds a row per suggested label (``suggested``),
or its best label where it abstained (``abstained``), as coder ``isp-nlp model <id>``.

Text cells that a spreadsheet could run as a formula (``=``, ``+``, ``-``, ``@``, tab,
CR) get a leading apostrophe in both formats (:func:`neutralise_cell`). CSV is UTF-8
with a BOM, for Excel. Both are written to a temporary file first and then moved into
place, so a failed export leaves no partial file behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from isp_nlp.coded.safe_csv import neutralise_cell, write_safe_csv
from isp_nlp.coded.spans import place_codings
from isp_nlp.errors import InputFileError, ModelError
from isp_nlp.interchange.xlsx import xlsx_bytes
from isp_nlp.records import Annotation, Codebook, Coding, Segment, Suggestion
from isp_nlp.store.database import Store
from isp_nlp.store.files import atomic_path

COLUMNS = ("document", "segment_ids", "start", "end", "speaker", "text", "code_id",
           "code_name", "dimension", "coder", "provenance")
SUGGESTION_COLUMNS = ("probability", "status")
SHEET_FORMATS = ("csv", "xlsx")


def model_coder(model_id: str) -> str:
    """The coder name under which a model's suggestions are exported."""
    return f"isp-nlp model {model_id}"


@dataclass(frozen=True)
class SheetExport:
    """What :func:`export_sheet` wrote."""

    path: str
    format: str
    rows: int
    codings: int
    annotations: int
    suggestions: int


def _names(codebook: Codebook | None) -> dict[tuple[str, str], str]:
    if codebook is None:
        return {}
    return {(c.dimension, c.id): c.name
            for c in (*codebook.codes, *(v for d in codebook.dimensions for v in d.values))}


def sheet_frame(
    codings: Sequence[Coding],
    annotations: Sequence[Annotation],
    segments: Mapping[str, Sequence[Segment]],
    texts: Mapping[str, str],
    codebook: Codebook | None,
    suggestions: Sequence[Suggestion] = (),
    *,
    with_suggestions: bool = False,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The export table (one row per coded span) and how many rows came from codings,
    annotations and suggestions."""
    names = _names(codebook)
    by_id = {s.id: s for segs in segments.values() for s in segs}
    placement = place_codings(codings, segments, texts)
    covered: set[tuple[str, str, str, str]] = set()
    rows: list[dict[str, object]] = []
    for c, seg_ids in zip(placement.codings, placement.segments, strict=True):
        covered.update((s, c.coder, c.dimension, c.code) for s in seg_ids)
        speakers = dict.fromkeys(by_id[s].speaker or "" for s in seg_ids if s in by_id)
        rows.append({
            "document": c.document, "segment_ids": " ".join(seg_ids), "start": c.start,
            "end": c.end, "speaker": "; ".join(s for s in speakers if s),
            "text": texts.get(c.document, "")[c.start:c.end], "code_id": c.code,
            "code_name": names.get((c.dimension, c.code), c.code), "dimension": c.dimension,
            "coder": c.coder, "provenance": c.source,
        })
    n_codings = len(rows)
    for a in annotations:
        seg = by_id.get(a.segment_id)
        if a.label is None or seg is None or (a.segment_id, a.coder, a.dimension,
                                              a.label) in covered:
            continue
        rows.append(_segment_row(seg, a.label, a.dimension, a.coder, a.source, names))
    n_annotations = len(rows) - n_codings
    if with_suggestions:
        rows.extend(_suggestion_rows(suggestions, by_id, names))
    columns = [*COLUMNS, *(SUGGESTION_COLUMNS if with_suggestions else ())]
    frame = pd.DataFrame(rows, columns=columns)
    if len(frame):
        frame = frame.sort_values(["document", "start", "end", "coder", "dimension", "code_id"],
                                  kind="stable").reset_index(drop=True)
    counts = {"codings": n_codings, "annotations": n_annotations,
              "suggestions": len(rows) - n_codings - n_annotations}
    return frame, counts


def _segment_row(seg: Segment, code: str, dimension: str, coder: str, source: str,
                 names: Mapping[tuple[str, str], str]) -> dict[str, object]:
    return {
        "document": seg.document, "segment_ids": seg.id, "start": seg.start, "end": seg.end,
        "speaker": seg.speaker or "", "text": seg.text, "code_id": code,
        "code_name": names.get((dimension, code), code), "dimension": dimension,
        "coder": coder, "provenance": source,
    }


def _suggestion_rows(suggestions: Sequence[Suggestion], by_id: Mapping[str, Segment],
                     names: Mapping[tuple[str, str], str]) -> list[dict[str, object]]:
    groups: dict[tuple[str, str], list[Suggestion]] = {}
    for s in suggestions:
        if s.segment_id in by_id:
            groups.setdefault((s.segment_id, s.dimension), []).append(s)
    rows = []
    for (seg_id, dimension), items in groups.items():
        chosen = [s for s in items if s.suggested]
        status = "suggested"
        if not chosen:
            chosen, status = [max(items, key=lambda s: s.probability)], "abstained"
        for s in chosen:
            row = _segment_row(by_id[seg_id], s.label, dimension, model_coder(s.model_id),
                               "model", names)
            rows.append({**row, "probability": round(float(s.probability), 6),
                         "status": status})
    return rows


def sheet_format(path: Path, fmt: str | None) -> str:
    """``fmt``, or the format the suffix of ``path`` names."""
    chosen = fmt or path.suffix.lower().lstrip(".")
    if chosen not in SHEET_FORMATS:
        raise InputFileError(f"{path.name}: cannot tell the sheet format ('{chosen}'); "
                             "expected csv or xlsx; pass --format csv|xlsx.")
    return chosen


def _plain(value: object) -> object:
    """A Python scalar for a pandas/numpy cell value; None for a missing one."""
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    return None if isinstance(value, float) and pd.isna(value) else value


def write_sheet(frame: pd.DataFrame, path: str | Path, fmt: str) -> None:
    """Write ``frame`` atomically as formula-safe CSV (UTF-8 with BOM) or XLSX."""
    with atomic_path(path) as tmp:
        if fmt == "csv":
            write_safe_csv(frame, tmp, bom=True)
        else:
            header = [neutralise_cell(str(c)) for c in frame.columns]
            values = [[neutralise_cell(_plain(v)) for v in row]
                      for row in frame.itertuples(index=False, name=None)]
            tmp.write_bytes(xlsx_bytes(header, values, sheet="codings"))


def export_sheet(store: Store, out: str | Path, *, fmt: str | None = None,
                 include_suggestions: bool = False,
                 suggestions: Sequence[Suggestion] | None = None) -> SheetExport:
    """Write the project's codings (and the latest model's suggestions) to ``out``;
    ``suggestions`` are the latest model's, when the caller has read them already."""
    out = Path(out)
    chosen = sheet_format(out, fmt)
    segments: dict[str, list[Segment]] = {}
    for seg in store.segments():
        segments.setdefault(seg.document, []).append(seg)
    picked: Sequence[Suggestion] = ()
    if include_suggestions and suggestions is not None:
        picked = suggestions
    elif include_suggestions:
        model = store.latest_model()
        if model is None:
            raise ModelError("the project has no trained model, so no suggestions to export; "
                             "run `isp-nlp train` and `isp-nlp suggest`, or leave out "
                             "--include-suggestions.")
        picked = store.suggestions(model["id"], with_evidence=False)
    frame, counts = sheet_frame(store.codings(), store.annotations(), segments,
                                store.transcript_texts(), store.codebook(), picked,
                                with_suggestions=include_suggestions)
    write_sheet(frame, out, chosen)
    return SheetExport(path=str(out), format=chosen, rows=len(frame), **counts)
