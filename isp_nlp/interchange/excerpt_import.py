"""Put the excerpts of a Dedoose or ATLAS.ti spreadsheet export into a project.

Each excerpt's document is matched to a project document by name (the document
name or its file name, case-insensitively, with or without the suffix). Its span
in the stored text is found by its text, whitespace collapsed and quotes, dashes
and case folded (failing that, by its letters and digits alone, with a warning); of
several occurrences the one nearest the file's range or paragraph wins. The span is
stored as an exact coding and placed on the segments
(:func:`isp_nlp.coded.spans.place_codings`), which gives the coder's annotations.

Documents the project lacks are refused, or, with ``reconstruct_documents``, built
from their excerpts (in range/paragraph order, one paragraph each). Codes the
codebook lacks are refused, or, with ``add_codes``, added under their parents. A code path
that starts with a single-choice dimension's id or name (``Phase\\Early``) codes that
dimension (:mod:`isp_nlp.interchange.excerpt_codes`). A project without a codebook gets
one built from the file's codes (``add_codes``); a ``Stage\\Push`` path there is read, as
it always was, as the default stage dimension, which that codebook then holds.
Everything is written in one transaction: all of it or nothing.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from isp_nlp.codebook.check import (
    MAX_CODE_DEPTH,
    depth_fix,
    stage_dimension,
    too_deep,
)
from isp_nlp.coded.spans import Coverage, annotations_from_placement, coverage, place_codings
from isp_nlp.errors import InputFileError, ProjectError
from isp_nlp.ingest.render import RawTurn, build_transcript
from isp_nlp.ingest.segment import segment_transcript
from isp_nlp.interchange import atlasti_quotations, dedoose
from isp_nlp.interchange.excerpt_codes import CodeResolver
from isp_nlp.interchange.excerpt_locate import (
    SpanFinder,
    collapse,
    did_you_mean,
    document_stem,
    match_documents,
)
from isp_nlp.interchange.sheet_rows import (
    ExcerptFile,
    ExcerptRow,
    header_candidates,
    headers_shown,
    read_table,
    shown,
)
from isp_nlp.records import (
    CODE_DIMENSION,
    Codebook,
    Coder,
    Coding,
    Transcript,
)
from isp_nlp.store.database import Store

FORMATS = ("auto", "dedoose", "atlasti")
RECONSTRUCTED_FORMAT = "excerpts"
#: Codes one import may add (real codebooks hold hundreds; each lookup scans a parent's codes).
MAX_ADDED_CODES = 10_000


@dataclass(frozen=True)
class ExcerptImportOutcome:
    """What an excerpt import did."""

    file: str
    tool: str
    excerpts: int
    documents_matched: tuple[str, ...]
    documents_reconstructed: tuple[str, ...]
    codings_added: int
    codings_unchanged: int
    mapping: dict[str, int]  # exact / overlap / unmapped, over the codings placed
    codes_added: tuple[str, ...]
    coders: tuple[str, ...]
    annotations_changed: int
    warnings: tuple[str, ...] = field(default=())
    #: Per coder and document, how much counts as coded (see isp_nlp.coded.spans).
    coverage: tuple[Coverage, ...] = field(default=())


# --------------------------------------------------------------------------- reading


def read_excerpts(path: str | Path, fmt: str = "auto", *,
                  known: frozenset[str] = frozenset()) -> ExcerptFile:
    """Read a Dedoose excerpt or ATLAS.ti quotation export; ``fmt`` ``auto`` detects which."""
    if fmt not in FORMATS:
        raise InputFileError(f"excerpt format '{fmt}' is unknown; expected one of "
                             f"{', '.join(FORMATS)}.")
    first = read_table(path)
    table = first
    for candidate in header_candidates(first):
        if fmt in ("auto", "dedoose") and dedoose.is_dedoose(candidate):
            table, fmt = candidate, "dedoose"
            break
        if fmt in ("auto", "atlasti") and atlasti_quotations.is_atlasti(candidate):
            table, fmt = candidate, "atlasti"
            break
    else:
        if fmt == "auto":
            raise InputFileError(
                f"{table.name}: neither a Dedoose excerpt export (needs 'Media Title' and "
                "'Excerpt Copy' columns) nor an ATLAS.ti quotation export (needs quotation "
                f"text, 'Document' and 'Codes' columns); found: "
                f"{headers_shown(table.header)}; export the excerpts again "
                "or pass --format dedoose|atlasti."
            )
    if fmt == "dedoose":
        return dedoose.rows_from_table(table, known=known)
    return atlasti_quotations.rows_from_table(table, known=known)


# --------------------------------------------------------------------------- rebuilt documents


def reconstruct_transcript(document: str, rows: Sequence[ExcerptRow], source: str) -> Transcript:
    """A transcript holding only ``rows``' excerpts, in range/paragraph order, one
    paragraph (turn) each; an excerpt already contained in an earlier one is not repeated."""
    def order(r: ExcerptRow) -> tuple[int, float, int, int]:
        return (max(r.page, 1), math.inf if r.start is None else r.start, -len(r.text), r.row)

    turns: list[RawTurn] = []
    seen = ""
    for r in sorted(rows, key=order):
        folded = collapse(r.text)[0].strip()
        if not folded or folded in seen:
            continue
        seen += " \n " + folded
        turns.append(RawTurn(speaker=None, paragraphs=r.text.split("\n"), line=r.row))
    note = (f"{document} was reconstructed from {len(turns)} excerpts of {source}: it holds "
            "only the excerpted text, not the whole document")
    body = "\n\n".join("\n".join(t.paragraphs) for t in turns)
    return build_transcript(turns, document=document, name=document,
                            sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(),
                            source_format=RECONSTRUCTED_FORMAT, warnings=(note,))


# --------------------------------------------------------------------------- the import


def _coder_of(row: ExcerptRow, file: ExcerptFile, coder: str | None, name: str) -> str:
    if row.coder:
        return row.coder
    if coder:
        return coder
    if not file.has_coder_column:
        raise InputFileError(
            f"{name}: this {file.tool} export has no coder column ('Excerpt Creator' or "
            "'Created by'); pass --coder NAME to say whose codes these are."
        )
    raise InputFileError(f"{name} row {row.row}: the excerpt has no creator; fill it in or "
                         "pass --coder NAME for excerpts without one.")


def _preview(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 60 else one[:57] + "..."


def _show_path(path: Sequence[str], width: int = 80) -> str:
    text = " > ".join(path) if len(path) <= 6 else " > ".join([*path[:3], "…", *path[-2:]])
    return shown(text, width)


def _check_depth(rows: Sequence[ExcerptRow], name: str) -> None:
    """Refuse a code path deeper than :data:`MAX_CODE_DEPTH` (export could not write it)."""
    deep = [(r, p) for r in rows for p in r.codes if len(p) > MAX_CODE_DEPTH]
    if deep:
        row, path = deep[0]
        others = f" (and {len(deep) - 1} more)" if len(deep) > 1 else ""
        raise InputFileError(
            f"{name} row {row.row}: the code '{_show_path(path)}' is nested {len(path)} "
            f"levels deep{others}, beyond the {MAX_CODE_DEPTH} levels a REFI-QDA export can "
            "write; shorten its path in the file (or in the tool that wrote it) and import "
            "again.")


def _resolve_codes(rows: Sequence[ExcerptRow], resolver: CodeResolver, add_codes: bool,
                   name: str) -> dict[tuple[str, ...], tuple[str, str]]:
    """(dimension, code id) of every code path; unknown ones added or refused."""
    _check_depth(rows, name)
    resolved: dict[tuple[str, ...], tuple[str, str]] = {}
    unknown: list[tuple[str, ...]] = []
    for p in dict.fromkeys(p for r in rows for p in r.codes):
        hit = resolver.resolve(p)
        if hit is None:
            unknown.append(p)
        else:
            resolved[p] = hit
    if unknown and not add_codes:
        shown = "; ".join(_show_path(p) for p in unknown[:8])
        more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
        raise ProjectError(f"{name}: {len(unknown)} code(s) are not in the project's codebook "
                           f"({shown}{more}); add them to the codebook, or pass --add-codes "
                           "to add them under their parents.")
    for p in unknown:
        resolved[p] = (CODE_DIMENSION, resolver.add_path(p))
        if len(resolver.added) > MAX_ADDED_CODES:
            raise InputFileError(
                f"{name}: its codes would add more than {MAX_ADDED_CODES:,} codes to the "
                "codebook, more than any codebook holds; check that it is the right file, "
                "or load the codebook first with `isp-nlp codebook load`.")
    deep = too_deep(resolver.codes)
    if deep is not None:
        code, level, count = deep
        raise InputFileError(f"{name}: with its codes added, code '{code.id[:60]}' "
                             f"{depth_fix(level, count)}.")
    return resolved


def _match_or_rebuild(rows: Sequence[ExcerptRow], project: Mapping[str, str], rebuild: bool,
                      name: str) -> tuple[dict[str, str], list[str]]:
    """Excerpt title → project document, and the documents to rebuild (or a refusal)."""
    titles = list(dict.fromkeys(r.document for r in rows))
    matched, missing = match_documents(titles, project)
    spelling: dict[str, str] = {}  # one rebuilt document for "A.docx", "a.DOCX" and "a"
    for m in missing:
        matched[m] = spelling.setdefault(document_stem(m), m)
    missing = list(spelling.values())
    if missing and not rebuild:
        names = ", ".join(f"'{shown(m)}'" for m in missing[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        raise ProjectError(
            f"{name}: {len(missing)} document(s) of the excerpts are not in the project "
            f"({names}{more}); ingest them first (names are matched case-insensitively), or "
            f"pass --reconstruct-documents to build them from the excerpts."
            f"{did_you_mean(missing, project)}"
        )
    return matched, missing


def _locate(rows: Sequence[ExcerptRow], matched: Mapping[str, str], texts: Mapping[str, str],
            coders: Mapping[int, str], resolved: Mapping[tuple[str, ...], tuple[str, str]],
            name: str, warnings: list[str]) -> list[Coding]:
    """One coding per (excerpt, code), its span found in the stored text; refuse if any
    excerpt's text is not there."""
    finders = {d: SpanFinder(texts[d]) for d in set(matched.values())}
    codings: list[Coding] = []
    lost: list[ExcerptRow] = []
    for r in rows:
        document = matched[r.document]
        span = finders[document].find(r.text, r)
        if span is None:
            lost.append(r)
            continue
        codings.extend(Coding(document=document, start=span[0], end=span[1], code=code,
                              coder=coders[id(r)], dimension=dim)
                       for dim, code in (resolved[p] for p in r.codes))
    if lost:
        first = lost[0]
        raise ProjectError(
            f"{name}: {len(lost)} excerpt(s) were not found in the stored text of their "
            f"document (first: {shown(first.label)}, '{shown(matched[first.document])}': "
            f"\"{_preview(first.text)}\"); check that the project holds the version of "
            "the document the tool coded, or ingest that version."
        )
    loose = sum(f.loose_hits for f in finders.values())
    if loose:
        warnings.append(f"{name}: {loose} excerpt(s) differ from the stored text in punctuation "
                        "only and were matched by their letters and digits.")
    return list(dict.fromkeys(codings))


