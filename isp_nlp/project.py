"""Project-level operations: ingest, codebook, seed codes (creating and opening a
project folder is :mod:`isp_nlp.store.folder`).

Each function takes plain arguments, does one job on the store, and returns
plain data for the CLI to print. Nothing here prints or imports click.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from isp_nlp.codebook.load import codebook_warnings, load_codebook
from isp_nlp.errors import ImportCodesError, InputFileError, ProjectError
from isp_nlp.ingest.readers import read_transcript
from isp_nlp.ingest.segment import segment_transcript
from isp_nlp.interchange.refi_codebook import (
    CodebookImport,
    is_refi_file,
    read_refi_codebook,
    write_qdc,
)
from isp_nlp.records import (
    CODE_DIMENSION,
    PROVENANCES,
    Annotation,
    Codebook,
    Dimension,
    Segment,
    Transcript,
)
from isp_nlp.store.database import Store
from isp_nlp.store.files import atomic_path
from isp_nlp.store.folder import DEFAULT_EMBEDDER, require_codebook

if TYPE_CHECKING:  # pandas and the coded-data readers load only in the functions using them
    import pandas as pd

    from isp_nlp.coded.match import SpanMapping


# -- ingest -------------------------------------------------------------------
@dataclass(frozen=True)
class IngestOutcome:
    path: str
    document: str
    outcome: str  # added | unchanged | updated (same file, new codable flags) | replaced
    n_turns: int
    n_segments: int
    n_codable: int
    speakers: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())


def check_skip_speakers(skip: Iterable[str], transcripts: Iterable[Transcript]) -> None:
    """Raise ProjectError naming any speaker to skip that no transcript has (case-insensitive)."""
    found: dict[str, str] = {}
    for t in transcripts:
        for turn in t.turns:
            if turn.speaker:
                found.setdefault(turn.speaker.casefold(), turn.speaker)
    missing = [name for name in skip if name.strip().casefold() not in found]
    if not missing:
        return
    name = missing[0].strip()
    close = difflib.get_close_matches(name.casefold(), list(found), n=1, cutoff=0.6)
    hint = f"did you mean '{found[close[0]]}'? " if close else ""
    listed = ", ".join(sorted(found.values(), key=str.casefold)) or "none (no speaker labels)"
    raise ProjectError(
        f"--skip-speakers names '{name}', but no transcript in this batch has that speaker; "
        f"{hint}speakers found: {listed}; fix the spelling (nothing was ingested)"
    )


def ingest_files(
    store: Store,
    paths: Sequence[str | Path],
    *,
    unit: str = "turn",
    max_chars: int = 2000,
    skip_speakers: Iterable[str] | None = None,
    replace: bool = False,
    on_file: Callable[[Path], None] | None = None,
) -> list[IngestOutcome]:
    """Read, segment and store transcripts; the whole batch or nothing.

    Every file is read and segmented before anything is written, and the
    write is one transaction, so one bad file leaves the project unchanged.
    Every name in ``skip_speakers`` must be a speaker of the batch. When
    ``skip_speakers`` is given (even empty), a file already ingested
    unchanged gets this run's codable flags (outcome ``updated`` when they
    changed), keeping its segment ids and annotations; None keeps them.
    """

    given = skip_speakers is not None
    names = [skip_speakers] if isinstance(skip_speakers, str) else list(skip_speakers or ())
    skip = tuple(s for s in names if s.strip())
    prepared = []
    seen: dict[str, str] = {}
    for raw in paths:
        path = Path(raw)
        if on_file is not None:
            on_file(path)
        transcript = read_transcript(path)
        if transcript.document in seen:
            raise ProjectError(
                f"{path}: document name '{transcript.document}' is also used by "
                f"{seen[transcript.document]} in this batch; rename one of the files"
            )
        seen[transcript.document] = str(path)
        segments = segment_transcript(transcript, unit=unit, max_chars=max_chars,
                                      skip_speakers=skip)
        prepared.append((path, transcript, segments))
    check_skip_speakers(skip, (t for _, t, _ in prepared))
    with store.transaction():
        outcomes = store.add_transcripts([(t, s, unit) for _, t, s in prepared], replace=replace)
        for i, (_, _, segs) in enumerate(prepared):
            if given and outcomes[i] == "unchanged" and store.set_codable(segs):
                outcomes[i] = "updated"
    result = []
    for (path, t, segs), outcome in zip(prepared, outcomes, strict=True):
        speakers = tuple(dict.fromkeys(turn.speaker for turn in t.turns if turn.speaker))
        if outcome == "unchanged" and not given:  # report the flags the store keeps
            segs = store.segments(document=t.document)
        result.append(IngestOutcome(
            path=str(path), document=t.document, outcome=outcome, n_turns=len(t.turns),
            n_segments=len(segs), n_codable=sum(s.codable for s in segs),
            speakers=speakers, warnings=t.warnings,
        ))
    return result


# -- codebook and seed codes ---------------------------------------------------
def read_codebook_file(path: str | Path) -> CodebookImport:
    """Read a codebook from YAML/JSON or a REFI-QDA .qdc/.qde/.qdpx, with any warnings."""
    if is_refi_file(path):
        return read_refi_codebook(path)
    codebook = load_codebook(path)
    name = Path(path).name
    return CodebookImport(codebook, tuple(f"{name}: {w}." for w in codebook_warnings(codebook)))


def load_project_codebook(store: Store, path: str | Path) -> CodebookImport:
    """Validate a codebook file and make it the project's codebook."""

    loaded = read_codebook_file(path)
    store.save_codebook(loaded.codebook, source=str(path))
    return loaded


