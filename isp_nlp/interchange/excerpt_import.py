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
codebook lacks are refused, or, with ``add_codes``, added under their parents.
Everything is written in one transaction: all of it or nothing.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from isp_nlp.codebook.check import DEFAULT_STAGES, normalise_stage
from isp_nlp.coded.spans import annotations_from_placement, place_codings
from isp_nlp.errors import InputFileError, ProjectError
from isp_nlp.ingest.render import RawTurn, build_transcript
from isp_nlp.ingest.segment import segment_transcript
from isp_nlp.interchange import atlasti_quotations, dedoose
from isp_nlp.interchange.refi_codebook import slug
from isp_nlp.interchange.sheet_rows import (
    ExcerptFile,
    ExcerptRow,
    header_candidates,
    read_table,
)
from isp_nlp.records import (
    CODE_DIMENSION,
    STAGE_DIMENSION,
    STAGES,
    Code,
    Codebook,
    Coder,
    Coding,
    Transcript,
)
from isp_nlp.store.database import Store

FORMATS = ("auto", "dedoose", "atlasti")
RECONSTRUCTED_FORMAT = "excerpts"
_FOLD = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"',
                       "‘": "'", "’": "'", "‚": "'", "‛": "'", "´": "'", "`": "'",
                       "–": "-", "—": "-", "‒": "-", "―": "-", "‐": "-", "‑": "-",
                       "…": "...", "\u00ad": None, "\u200b": None, "\ufeff": None})
_PREFIX = re.compile(r"^\s*(?:d\s*)?\d+\s*[:.]\s*", re.IGNORECASE)


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
                f"{', '.join(table.header[:12]) or 'no header'}; export the excerpts again "
                "or pass --format dedoose|atlasti."
            )
    if fmt == "dedoose":
        return dedoose.rows_from_table(table, known=known)
    return atlasti_quotations.rows_from_table(table, known=known)


# --------------------------------------------------------------------------- documents


def _stem(name: str) -> str:
    """``name`` casefolded, without a file suffix: the key one document goes by."""
    base = name.strip().casefold()
    return Path(base).stem if Path(base).suffix and len(Path(base).suffix) <= 6 else base


def _keys(name: str) -> list[str]:
    base = name.strip().casefold()
    stem = _stem(name)
    keys = [base, stem]
    for k in (base, stem):
        bare = _PREFIX.sub("", k)
        if bare and bare != k:
            keys.append(bare)
    return list(dict.fromkeys(k for k in keys if k))


def match_documents(names: Sequence[str], project: Mapping[str, str]
                    ) -> tuple[dict[str, str], list[str]]:
    """Map excerpt document names onto project documents (``project``: name or file
    name → document); return the matches and the names without one."""
    index: dict[str, str] = {}
    for name, document in project.items():
        for key in _keys(name):
            index.setdefault(key, document)
    matched: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        hit = next((index[k] for k in _keys(name) if k in index), None)
        if hit is None:
            missing.append(name)
        else:
            matched[name] = hit
    return matched, missing


def _did_you_mean(names: Sequence[str], project: Mapping[str, str]) -> str:
    hints = []
    choices = sorted(set(project.values()))
    for name in names[:3]:
        close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
        if close:
            hints.append(f"'{name}' → did you mean '{close[0]}'?")
    return (" " + " ".join(hints)) if hints else ""


# --------------------------------------------------------------------------- finding spans