def _annotate(store: Store, codings: Sequence[Coding], texts: Mapping[str, str],
              source: str) -> tuple[dict[str, int], int, tuple[Coverage, ...]]:
    """Place all stored codings of the imported (document, coder) pairs on the segments and
    import the annotations they give; return how ``codings`` mapped, how many
    annotation sets changed and each coder's coded region per document. All the coder's
    spans count, not only this file's, so a second file does not wipe what a first one
    coded."""
    pairs = {(c.document, c.coder) for c in codings}
    documents = sorted({d for d, _ in pairs})
    placed = [c for d in documents for c in store.codings(document=d)
              if (c.document, c.coder) in pairs]
    segments = {d: store.segments(document=d) for d in documents}
    placement = place_codings(placed, segments, texts)
    annotations = annotations_from_placement(placement, segments)
    changed = store.import_annotations(annotations, source=source)["changed"] \
        if annotations else 0
    key = {(c.document, c.start, c.end, c.code, c.coder, c.dimension) for c in codings}
    kinds = [k for c, k in zip(placement.codings, placement.kind, strict=True)
             if (c.document, c.start, c.end, c.code, c.coder, c.dimension) in key]
    return ({k: kinds.count(k) for k in ("exact", "overlap", "unmapped")}, changed,
            coverage(placement, segments, texts))