def dimension_text(dimension: Dimension) -> str:
    """``Phase (early < middle < late)``: a dimension by name with its value ids, ``<``
    between those on its order and values outside the order after ``;``."""
    if dimension.ordered:
        scale = dimension.scale
        rest = [v for v in dimension.value_ids if v not in scale]
        values = " < ".join(scale) + ("; " + ", ".join(rest) if rest else "")
    else:
        values = ", ".join(dimension.value_ids)
    return f"{dimension.name or dimension.id} ({values})"


def dimensions_text(codebook: Codebook) -> str:
    """``dimensions: Phase (early < middle < late), Valence (positive, negative)``, or
    ``no single-choice dimensions``."""
    if not codebook.dimensions:
        return "no single-choice dimensions"
    return "dimensions: " + ", ".join(dimension_text(d) for d in codebook.dimensions)


def exclusive_text(codebook: Codebook) -> str:
    """``exclusive: question (open | closed), ...`` naming each parent whose children are
    mutually exclusive, or "" when none is."""
    groups = []
    for parent in codebook.codes:
        if parent.exclusive:
            kids = [c.id for c in codebook.codes if c.parent == parent.id]
            if len(kids) > 1:
                groups.append(f"{parent.id} ({' | '.join(kids)})")
    return "exclusive: " + ", ".join(groups) if groups else ""


def export_project_codebook(store: Store, out: str | Path) -> Codebook:
    """Write the project's codebook as a REFI-QDA .qdc file at ``out``."""
    codebook = require_codebook(store)
    write_qdc(codebook, out)
    return codebook


def segments_by_document(store: Store) -> dict[str, list[Segment]]:
    """Segments keyed by document name and by original file name."""
    by_doc: dict[str, list[Segment]] = {}
    for seg in store.segments():
        by_doc.setdefault(seg.document, []).append(seg)
    out = dict(by_doc)
    for name, document in store.document_names().items():
        out[name] = by_doc.get(document, [])
    return out


def import_codes(store: Store, path: str | Path, *, source: str = "human") -> dict:
    """Import a coded-segments CSV; nothing is imported if any row is bad.

    Each annotation keeps the row's ``provenance`` (``source`` when the
    column is absent or empty); ``provenance`` in the result counts the
    imported annotations per provenance. ``exclusive_conflicts`` counts the (segment,
    coder) pairs given two or more codes the codebook declares mutually exclusive: they
    are imported as coded (coders may disagree with the codebook), for the caller to warn.
    """
    from isp_nlp.coded.match import match_coded_rows
    from isp_nlp.coded.read import read_coded_csv

    codebook = require_codebook(store)
    rows = read_coded_csv(path)
    if not store.segments():
        raise ImportCodesError(
            f"{path}: the project has no transcripts to match the rows to; "
            "ingest the transcripts first with `isp-nlp ingest FILE...`"
        )
    annotations = match_coded_rows(rows, segments_by_document(store), codebook,
                                   source=str(path), source_label=source)
    stats = store.import_annotations(annotations, source=str(path))
    coders = sorted({a.coder for a in annotations})
    segments = {a.segment_id for a in annotations}
    made = Counter(a.source for a in annotations)
    return {"rows": len(rows), "annotations": len(annotations), "coders": coders,
            "segments": len(segments), "provenance": {p: made[p] for p in PROVENANCES if made[p]},
            "exclusive_conflicts": exclusive_conflicts(codebook, annotations), **stats}