def _collapse(text: str, *, loose: bool = False) -> tuple[str, list[int]]:
    """``text`` folded (see the module docstring) and where each character came from;
    ``loose`` keeps letters and digits only."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if not loose and out and out[-1] != " ":
                out.append(" ")
                where.append(i)
            continue
        for c in ch.translate(_FOLD):
            if loose and not c.isalnum():
                continue
            low = c.lower()
            out.append(low if len(low) == 1 else c)
            where.append(i)
    return "".join(out), where


#: A match that ignores punctuation needs at least this many letters and digits.
LOOSE_MIN = 12


@dataclass
class _Finder:
    """Finds excerpts in one document's stored text: folded (whitespace, case, quotes,
    dashes) first, else by letters and digits alone, on word boundaries."""

    text: str
    folded: str = ""
    where: list[int] = field(default_factory=list)
    loose: tuple[str, list[int]] | None = None
    loose_hits: int = 0

    def __post_init__(self) -> None:
        self.folded, self.where = _collapse(self.text)

    def _hits(self, needle: str, hay: str, where: list[int]) -> list[tuple[int, int]]:
        hits = []
        pos = hay.find(needle)
        while pos >= 0:
            hits.append((where[pos], where[pos + len(needle) - 1] + 1))
            pos = hay.find(needle, pos + 1)
        return hits

    def _bounded(self, span: tuple[int, int]) -> bool:
        start, end = span
        return not ((start > 0 and self.text[start - 1].isalnum())
                    or (end < len(self.text) and self.text[end].isalnum()))

    def find(self, excerpt: str, row: ExcerptRow) -> tuple[int, int] | None:
        needle = _collapse(excerpt)[0].strip()
        if not needle:
            return None
        hits = self._hits(needle, self.folded, self.where)
        if not hits:
            bare = _collapse(excerpt, loose=True)[0]
            if len(bare) >= LOOSE_MIN:
                self.loose = self.loose or _collapse(self.text, loose=True)
                hits = [h for h in self._hits(bare, *self.loose) if self._bounded(h)]
                self.loose_hits += bool(hits)
        if not hits:
            return None
        if row.start is None:
            return hits[0]
        hint = row.start
        if row.unit == "paragraph":
            return min(hits, key=lambda h: abs(self.text.count("\n", 0, h[0]) + 1 - hint))
        return min(hits, key=lambda h: abs(h[0] - hint))


# --------------------------------------------------------------------------- rebuilt documents


def reconstruct_transcript(document: str, rows: Sequence[ExcerptRow], source: str) -> Transcript:
    """A transcript holding only ``rows``' excerpts, in range/paragraph order, one
    paragraph (turn) each; an excerpt already contained in an earlier one is not repeated."""
    def order(r: ExcerptRow) -> tuple[int, float, int, int]:
        return (max(r.page, 1), math.inf if r.start is None else r.start, -len(r.text), r.row)

    turns: list[RawTurn] = []
    seen = ""
    for r in sorted(rows, key=order):
        folded = _collapse(r.text)[0].strip()
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


# --------------------------------------------------------------------------- codes


@dataclass
class CodeResolver:
    """Resolves code paths against a codebook, adding the missing ones when allowed."""

    codebook: Codebook
    add: bool = False
    codes: list[Code] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.codes = list(self.codebook.codes)

    def known_names(self, sep: str) -> frozenset[str]:
        """Casefolded names and ``sep``-joined paths, to split cells listing several codes."""
        by_id = {c.id: c for c in self.codes}
        out = set()
        for c in self.codes:
            path, p = [c.name], c.parent
            while p in by_id and len(path) < 20:
                path.insert(0, by_id[p].name)
                p = by_id[p].parent
            out.add(c.name.casefold())
            out.add(sep.join(path).casefold())
        return frozenset(out)

    def _child(self, parent: str | None, name: str) -> Code | None:
        key, sid = name.strip().casefold(), slug(name)
        kids = [c for c in self.codes if c.parent == parent]
        return (next((c for c in kids if c.name.strip().casefold() == key), None)
                or next((c for c in kids if c.id == sid), None))

    def _stage(self, path: tuple[str, ...]) -> str | None:
        """A stage id for ``Stage\\Push``/``Stage: Push``, or a lone stage name no code has."""
        last = normalise_stage(path[-1])
        if last not in STAGES:
            return None
        if len(path) >= 2:
            return last if path[0].strip().casefold() in ("stage", "stages") else None
        lone = path[0].strip().casefold()
        return None if any(c.name.strip().casefold() == lone for c in self.codes) else last

    def resolve(self, path: tuple[str, ...]) -> tuple[str, str] | None:
        """(dimension, code id) of ``path``, or None when the codebook lacks it."""
        stage = self._stage(path)
        if stage is not None:
            return STAGE_DIMENSION, stage
        parent: str | None = None
        node = None
        for name in path:
            node = self._child(parent, name)
            if node is None:
                break
            parent = node.id
        if node is not None:
            return CODE_DIMENSION, node.id
        whole = {sep.join(path).casefold() for sep in (": ", "::", "\\")}
        flat = [c for c in self.codes if c.name.casefold() in whole]
        if len(path) == 1:
            flat = flat or [c for c in self.codes if c.id == slug(path[0])]
        return (CODE_DIMENSION, flat[0].id) if flat else None

    def add_path(self, path: tuple[str, ...]) -> str:
        """Add the missing codes of ``path`` under their parents; the leaf's id."""
        parent: str | None = None
        ids = {c.id for c in self.codes} | set(STAGES)
        for name in path:
            node = self._child(parent, name)
            if node is None:
                base = slug(name)
                cand = base if base not in ids else f"{parent}__{base}" if parent else base
                n = 2
                stem = cand
                while cand in ids:
                    cand, n = f"{stem}_{n}", n + 1
                node = Code(id=cand, name=name.strip(), parent=parent)
                self.codes.append(node)
                ids.add(cand)
                self.added.append(cand)
            parent = node.id
        assert parent is not None
        return parent


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