def import_excerpts(
    store: Store,
    path: str | Path,
    *,
    fmt: str = "auto",
    coder: str | None = None,
    add_codes: bool = False,
    reconstruct_documents: bool = False,
) -> ExcerptImportOutcome:
    """Import a Dedoose/ATLAS.ti excerpt export into ``store``, all or nothing.

    ``coder`` names the coder of excerpts whose file gives none (required when the
    file has no coder column); ``add_codes`` adds codes the codebook lacks;
    ``reconstruct_documents`` builds documents the project lacks from their excerpts.
    """
    path = Path(path)
    name = path.name
    codebook = store.codebook()
    fresh = codebook is None
    if codebook is None:
        if not add_codes:
            raise ProjectError(f"{name}: the project has no codebook to resolve the excerpts' "
                               "codes against; load one with `isp-nlp codebook load FILE`, or "
                               "pass --add-codes to build it from the file's codes.")
        # a file's "Stage\Push" paths are the default stage dimension (legacy data)
        codebook = Codebook(name=path.stem, codes=(), dimensions=(stage_dimension(),))
    resolver = CodeResolver(codebook, add=add_codes)
    known = frozenset().union(*(resolver.known_names(sep) for sep in (": ", "::", "\\")))
    file = read_excerpts(path, fmt, known=known)
    warnings = list(file.warnings)

    rows = [r for r in file.rows if r.text.strip()]
    if len(rows) < len(file.rows):
        warnings.append(f"{name}: {len(file.rows) - len(rows)} excerpt(s) without text "
                        "(media excerpts?) are skipped.")
    if not rows:
        raise InputFileError(f"{name} holds no excerpts with text; expected at least one "
                             "coded text excerpt; export the excerpts again.")
    nameless = [r for r in rows if not r.document]
    if nameless:
        raise InputFileError(f"{name} row {nameless[0].row}: the excerpt names no document; "
                             "expected the document's title; export the excerpts again.")
    uncoded = [r for r in rows if not r.codes]
    if uncoded:
        warnings.append(f"{name}: {len(uncoded)} excerpt(s) carry no codes and are skipped.")
    rows = [r for r in rows if r.codes]
    coders = {id(r): _coder_of(r, file, coder, name) for r in rows}

    resolved = _resolve_codes(rows, resolver, add_codes, name)
    matched, missing = _match_or_rebuild(rows, store.document_names(), reconstruct_documents,
                                         name)
    rebuilt = [reconstruct_transcript(m, [r for r in rows if matched[r.document] == m], name)
               for m in missing]
    warnings.extend(t.warnings[0] + "." for t in rebuilt)

    with store.transaction():
        if rebuilt:
            store.add_transcripts([(t, segment_transcript(t, unit="turn"), "turn")
                                   for t in rebuilt])
        if resolver.added or fresh:
            used = {dim for dim, _ in resolved.values()}
            store.save_codebook(Codebook(
                name=codebook.name, codes=tuple(resolver.codes),
                dimensions=tuple(d for d in codebook.dimensions if not fresh or d.id in used)),
                source=str(path))
        texts = store.transcript_texts()
        codings = _locate(rows, matched, texts, coders, resolved, name, warnings)
        store.add_coders([Coder(name=c) for c in sorted(set(coders.values()))])
        stats = store.add_codings(codings)
        counts, changed, region = _annotate(store, codings, texts, str(path))
    if counts["unmapped"]:
        warnings.append(f"{name}: {counts['unmapped']} coding(s) cover no segment well enough "
                        "(less than half of it) and give no annotation; they are kept as spans.")
    return ExcerptImportOutcome(
        file=str(path), tool=file.tool, excerpts=len(rows),
        documents_matched=tuple(sorted(set(matched.values()) - set(missing))),
        documents_reconstructed=tuple(missing), codings_added=stats["added"],
        codings_unchanged=stats["unchanged"], mapping=counts,
        codes_added=tuple(resolver.added), coders=tuple(sorted(set(coders.values()))),
        annotations_changed=changed, warnings=tuple(warnings), coverage=region,
    )