def exclusive_conflicts(codebook: Codebook, annotations: Iterable[Annotation]) -> int:
    """How many (segment, coder) pairs of ``annotations`` hold two or more codes of one
    of the codebook's exclusive groups."""
    groups = [set(g) for g in codebook.exclusive_groups]  # computed once, not per pair
    if not groups:
        return 0
    codes: dict[tuple[str, str], set[str]] = {}
    for a in annotations:
        if a.dimension == CODE_DIMENSION and a.label is not None:
            codes.setdefault((a.segment_id, a.coder), set()).add(a.label)
    return sum(any(len(g & labels) > 1 for g in groups) for labels in codes.values())


@dataclass(frozen=True)
class PlacedCoding:
    """A coded CSV's rows placed on a project's segments (for agreement, not import)."""

    frame: pd.DataFrame  # annotation frame of the placed rows
    mapping: SpanMapping  # which rows went where, how many by overlap, which were dropped
    documents: dict[str, str]  # segment id → document, for every project segment


def place_coded_csv(store: Store, path: str | Path) -> PlacedCoding:
    """Read a coded-segments CSV and place its rows on the project's segments: by id,
    exact offsets, else the segment covering at least 50 % of the row's span, else
    equal text. Raises InputFileError when no row can be placed."""
    from isp_nlp.agreement.tables import mapped_annotations
    from isp_nlp.coded.match import map_rows_by_overlap
    from isp_nlp.coded.read import read_coded_csv
    path = Path(path)
    rows = read_coded_csv(path)
    codebook = require_codebook(store)
    segments = store.segments()
    by_doc: dict[str, list[Segment]] = {}
    names = {t["document"]: t["name"] for t in store.transcripts()}
    for seg in segments:
        by_doc.setdefault(seg.document, []).append(seg)
        by_doc.setdefault(names.get(seg.document, seg.document), by_doc[seg.document])
    mapping = map_rows_by_overlap(rows, by_doc)
    if not mapping.mapped:
        first = mapping.dropped[0][1] if mapping.dropped else "the file has no rows"
        raise InputFileError(
            f"{path.name}: no row could be placed on a segment of this project (first: "
            f"{first}); check the document names and offsets."
        )
    return PlacedCoding(frame=mapped_annotations(mapping.mapped, codebook), mapping=mapping,
                        documents={s.id: s.document for s in segments})


def export_codes(store: Store, path: str | Path) -> int:
    """Write every active annotation as a coded-segments CSV; return the row count.

    The ``provenance`` column holds each coding's source (human, blind, ...).
    """
    from isp_nlp.coded.read import annotations_to_frame
    from isp_nlp.coded.safe_csv import write_safe_csv

    by_id = {s.id: s for s in store.segments()}
    codebook = store.codebook()
    frame = annotations_to_frame(store.annotations(), by_id,
                                 codebook.dimension_ids if codebook else None)
    with atomic_path(path) as tmp:
        write_safe_csv(frame, tmp)
    return len(frame)


def project_status(store: Store) -> dict:
    """Counts a coder wants to see before starting work."""
    segments = store.segments()
    annotations = store.annotations()
    coders = sorted({a.coder for a in annotations})
    model = store.latest_model()
    codebook = store.codebook()
    return {
        "project": str(store.path.parent),
        "transcripts": len(store.transcripts()),
        "segments": len(segments),
        "codable": sum(s.codable for s in segments),
        "coded_segments": len({a.segment_id for a in annotations}),
        "coders": coders,
        "codebook": None if codebook is None else codebook.name,
        "embedder": store.get_setting("embedder", DEFAULT_EMBEDDER),
        "model": None if model is None else model["id"],
    }