def _resolve_codes(rows: Sequence[ExcerptRow], resolver: CodeResolver, add_codes: bool,
                   name: str) -> dict[tuple[str, ...], tuple[str, str]]:
    """(dimension, code id) of every code path; unknown ones added or refused."""
    resolved: dict[tuple[str, ...], tuple[str, str]] = {}
    unknown: list[tuple[str, ...]] = []
    for p in dict.fromkeys(p for r in rows for p in r.codes):
        hit = resolver.resolve(p)
        if hit is None:
            unknown.append(p)
        else:
            resolved[p] = hit
    if unknown and not add_codes:
        shown = "; ".join(" > ".join(p) for p in unknown[:8])
        more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
        raise ProjectError(f"{name}: {len(unknown)} code(s) are not in the project's codebook "
                           f"({shown}{more}); add them to the codebook, or pass --add-codes "
                           "to add them under their parents.")
    for p in unknown:
        resolved[p] = (CODE_DIMENSION, resolver.add_path(p))
    return resolved


def _match_or_rebuild(rows: Sequence[ExcerptRow], project: Mapping[str, str], rebuild: bool,
                      name: str) -> tuple[dict[str, str], list[str]]:
    """Excerpt title → project document, and the documents to rebuild (or a refusal)."""
    titles = list(dict.fromkeys(r.document for r in rows))
    matched, missing = match_documents(titles, project)
    spelling: dict[str, str] = {}  # one rebuilt document for "A.docx", "a.DOCX" and "a"
    for m in missing:
        matched[m] = spelling.setdefault(_stem(m), m)
    missing = list(spelling.values())
    if missing and not rebuild:
        shown = ", ".join(f"'{m}'" for m in missing[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        raise ProjectError(
            f"{name}: {len(missing)} document(s) of the excerpts are not in the project "
            f"({shown}{more}); ingest them first (names are matched case-insensitively), or "
            f"pass --reconstruct-documents to build them from the excerpts."
            f"{_did_you_mean(missing, project)}"
        )
    return matched, missing


def _locate(rows: Sequence[ExcerptRow], matched: Mapping[str, str], texts: Mapping[str, str],
            coders: Mapping[int, str], resolved: Mapping[tuple[str, ...], tuple[str, str]],
            name: str, warnings: list[str]) -> list[Coding]:
    """One coding per (excerpt, code), its span found in the stored text; refuse if any
    excerpt's text is not there."""
    finders = {d: _Finder(texts[d]) for d in set(matched.values())}
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
            f"document (first: {first.label}, '{matched[first.document]}': "
            f"\"{_preview(first.text)}\"); check that the project holds the version of "
            "the document the tool coded, or ingest that version."
        )
    loose = sum(f.loose_hits for f in finders.values())
    if loose:
        warnings.append(f"{name}: {loose} excerpt(s) differ from the stored text in punctuation "
                        "only and were matched by their letters and digits.")
    return list(dict.fromkeys(codings))


def _annotate(store: Store, codings: Sequence[Coding], texts: Mapping[str, str],
              source: str) -> tuple[dict[str, int], int]:
    """Place all stored codings of the imported (document, coder) pairs on the segments and
    import the annotations they give; return how ``codings`` mapped and how many
    annotation sets changed. All the coder's spans count, not only this file's, so a
    second file does not wipe what a first one coded."""
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
    return {k: kinds.count(k) for k in ("exact", "overlap", "unmapped")}, changed


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
    if codebook is None:
        if not add_codes:
            raise ProjectError(f"{name}: the project has no codebook to resolve the excerpts' "
                               "codes against; load one with `isp-nlp codebook load FILE`, or "
                               "pass --add-codes to build it from the file's codes.")
        codebook = Codebook(name=path.stem, codes=(), stages=DEFAULT_STAGES)
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
        if resolver.added:
            store.save_codebook(Codebook(name=codebook.name, codes=tuple(resolver.codes),
                                         stages=codebook.stages), source=str(path))
        texts = store.transcript_texts()
        codings = _locate(rows, matched, texts, coders, resolved, name, warnings)
        store.add_coders([Coder(name=c) for c in sorted(set(coders.values()))])
        stats = store.add_codings(codings)
        counts, changed = _annotate(store, codings, texts, str(path))
    if counts["unmapped"]:
        warnings.append(f"{name}: {counts['unmapped']} coding(s) cover no segment well enough "
                        "(less than half of it) and give no annotation; they are kept as spans.")
    return ExcerptImportOutcome(
        file=str(path), tool=file.tool, excerpts=len(rows),
        documents_matched=tuple(sorted(set(matched.values()) - set(missing))),
        documents_reconstructed=tuple(missing), codings_added=stats["added"],
        codings_unchanged=stats["unchanged"], mapping=counts,
        codes_added=tuple(resolver.added), coders=tuple(sorted(set(coders.values()))),
        annotations_changed=changed, warnings=tuple(warnings),
    )
