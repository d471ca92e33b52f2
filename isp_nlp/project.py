"""Project-level operations: ingest, codebook, seed codes (creating and opening a
project folder is :mod:`isp_nlp.store.folder`).

Each function takes plain arguments, does one job on the store, and returns
plain data for the CLI to print. Nothing here prints or imports click.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from isp_nlp.codebook.load import codebook_warnings, load_codebook
from isp_nlp.errors import ImportCodesError, InputFileError, ProjectError, closest
from isp_nlp.ingest.readers import read_transcript
from isp_nlp.ingest.segment import segment_transcript
from isp_nlp.interchange.refi_codebook import (
    CodebookImport,
    is_refi_file,
    read_refi_codebook,
    write_qdc,
)
from isp_nlp.interchange.sheet_rows import MAX_SHEET_BYTES
from isp_nlp.interchange.xlsx import read_xlsx
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
from isp_nlp.store.files import atomic_path, read_regular
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
    close = closest(name, found.values())
    hint = f"did you mean '{close}'? " if close is not None else ""
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
    by_text: dict[str, list[str]] = {}
    for row in store.transcripts():
        by_text.setdefault(row["sha256"], []).append(row["document"])
    result = []
    for (path, t, segs), outcome in zip(prepared, outcomes, strict=True):
        speakers = tuple(dict.fromkeys(turn.speaker for turn in t.turns if turn.speaker))
        twins = [d for d in by_text.get(t.sha256, []) if d != t.document]
        warnings = t.warnings
        if twins and outcome in ("added", "replaced"):
            warnings += (f"{path.name} has the same text as document '{twins[0]}' in the "
                         "project; if it is the same interview, remove one with "
                         f"`isp-nlp remove {t.document}`.",)
        if outcome == "unchanged" and not given:  # report the flags the store keeps
            segs = store.segments(document=t.document)
        result.append(IngestOutcome(
            path=str(path), document=t.document, outcome=outcome, n_turns=len(t.turns),
            n_segments=len(segs), n_codable=sum(s.codable for s in segs),
            speakers=speakers, warnings=warnings,
        ))
    return result


def remove_document(store: Store, document: str) -> dict[str, int]:
    """Remove ``document`` and everything on it (segments, codes, coded spans, notes,
    suggestions), all or nothing, and log the removal; return what was removed. The
    audit trail keeps its decisions (it is append-only); they no longer apply."""
    known = [t["document"] for t in store.transcripts()]
    if document not in known:
        close = closest(document, known)
        hint = f"did you mean '{close}'?" if close is not None else (
            f"expected one of {', '.join(known[:10]) or '(none ingested)'}")
        raise ProjectError(f"document '{document}' is not in the project; {hint}; see "
                           "`isp-nlp status` for the documents.")
    return store.remove_document(document)


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


def read_coding_sheet(path: str | Path) -> list:
    """The rows of a coded-segments sheet: a CSV, or the first worksheet of an ``.xlsx``
    workbook (such as ``export-segments`` writes), read by the same rules."""
    from isp_nlp.coded.read import iter_coded_records, read_coded_csv
    from isp_nlp.coded.safe_csv import restore_cell

    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        return read_coded_csv(path)
    sheet = read_xlsx(read_regular(path, "coding sheet", MAX_SHEET_BYTES), path.name)
    records = ((i, [restore_cell(c) for c in row]) for i, row in enumerate(sheet, 1)
               if any(c.strip() for c in row))
    return list(iter_coded_records(records, path.name))


def import_codes(store: Store, path: str | Path, *, source: str = "human") -> dict:
    """Import a coded-segments CSV or XLSX sheet; nothing is imported if any row is bad.

    Each annotation keeps the row's ``provenance`` (``source`` when the
    column is absent or empty); ``provenance`` in the result counts the
    imported annotations per provenance. Rows nobody filled in (no coder, no code, no
    dimension value: the rest of a blank coding sheet) are left out and counted as
    ``blank``. ``exclusive_conflicts`` counts the (segment, coder) pairs given two or more
    codes the codebook declares mutually exclusive: they are imported as coded (coders
    may disagree with the codebook), for the caller to warn.
    """
    from isp_nlp.coded.match import match_coded_rows

    codebook = require_codebook(store)
    every = read_coding_sheet(path)
    rows = [r for r in every if not r.blank(codebook.dimension_ids)]
    if not rows:
        raise ImportCodesError(
            f"{path}: none of its {len(every)} rows is coded (each has an empty coder and "
            "code); fill in the coder and code of the segments you coded, then import it.")
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
    return {"rows": len(rows), "blank": len(every) - len(rows), "annotations": len(annotations),
            "coders": coders, "segments": len(segments),
            "provenance": {p: made[p] for p in PROVENANCES if made[p]},
            "exclusive_conflicts": exclusive_conflicts(codebook, annotations), **stats}


#: The columns of a blank coding sheet, in order (then one column per dimension).
SHEET_COLUMNS = ("document", "segment", "speaker", "start", "end", "text", "coder", "code")


def export_segments(store: Store, path: str | Path, *, fmt: str | None = None,
                    documents: Sequence[str] = (), uncoded: bool = False) -> int:
    """Write a blank coding sheet: one row per codable segment (of ``documents`` only, if
    given; only those no person has coded, if ``uncoded``), with empty ``coder``, ``code``
    and dimension columns (a coder with no code would mean "seen, no code", so nothing is
    prefilled). ``import-codes`` reads it back as it is (rows left blank are skipped).
    Returns the row count."""
    import pandas as pd

    from isp_nlp.interchange.sheet_export import sheet_format, write_sheet

    chosen = sheet_format(Path(path), fmt)
    codebook = require_codebook(store)
    known = {t["document"] for t in store.transcripts()}
    missing = [d for d in documents if d not in known]
    if missing:
        raise InputFileError(
            f"document {missing[0]!r} is not in the project; expected one of "
            f"{', '.join(sorted(known)) or '(none ingested)'}; check the name with "
            "`isp-nlp status`.")
    skip = store.coded_segment_ids() if uncoded else set()
    wanted = set(documents)
    rows = [[seg.document, seg.id, seg.speaker or "", seg.start, seg.end, seg.text, "", "",
             *[""] * len(codebook.dimensions)]
            for seg in store.segments(codable_only=True)
            if (not wanted or seg.document in wanted) and seg.id not in skip]
    frame = pd.DataFrame(rows, columns=[*SHEET_COLUMNS, *codebook.dimension_ids])
    write_sheet(frame, path, chosen)
    return len(rows)


def exclusive_conflicts(codebook: Codebook, annotations: Iterable[Annotation]) -> int:
    """How many (segment, coder) pairs of ``annotations`` hold two or more codes of one
    of the codebook's exclusive groups."""
    if not codebook.exclusive_groups:
        return 0
    codes: dict[tuple[str, str], set[str]] = {}
    for a in annotations:
        if a.dimension == CODE_DIMENSION and a.label is not None:
            codes.setdefault((a.segment_id, a.coder), set()).add(a.label)
    return sum(bool(codebook.conflicts(sorted(labels))) for labels in codes.values())


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
